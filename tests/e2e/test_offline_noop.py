"""Offline, the nightly window (ending today) lies after the snapshot's last day: the run succeeds,
says so, and leaves the warehouse, its published copy and the check history as they were."""

import hashlib
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.build import run_refresh
from orchestration.defs.ingest import assets as ingest
from orchestration.partitions import run_window
from orchestration.resources import MarketDataResource, UniverseResource, WarehouseResource
from warehouse import settings
from warehouse.sources import SnapshotSource

SNAPSHOT_END = SnapshotSource(settings.DEFAULT_SNAPSHOT_DIR).coverage()[1]


def test_nothing_to_load_only_after_a_replay_ends() -> None:
    coverage = (date(2023, 1, 2), date(2025, 6, 30))
    assert ingest.nothing_to_load((date(2025, 6, 26), date(2025, 7, 3)), coverage) is None
    assert ingest.nothing_to_load((date(2026, 11, 30), date(2026, 12, 4)), None) is None
    reason = ingest.nothing_to_load((date(2026, 11, 30), date(2026, 12, 4)), coverage)
    assert reason == (
        "Nothing new to load: the snapshot's last day is 2025-06-30, the run asks for "
        "2026-11-30..2026-12-04; the warehouse is left as it was."
    )


def test_run_window_reads_a_range_or_one_partition() -> None:
    assert run_window({}) is None
    assert run_window({"dagster/partition": "2025-01-27"}) == (date(2025, 1, 27),) * 2
    assert run_window(
        {
            "dagster/asset_partition_range_start": "2025-01-27",
            "dagster/asset_partition_range_end": "2025-01-31",
        }
    ) == (date(2025, 1, 27), date(2025, 1, 31))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def loaded_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse loaded by a window that straddles the snapshot's end: what exists is loaded."""
    path = tmp_path / "warehouse.duckdb"
    result = dg.materialize(
        [ingest.securities, ingest.daily_prices, ingest.fx_rates],
        resources={
            "warehouse": WarehouseResource(path=str(path)),
            "universe": UniverseResource(path=str(settings.DEFAULT_UNIVERSE_PATH)),
            "market_data": MarketDataResource(source="snapshot"),
        },
        tags={
            "dagster/asset_partition_range_start": "2025-06-26",
            "dagster/asset_partition_range_end": "2025-07-03",
        },
    )
    assert result.success
    with duckdb.connect(str(path), read_only=True) as connection:
        (last_day,) = connection.execute("select max(trade_date) from raw.daily_prices").fetchone()
    assert last_day == SNAPSHOT_END
    for variable, value in {
        settings.WAREHOUSE_PATH_ENV: str(path),
        settings.SOURCE_ENV: "snapshot",
        settings.PUBLISHED_PATH_ENV: str(tmp_path / "published.duckdb"),
        settings.REPORTS_DIR_ENV: str(tmp_path / "reports"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }.items():
        monkeypatch.setenv(variable, value)
    (tmp_path / "dagster_home").mkdir()
    return path


def test_a_window_after_the_snapshot_is_a_successful_no_op(
    loaded_warehouse: Path, tmp_path: Path
) -> None:
    published = tmp_path / "published.duckdb"
    published.write_bytes(b"the copy published by the last real build")
    before = {path: _digest(path) for path in (loaded_warehouse, published)}
    lines: list[str] = []

    result = run_refresh(date(2026, 11, 30), date(2026, 12, 4), progress=lines.append)

    assert result.success and result.failed_steps == ()
    assert {path: _digest(path) for path in before} == before
    assert not (tmp_path / "reports").exists()
    with dg.DagsterInstance.get() as instance:
        records = instance.all_logs(result.run_id)
    events = [record.dagster_event for record in records if record.dagster_event is not None]
    started = {event.step_key for event in events if event.event_type_value == "STEP_START"}
    skipped = {event.step_key for event in events if event.event_type_value == "STEP_SKIPPED"}
    assert started == {"raw__securities"}
    downstream = {"daily_prices", "raw__exchange_sessions", "dbt_models", "published_warehouse"}
    assert downstream <= skipped
    assert not [event for event in events if event.is_step_materialization]
    assert not [event for event in events if event.event_type_value == "ASSET_CHECK_EVALUATION"]
    messages = [record.user_message for record in records]
    assert sum("Nothing new to load" in message for message in messages) == 1
    assert f"the snapshot's last day is {SNAPSHOT_END}" in "\n".join(messages)
    assert "  skipped  dbt_models" in lines
    (note,) = [line for line in lines if line.startswith("  note")]
    assert note.startswith("  note     raw__securities: Nothing new to load")


def test_the_cli_run_is_recorded_as_a_run_of_the_code_location(loaded_warehouse: Path) -> None:
    """The UI finds a run's code location, job and re-execution target by its remote origin, and
    says "may be a different version" when the job snapshot differs from the location's."""
    from orchestration.definitions import defs

    result = run_refresh(date(2026, 11, 30), date(2026, 12, 4))

    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(result.run_id)
        # how the UI lists a code location's runs
        labelled = instance.get_run_ids(
            dg.RunsFilter(tags={".dagster/repository": "__repository__@market_warehouse"})
        )
    assert labelled == [result.run_id]
    assert run is not None and run.remote_job_origin is not None
    assert run.remote_job_origin.location_name == "market_warehouse"
    assert run.remote_job_origin.repository_origin.repository_name == "__repository__"
    assert run.remote_job_origin.job_name == "nightly_refresh"
    assert run.job_code_origin is not None
    nightly = defs().resolve_job_def("nightly_refresh")
    assert run.job_snapshot_id == nightly.get_job_snapshot_id()


def test_refresh_now_runs_tonights_window_as_a_nightly_run(loaded_warehouse: Path) -> None:
    """The one-click job: no partitions to pick; it starts a nightly_refresh run over the same
    trailing sessions as tonight's schedule (offline today, a no-op that succeeds)."""
    from orchestration.definitions import defs
    from orchestration.defs.schedules.nightly import LAUNCHED_BY_TAG, tonights_window

    job = defs().resolve_job_def("refresh_now")
    assert job.partitions_def is None
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance)
        assert result.success
        (nightly,) = instance.get_runs(dg.RunsFilter(job_name="nightly_refresh"))
    first_day, last_day = tonights_window(datetime.now(UTC))
    assert nightly.tags["dagster/asset_partition_range_start"] == first_day.isoformat()
    assert nightly.tags["dagster/asset_partition_range_end"] == last_day.isoformat()
    assert nightly.tags[LAUNCHED_BY_TAG] == result.run_id
    assert nightly.remote_job_origin is not None


SNAPSHOT_ID = """
from orchestration.definitions import defs
print(defs().resolve_job_def("nightly_refresh").get_job_snapshot_id())
"""


def test_the_job_snapshot_does_not_depend_on_the_environment(tmp_path: Path) -> None:
    """`make demo` (snapshot source) and `make up` (Yahoo, the default) see one job snapshot, so
    the UI does not call the demo's run "a different version"."""

    def snapshot_id(**env: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", SNAPSHOT_ID],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, **env},
        ).stdout.strip()

    assert snapshot_id(**{settings.SOURCE_ENV: "snapshot"}) == snapshot_id(
        **{settings.SOURCE_ENV: "yfinance", settings.WAREHOUSE_PATH_ENV: str(tmp_path / "w.duckdb")}
    )
