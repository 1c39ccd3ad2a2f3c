"""The nightly job run in the test's own process, for e2e tests that patch the source, and a
read-only query of the warehouse it wrote."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.build import NIGHTLY_JOB
from orchestration.definitions import defs
from orchestration.partitions import RunWindow


def nightly_run_in_process(first_day: date, last_day: date) -> dg.ExecuteInProcessResult:
    """The nightly job over the window, in this process, so the patched source is the one used."""
    return (
        defs()
        .resolve_job_def(NIGHTLY_JOB)
        .execute_in_process(tags=RunWindow(first_day, last_day).run_tags(), raise_on_error=False)
    )


def query(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql, params or []).df()
