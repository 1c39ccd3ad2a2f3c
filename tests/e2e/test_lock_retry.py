"""A warehouse held open by another process (a DuckDB CLI, a notebook) makes every ingestion step
wait and retry; once the other process lets go, the run succeeds. The holder is a real process
with a read-write connection; lock waits and backoff are shortened through the settings."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.ingest import assets as ingest
from orchestration.resources import MarketDataResource, UniverseResource, WarehouseResource
from orchestration.retries import STEP_RETRIES_ENV, STEP_RETRY_BASE_SECONDS_ENV
from warehouse import settings

REPO_ROOT = Path(__file__).resolve().parents[2]
RETRY_EVENT = "STEP_UP_FOR_RETRY"
HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])  # read-write: blocks every other process
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""
STEPS = {
    "securities": [ingest.securities],
    "exchange_sessions": [ingest.exchange_sessions],
    "daily_prices": [ingest.daily_prices],
    "fx_rates": [ingest.fx_rates],
    "company_facts": [ingest.fundamentals],
}


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STEP_RETRIES_ENV, "6")
    monkeypatch.setenv(STEP_RETRY_BASE_SECONDS_ENV, "0.2")


def _materialize(assets: list[dg.AssetsDefinition], path: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        resources={
            "warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=0.3),
            "universe": UniverseResource(path=str(settings.DEFAULT_UNIVERSE_PATH)),
            "market_data": MarketDataResource(source="snapshot"),
        },
        tags={
            "dagster/asset_partition_range_start": "2025-01-27",
            "dagster/asset_partition_range_end": "2025-01-31",
        },
        raise_on_error=False,
    )


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.parametrize("step", STEPS)
def test_a_step_waits_out_a_held_warehouse_and_succeeds(tmp_path: Path, step: str) -> None:
    path = tmp_path / "warehouse.duckdb"
    assert _materialize([ingest.securities], path).success  # the file exists, with its schema
    holder = _hold(path, seconds=1.5)
    try:
        result = _materialize(STEPS[step], path)
    finally:
        holder.wait(timeout=30)
    assert result.success
    retries = [event for event in result.all_events if event.event_type_value == RETRY_EVENT]
    assert retries, "the step should have met the lock at least once"
    causes = {retry.event_specific_data.error.cause.cls_name for retry in retries}
    assert causes == {"WarehouseLockedError"}


def test_a_lock_never_released_fails_naming_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STEP_RETRIES_ENV, "1")
    path = tmp_path / "warehouse.duckdb"
    assert _materialize([ingest.securities], path).success
    holder = _hold(path, seconds=30)
    try:
        result = _materialize([ingest.securities], path)
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    text = "\n".join(messages)
    assert f"(PID {holder.pid})" in text and "Close that session" in text
