"""The code location's shape (asset keys and groups, asset checks by asset, jobs, schedules with
their cron and default status, sensors) against a committed snapshot, so a refactor that drops or
renames a definition fails loudly, with the difference printed.

After an intended change, regenerate the snapshot and commit it with the change:

    UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/orchestration/test_definitions_snapshot.py
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
UPDATE_ENV = "UPDATE_SNAPSHOT"
UPDATE_COMMAND = (
    f"{UPDATE_ENV}=1 .venv/bin/python -m pytest tests/orchestration/test_definitions_snapshot.py"
)


def definitions_shape(definitions: dg.Definitions) -> dict[str, Any]:
    """What a refactor must keep, as plain JSON: names and the settings people rely on, not
    descriptions or metadata (those change with every wording fix)."""
    graph = definitions.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    schedules = {}
    for schedule in definitions.schedules or ():
        resolved = definitions.resolve_schedule_def(schedule.name)
        schedules[resolved.name] = {
            "cron": resolved.cron_schedule,
            "timezone": resolved.execution_timezone,
            "default_status": resolved.default_status.value,
            "job": resolved.job_name,
        }
    return {
        "assets": {
            key.to_user_string(): graph.get(key).group_name
            for key in sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string())
        },
        "checks": {asset: sorted(names) for asset, names in sorted(checks.items())},
        # Dagster's implicit asset jobs (__ASSET_JOB...) are not the project's
        "jobs": sorted(
            job.name for job in definitions.resolve_all_job_defs() if not job.name.startswith("__")
        ),
        "schedules": dict(sorted(schedules.items())),
        "sensors": sorted(sensor.name for sensor in definitions.sensors or ()),
    }


def shape_text(shape: dict[str, Any]) -> str:
    return json.dumps(shape, indent=2, sort_keys=True) + "\n"


def shape_diff(committed: str, current: str) -> str:
    """The snapshot's lines a change removed (-) and added (+)."""
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"{SNAPSHOT.name} (committed)",
            tofile="the definitions now",
            n=2,
        )
    )


def test_the_diff_names_what_changed() -> None:
    before = shape_text({"assets": {"raw/a": "ingest", "raw/b": "ingest"}})
    after = shape_text({"assets": {"raw/a": "ingest"}})
    diff = shape_diff(before, after)
    added = [line for line in diff.splitlines() if line.startswith("+ ")]
    assert '-    "raw/b": "ingest"' in diff.splitlines() and not any("raw/b" in a for a in added)


@pytest.fixture(scope="module")
def current_shape() -> str:
    from orchestration.definitions import defs

    return shape_text(definitions_shape(defs()))


def test_the_definitions_match_the_committed_snapshot(current_shape: str) -> None:
    if os.environ.get(UPDATE_ENV):
        SNAPSHOT.write_text(current_shape)
        return
    assert SNAPSHOT.exists(), f"no snapshot yet: write it with `{UPDATE_COMMAND}`"
    committed = SNAPSHOT.read_text()
    if committed != current_shape:
        pytest.fail(
            "The Dagster definitions differ from the committed snapshot (- lost, + new):\n"
            f"{shape_diff(committed, current_shape)}\n"
            f"If the change is intended, regenerate it with `{UPDATE_COMMAND}` and commit "
            f"tests/orchestration/{SNAPSHOT.name}.",
            pytrace=False,
        )
