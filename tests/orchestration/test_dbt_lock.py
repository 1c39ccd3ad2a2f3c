"""A dbt run while another process holds the warehouse waits for the lock, then fails (or retries)
with the project's message naming the holder, never with DuckDB's bare IO error."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.checks.resources import QualityRulesResource
from orchestration.retries import STEP_RETRIES_ENV

HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])  # a read-write session, as a DuckDB CLI keeps open
print("holding", flush=True)
time.sleep(120)
"""


def test_dbt_waits_for_a_held_warehouse_and_names_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.defs.dbt.assets import dbt_models
    from orchestration.defs.dbt.project import dbt_cli
    from orchestration.resources import WarehouseResource

    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.setenv(STEP_RETRIES_ENV, "0")  # fail after the wait instead of retrying
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
        started = time.monotonic()
        result = dg.materialize(
            [dbt_models],
            resources={
                "dbt": dbt_cli(),
                "quality_rules": QualityRulesResource(),
                "warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=2),
            },
            raise_on_error=False,
        )
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert f"(PID {holder.pid})" in message and "is locked by" in message
    assert "Close that session" in message
    assert waited >= 2  # it waited for the lock before giving up


def test_a_failing_dbt_build_names_the_failing_node_and_dbts_error(tmp_path: Path) -> None:
    """On a warehouse without the raw tables, nothing builds: the step's error says which node
    failed and why, not only that "the dbt CLI process ... failed"."""
    from orchestration.defs.dbt.assets import dbt_models
    from orchestration.defs.dbt.project import dbt_cli
    from orchestration.resources import WarehouseResource

    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    result = dg.materialize(
        [dbt_models],
        resources={
            "dbt": dbt_cli(),
            "quality_rules": QualityRulesResource(),
            "warehouse": WarehouseResource(path=str(path)),
        },
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = str(failure.step_failure_data.error)
    # the first failing node (a test of a raw source, built first) with dbt's own error
    assert "dbt build failed: test source_" in message
    assert 'Catalog Error: Table with name "raw.' in message and "does not exist" in message
    assert "Also failed: " in message and "more. Full log: " in message and "dbt.log" in message
