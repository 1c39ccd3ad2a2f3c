"""`market-warehouse build`: refuse a build that would do harm, run the nightly job over the
window through ``orchestration.build.run_refresh`` (the one way a build runs, the same as the
schedule's), then print what readers now see."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, datetime
from pathlib import Path

from orchestration.cli.errors import EXIT_REFUSED, CliError, one_line
from warehouse import publish, settings


def run_build(args: argparse.Namespace) -> int:
    # Settings are environment variables read when the Dagster definitions load: set them first.
    os.environ[settings.SOURCE_ENV] = args.source
    if args.snapshot_dir:
        os.environ[settings.SNAPSHOT_DIR_ENV] = str(Path(args.snapshot_dir).resolve())
    if args.warehouse:
        os.environ[settings.WAREHOUSE_PATH_ENV] = str(Path(args.warehouse).resolve())
    if args.new_warehouse:
        # The publish step's shrink guard reads it: a new warehouse may hold less than the copy.
        os.environ[publish.REBUILD_ENV] = "1"
    else:
        refusal = publish.new_warehouse_refusal(
            settings.warehouse_path(), settings.published_path()
        )
        if refusal:
            raise CliError(f"refused: {refusal}.")
    # Dagster takes seconds to import, and its definitions read the settings set above.
    from orchestration.build import default_window, run_refresh
    from orchestration.partitions import HISTORY_START_ENV, history_start
    from warehouse.sources.base import SourceDataError
    from warehouse.summary import build_summary

    try:
        first_day, last_day = default_window(args.source)
    except SourceDataError as error:
        raise CliError(
            f"{one_line(str(error))}; fix or replace that file, or point --snapshot-dir "
            "at a complete snapshot."
        ) from error
    first_day, last_day = args.start or first_day, args.end or last_day
    problem = build_window_problem(
        first_day, last_day, date.fromisoformat(history_start()), HISTORY_START_ENV
    )
    if problem:
        raise CliError(problem, EXIT_REFUSED)
    print(
        f"Building {settings.warehouse_path()} from {args.source} for {first_day}..{last_day}",
        flush=True,
    )
    terminal = sys.stderr
    progress = None if args.quiet else (lambda line: print(line, file=terminal, flush=True))
    # dbt's and Dagster's own log lines (tracebacks included) go to a file: the terminal gets one
    # progress line per step, a failed step's with its error. --debug leaves Dagster's on stderr.
    log_path = (
        settings.warehouse_path().parent / "logs" / f"build-{datetime.now():%Y%m%d-%H%M%S}.log"
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        log_path.open("w") as log,
        redirect_stdout(log),
        redirect_stderr(terminal if args.debug else log),
    ):
        result = run_refresh(first_day, last_day, progress=progress)
    print(f"Build log (dbt output): {log_path}")
    if not result.success:
        print(
            f"Build failed in: {', '.join(result.failed_steps) or 'unknown step'} "
            f"(run {result.run_id}); the published copy was not changed; the error is in "
            f"{log_path}",
            file=sys.stderr,
        )
        return 1
    manifest = publish.read_manifest(settings.published_path()) or {}
    if manifest.get("run_id") != result.run_id:
        print(
            f"The run did not publish: readers still see {settings.published_path()} as it was",
            file=sys.stderr,
        )
        return 1
    print(build_summary(settings.published_path()))
    print(f"Published the read-only copy every reader opens: {settings.published_path()}")
    return 0


def build_window_problem(
    first_day: date, last_day: date, history_start: date, history_start_env: str
) -> str | None:
    """What is wrong with a build window, with the fix, or None."""
    if last_day < first_day:
        return f"--end {last_day} is before --start {first_day}; give an end on or after the start."
    if first_day < history_start:
        return (
            f"--start {first_day} is before the history start {history_start}; start on or "
            f"after it, or set {history_start_env}={first_day} to reach back further."
        )
    return None
