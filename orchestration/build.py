"""Build or refresh the warehouse from the command line through Dagster's own job: the same assets,
checks and code path as the nightly schedule, recorded in the Dagster instance when DAGSTER_HOME
is set (so `make up` shows the run afterwards)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from warehouse import settings

NIGHTLY_JOB = "nightly_refresh"


@dataclass(frozen=True)
class BuildResult:
    run_id: str
    success: bool
    first_day: date
    last_day: date
    failed_steps: tuple[str, ...]


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def run_refresh(
    first_day: date,
    last_day: date,
    *,
    raise_on_error: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Runs the nightly job over [first_day, last_day] in this process, one run, one transaction
    per ingestion step. Settings (source, warehouse path) are read from the environment.

    With ``progress``, each step's start, success, retry or failure is passed to it as one line
    while the run goes on, and Dagster's own console log shows warnings and errors only."""
    if last_day < first_day:
        raise ValueError(f"the build window ends ({last_day}) before it starts ({first_day})")
    from orchestration.definitions import defs

    job = defs().resolve_job_def(NIGHTLY_JOB)
    run_config: dict[str, object] = {}
    if progress is not None:
        job, run_config = with_progress(job, progress)
    with _instance() as instance:
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: first_day.isoformat(),
                ASSET_PARTITION_RANGE_END_TAG: last_day.isoformat(),
            },
            raise_on_error=raise_on_error,
        )
    failed = tuple(
        event.step_key or "" for event in result.all_events if event.event_type_value == "STEP_FAILURE"
    )
    return BuildResult(result.run_id, result.success, first_day, last_day, failed)


PROGRESS_LOGGER = "progress"
CONSOLE_LOGGER = "console"


def with_progress(
    job: dg.JobDefinition, progress: Callable[[str], None], *, console_level: str = "WARNING"
) -> tuple[dg.JobDefinition, dict[str, object]]:
    """The job with a logger that reports step events to ``progress``, and the run config that
    turns it on (keeping Dagster's console logger for warnings and errors)."""
    loggers = {CONSOLE_LOGGER: dg.colored_console_logger, PROGRESS_LOGGER: progress_logger(progress)}
    run_config = {
        "loggers": {
            CONSOLE_LOGGER: {"config": {"log_level": console_level}},
            PROGRESS_LOGGER: {"config": {}},
        }
    }
    return job.with_logger_defs(loggers), run_config


def progress_logger(progress: Callable[[str], None]) -> dg.LoggerDefinition:
    @dg.logger(description="One line per step start, success, retry, skip or failure.")
    def _progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.Logger("market_warehouse.progress", level=logging.DEBUG)
        logger.addHandler(_ProgressHandler(progress))
        return logger

    return _progress_logger


class _ProgressHandler(logging.Handler):
    def __init__(self, progress: Callable[[str], None]) -> None:
        super().__init__(level=logging.DEBUG)
        self._progress = progress
        self._started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        if event is None or not event.step_key:
            return
        kind, step = event.event_type_value, event.step_key
        if kind in ("STEP_START", "STEP_RESTARTED"):
            self._started[step] = time.monotonic()
        started = self._started.get(step)
        elapsed = (time.monotonic() - started
                   if started is not None and kind not in ("STEP_START", "STEP_RESTARTED") else None)
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        while getattr(error, "cause", None) is not None:  # the user's exception, not Dagster's wrapper
            error = error.cause
        line = progress_line(kind, step, elapsed=elapsed, error=getattr(error, "message", None))
        if line is not None:
            self._progress(line)


_PROGRESS_WORDS = {
    "STEP_START": "start",
    "STEP_SUCCESS": "done",
    "STEP_FAILURE": "FAILED",
    "STEP_UP_FOR_RETRY": "retry",
    "STEP_RESTARTED": "restart",
    "STEP_SKIPPED": "skipped",
}


def progress_line(
    event_type: str, step_key: str, *, elapsed: float | None = None, error: str | None = None
) -> str | None:
    """``  done     dbt_models (12.3s)``: one step event as one line; None for other events."""
    word = _PROGRESS_WORDS.get(event_type)
    if word is None:
        return None
    line = f"  {word:<8} {step_key}"
    if elapsed is not None:
        line += f" ({elapsed:.1f}s)"
    if error and error.strip() and event_type in ("STEP_FAILURE", "STEP_UP_FOR_RETRY"):
        line += f": {error.strip().splitlines()[0]}"
    return line


def default_window(source: str) -> tuple[date, date]:
    """The whole history: from the configured start to the snapshot's last day, or to today online."""
    from orchestration.partitions import history_start

    first_day = date.fromisoformat(history_start())
    if source == "snapshot":
        from warehouse.sources.snapshot_source import SnapshotSource

        return first_day, SnapshotSource(settings.snapshot_dir()).coverage()[1]
    return first_day, date.today()
