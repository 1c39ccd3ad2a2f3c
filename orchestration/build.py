"""Build or refresh the warehouse from the command line through Dagster's own job: the same assets,
checks and code path as the nightly schedule, recorded in the Dagster instance when DAGSTER_HOME
is set (so `make up` shows the run afterwards)."""

from __future__ import annotations

import logging
import os
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.definitions.repository_definition.valid_definitions import (
    SINGLETON_REPOSITORY_NAME,
)
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.error import SerializableErrorInfo

from orchestration.partitions import RunWindow, history_start
from warehouse import settings
from warehouse.storage.connection import build_lock

log = logging.getLogger(__name__)
NIGHTLY_JOB = "nightly_refresh"
# The attribute of the code location's module holding its definitions (orchestration/definitions.py)
DEFINITIONS_ATTRIBUTE = "defs"


@dataclass(frozen=True)
class BuildResult:
    run_id: str
    success: bool
    first_day: date
    last_day: date
    failed_steps: tuple[str, ...]


@contextmanager
def _instance(given: dg.DagsterInstance | None) -> Iterator[dg.DagsterInstance]:
    """The given instance (left open), else DAGSTER_HOME's, else an ephemeral one."""
    if given is not None:
        yield given
        return
    with (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    ) as instance:
        yield instance


def run_refresh(
    first_day: date,
    last_day: date,
    *,
    raise_on_error: bool = False,
    progress: Callable[[str], None] | None = None,
    instance: dg.DagsterInstance | None = None,
    tags: Mapping[str, str] | None = None,
) -> BuildResult:
    """Runs the nightly job over [first_day, last_day] in this process, one run, one transaction
    per ingestion step. Settings (source, warehouse path) are read from the environment.

    The run is recorded as a run of the code location's own job (see code_location_origin), so
    the UI lists, times and re-executes it like a run it launched. It holds the warehouse's build
    lock: a second build, from the CLI or from Dagster, waits for this one.

    ``instance`` records the run (default: DAGSTER_HOME's, else an ephemeral one); ``tags`` are
    added to the run's. With ``progress``, each step's start, success, retry or failure is passed
    to it as one line while the run goes on, and Dagster's console log shows warnings and errors
    only."""
    if last_day < first_day:
        raise ValueError(f"the build window ends ({last_day}) before it starts ({first_day})")
    from dagster._core.execution.api import create_execution_plan, execute_run
    from dagster._core.utils import make_new_run_id

    from orchestration.resources import BUILD_LOCK_TIMEOUT_ENV, seconds_setting

    job, remote_origin = nightly_job_with_origin()
    run_config = progress_run_config() if progress is not None else {}
    tags = {**(tags or {}), **RunWindow(first_day, last_day).run_tags()}
    run_id = make_new_run_id()
    with (
        build_lock(
            settings.warehouse_path(),
            holder=f"market-warehouse build run {run_id}",
            timeout_seconds=seconds_setting(BUILD_LOCK_TIMEOUT_ENV, 3600.0),
            waiting=progress or log.warning,
        ),
        _instance(instance) as instance,
        _progress_to(progress),
    ):
        job_def = job.get_definition()
        run = instance.create_run_for_job(
            job_def=job_def,
            execution_plan=create_execution_plan(
                job,
                run_config=run_config,
                instance_ref=instance.get_ref() if instance.is_persistent else None,
            ),
            run_id=run_id,
            run_config=run_config,
            tags={**job_def.run_tags, **tags},
            remote_job_origin=remote_origin,
            job_code_origin=job.get_python_origin(),
        )
        result = execute_run(job, run, instance, raise_on_error=raise_on_error)
    failed = tuple(
        event.step_key or ""
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    )
    return BuildResult(result.run_id, result.success, first_day, last_day, failed)


def code_location() -> tuple[str, str]:
    """The code location's name and module, as pyproject.toml's [tool.dagster] gives them to
    `dg dev` / `dagster dev`."""
    with (settings.REPO_ROOT / "pyproject.toml").open("rb") as handle:
        tool = tomllib.load(handle)["tool"]["dagster"]
    return tool["code_location_name"], tool["module_name"]


def nightly_job_with_origin() -> tuple[ReconstructableJob, RemoteJobOrigin]:
    """The nightly job loaded from the code location's module (not a copy altered for this
    process: the run's snapshot then matches the UI's), and the origin a run of it launched from
    the UI records. The UI finds a run's code location, job and re-execution target by that
    origin; execute_in_process records none."""
    location_name, module_name = code_location()
    working_directory = str(settings.REPO_ROOT)
    repository = ReconstructableRepository.for_module(
        module_name, DEFINITIONS_ATTRIBUTE, working_directory=working_directory
    )
    code_location_origin = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=module_name,
            working_directory=working_directory,
        ),
        location_name=location_name,
    )
    remote_origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(code_location_origin, SINGLETON_REPOSITORY_NAME),
        job_name=NIGHTLY_JOB,
    )
    return repository.get_reconstructable_job(NIGHTLY_JOB), remote_origin


