"""The one retry classification and policy every step uses (orchestration/retries.py)."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.retries import (
    STEP_RETRIES_ENV,
    STEP_RETRY_BASE_SECONDS_ENV,
    RetryPolicy,
    is_transient,
    project_error,
    retry_transient_errors,
)
from warehouse.sources.base import NoDataError, SourceDataError, SourceUnavailableError
from warehouse.storage.errors import WarehouseCorruptError, WarehouseLockedError

RAW_LOCK_MESSAGE = (
    'IO Error: Could not set lock on file "/data/warehouse.duckdb": Conflicting lock is held in '
    "/usr/bin/python3.11 (PID 4242). See also https://duckdb.org/docs/current/connect/concurrency"
)


class YFRateLimitError(Exception):
    """yfinance's rate-limit error, recognised by name without importing yfinance."""


def _raised_from(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        raise outer from cause
    except BaseException as error:  # noqa: BLE001 - returning what was raised
        return error


@pytest.mark.parametrize(
    "error",
    [
        SourceUnavailableError("yfinance download still failing after 6 attempts"),
        WarehouseLockedError(Path("w.duckdb"), pid=1, program="duckdb", waited=1.0),
        duckdb.IOException(RAW_LOCK_MESSAGE),
        YFRateLimitError("Too Many Requests"),
        TimeoutError("timed out"),
        ConnectionResetError("reset by peer"),
        _raised_from(RuntimeError("dbt failed"), duckdb.IOException(RAW_LOCK_MESSAGE)),
    ],
    ids=lambda error: type(error).__name__,
)
def test_transient_errors(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        SourceDataError("snapshot file prices.csv lacks column(s) ['close']"),
        NoDataError("no rows in the snapshot after 2025-06-30"),
        WarehouseCorruptError(Path("w.duckdb"), "not a valid DuckDB database file"),
        ValueError("bad config"),
        FileNotFoundError("universe.csv"),
        # the outermost classified link decides: an unparsable file is bad data, whatever OSError
        _raised_from(SourceDataError("cannot be parsed"), TimeoutError("read timed out")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_permanent_errors(error: BaseException) -> None:
    assert not is_transient(error)


def test_project_error_explains_duckdb_raw_lock_error() -> None:
    raw = duckdb.IOException(RAW_LOCK_MESSAGE)
    shown = project_error(_raised_from(RuntimeError("wrapper"), raw))
    assert isinstance(shown, WarehouseLockedError)
    assert (shown.pid, shown.program) == (4242, "/usr/bin/python3.11")
    assert shown.path == Path("/data/warehouse.duckdb")
    assert "PID 4242" in str(shown) and "Close that session" in str(shown)


def test_policy_backoff_doubles_with_jitter() -> None:
    policy = RetryPolicy(retries=3, base_seconds=60)
    assert [policy.delay(attempt, jitter=0.5) for attempt in range(3)] == [60, 120, 240]
    assert (policy.delay(0, jitter=0.0), policy.delay(0, jitter=1.0)) == (30, 90)


def test_policy_is_read_from_the_environment_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RetryPolicy.from_env() == RetryPolicy()
    monkeypatch.setenv(STEP_RETRIES_ENV, "1")
    monkeypatch.setenv(STEP_RETRY_BASE_SECONDS_ENV, "0.5")
    assert RetryPolicy.from_env() == RetryPolicy(retries=1, base_seconds=0.5)
    monkeypatch.setenv(STEP_RETRY_BASE_SECONDS_ENV, "soon")
    with pytest.raises(ValueError, match="MARKET_WAREHOUSE_STEP_RETRY_BASE_SECONDS='soon'"):
        RetryPolicy.from_env()


def _run_failing_asset(errors: list[BaseException]) -> tuple[dg.ExecuteInProcessResult, list[int]]:
    attempts: list[int] = []

    @dg.asset
    def flaky(context: dg.AssetExecutionContext) -> None:
        attempts.append(context.retry_number)
        with retry_transient_errors(context):
            if len(attempts) <= len(errors):
                raise errors[len(attempts) - 1]

    return dg.materialize([flaky], raise_on_error=False), attempts


def test_transient_errors_are_retried_until_the_step_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(STEP_RETRY_BASE_SECONDS_ENV, "0")
    result, attempts = _run_failing_asset(
        [SourceUnavailableError("429"), duckdb.IOException(RAW_LOCK_MESSAGE)]
    )
    assert result.success and attempts == [0, 1, 2]


def test_retries_give_up_with_the_project_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STEP_RETRY_BASE_SECONDS_ENV, "0")
    monkeypatch.setenv(STEP_RETRIES_ENV, "2")
    result, attempts = _run_failing_asset([duckdb.IOException(RAW_LOCK_MESSAGE)] * 5)
    assert not result.success and attempts == [0, 1, 2]
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error
    assert error.cause.cls_name == "WarehouseLockedError" and "PID 4242" in error.cause.message


def test_permanent_errors_fail_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STEP_RETRY_BASE_SECONDS_ENV, "0")
    result, attempts = _run_failing_asset([NoDataError("no data for 2099-01-02..2099-01-09")])
    assert not result.success and attempts == [0]


WAITING_RUN = """
import sys, dagster as dg
from dagster._utils.interrupts import setup_interrupt_handlers
from orchestration.retries import retry_transient_errors
from warehouse.sources.base import SourceUnavailableError

@dg.asset
def unreachable(context):
    with retry_transient_errors(context):
        print("failing", flush=True)
        raise SourceUnavailableError("Yahoo unreachable")

setup_interrupt_handlers()  # as Dagster's run worker does: SIGTERM handled like SIGINT
result = dg.materialize([unreachable], raise_on_error=False)
print("finished", result.success, flush=True)
"""


def test_termination_does_not_wait_out_the_retry_backoff(tmp_path: Path) -> None:
    """A real process in a 10-minute retry wait stops within seconds of SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-c", WAITING_RUN],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).parents[2],
        env={**_environment(), STEP_RETRY_BASE_SECONDS_ENV: "600"},
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "failing"
        process.terminate()
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert "finished False" in output
    assert "failing" not in output  # no second attempt after the interrupt


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