PROGRESS_LOGGER = "progress"
CONSOLE_LOGGER = "console"
# A step's log message worth a progress line of its own (e.g. that the run has nothing to load):
# ``context.log.warning(message, extra=PROGRESS_NOTICE)``.
NOTICE_ATTRIBUTE = "market_warehouse_notice"
PROGRESS_NOTICE = {NOTICE_ATTRIBUTE: True}


def with_progress(
    job: dg.JobDefinition, progress: Callable[[str], None], *, console_level: str = "WARNING"
) -> tuple[dg.JobDefinition, dict[str, object]]:
    """The job with a logger that reports step events to ``progress``, and the run config that
    turns it on (keeping Dagster's console logger for warnings and errors)."""
    loggers = {
        CONSOLE_LOGGER: dg.colored_console_logger,
        PROGRESS_LOGGER: progress_logger(progress),
    }
    return job.with_logger_defs(loggers), progress_run_config(console_level)


def progress_run_config(console_level: str = "WARNING") -> dict[str, object]:
    """Run config turning on the progress logger, and the console logger for warnings only."""
    return {
        "loggers": {
            CONSOLE_LOGGER: {"config": {"log_level": console_level}},
            PROGRESS_LOGGER: {"config": {}},
        }
    }


# Where the nightly job's own progress logger sends its lines during run_refresh; a run launched
# from the UI does not configure that logger, so nothing is sent.
_progress_sink: Callable[[str], None] | None = None


@contextmanager
def _progress_to(progress: Callable[[str], None] | None) -> Iterator[None]:
    global _progress_sink
    previous, _progress_sink = _progress_sink, progress
    try:
        yield
    finally:
        _progress_sink = previous


def _to_progress_sink(line: str) -> None:
    if _progress_sink is not None:
        _progress_sink(line)


def job_loggers() -> dict[str, dg.LoggerDefinition]:
    """The code location's loggers: Dagster's console logger, and the progress logger that
    run_refresh turns on (a run launched from the UI leaves it off)."""
    return {
        CONSOLE_LOGGER: dg.colored_console_logger,
        PROGRESS_LOGGER: progress_logger(_to_progress_sink),
    }


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
        meta = getattr(record, "dagster_meta", None) or {}
        if getattr(record, NOTICE_ATTRIBUTE, False):
            self._progress(f"  note     {meta.get('step_key') or ''}: {meta.get('orig_message')}")
            return
        event = meta.get("dagster_event")
        if event is None or not event.step_key:
            return
        kind, step = event.event_type_value, event.step_key
        if kind in ("STEP_START", "STEP_RESTARTED"):
            self._started[step] = time.monotonic()
        started = self._started.get(step)
        restarting = kind in ("STEP_START", "STEP_RESTARTED")
        elapsed = time.monotonic() - started if started is not None and not restarting else None
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        line = progress_line(kind, step, elapsed=elapsed, error=shown_error(error))
        if line is not None:
            self._progress(line)


# Errors whose message says what went wrong and what to do: the project's own exceptions.
_PROJECT_MODULES = ("warehouse.", "orchestration.")


def project_error_names() -> frozenset[str]:
    """Class names of every exception defined in this project (including those of modules
    imported later, e.g. publishing), found by walking Exception's subclasses."""
    names: set[str] = set()
    pending: list[type] = [Exception]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.startswith(_PROJECT_MODULES):
                names.add(subclass.__name__)
    return frozenset(names)


def shown_error(error: SerializableErrorInfo | None) -> str | None:
    """The message a person should read for a failed step: the outermost project error in the
    chain (its message names the problem and the fix), not DuckDB's or Dagster's wording around
    it; without one, the innermost cause (the user code's exception, not Dagster's wrapper)."""
    if error is None:
        return None
    names = project_error_names()
    chain: list[SerializableErrorInfo] = []
    link: SerializableErrorInfo | None = error
    while link is not None and len(chain) < 50:
        chain.append(link)
        link = link.cause or link.context
    for link in chain:
        if link.cls_name in names:
            return link.message
    innermost = error
    while innermost.cause is not None:
        innermost = innermost.cause
    return innermost.message


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


def default_window(source: str) -> RunWindow:
    """The whole history: from the configured start to the snapshot's last day, or to today
    online."""
    first_day = date.fromisoformat(history_start())
    if source == "snapshot":
        from warehouse.sources.snapshot_source import SnapshotSource

        return RunWindow(first_day, SnapshotSource(settings.snapshot_dir()).coverage()[1])
    return RunWindow(first_day, date.today())
