"""A load written as one transaction: its tables, its ``load_log`` row and its ``load_failures``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple, Protocol

import duckdb
import pandas as pd

from warehouse.quality.rules import IntegrityRules
from warehouse.storage.connection import connect
from warehouse.storage.schema import ensure_schema
from warehouse.storage.tables import RAW_TABLES, table_spec
from warehouse.storage.writes import (
    REJECTED_COLUMNS,
    WriteStats,
    delete_absent,
    incoming_frame,
    lineage,
    merge,
    split_bad_corrections,
    utc_naive,
    write_table,
)


class _HasTickerAndReason(Protocol):
    @property
    def ticker(self) -> str: ...

    @property
    def reason(self) -> str: ...


class LoggedFailure(NamedTuple):
    ticker: str
    reason: str


@dataclass(frozen=True)
class LoadReport:
    run_id: str
    asset_key: str
    partition_start: date
    partition_end: date
    tables: Mapping[str, WriteStats]  # by table name without schema, e.g. "daily_prices"
    tickers_requested: int
    tickers_loaded: int  # distinct tickers in the written frames, unchanged rows included
    failures: tuple[LoggedFailure, ...]  # one per distinct ticker

    @property
    def totals(self) -> WriteStats:
        return sum(self.tables.values(), WriteStats())

    @property
    def tickers_failed(self) -> int:
        return len(self.failures)


def write_load(
    target: Path | str | duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    asset_key: str,
    source: str,
    partition_start: date,
    partition_end: date,
    tables: Mapping[str, pd.DataFrame],
    failures: Sequence[_HasTickerAndReason | tuple[str, str]],
    tickers_requested: int,
    started_at: datetime,
    spike_factor: float = IntegrityRules.spike_factor,
) -> LoadReport:
    """Writes one load in ONE transaction: its tables (upserted; tables written whole are
    replaced), its ``load_log`` row, its ``load_failures`` and its ``rejected_corrections`` (bars
    re-delivered with values that fail the integrity rules over a stored bar that passes them:
    the stored bar is kept; ``spike_factor`` is the quarantine's rule for a one-day spike). On any
    error the transaction is rolled back, leaving the warehouse as it was, and the error
    propagates.

    ``target`` is a warehouse path (opened and closed here) or a connection with no transaction
    open. Writing the same load again (same run, asset and partition start) replaces its log row
    and its failures."""
    row_lineage = lineage(run_id, source, loaded_at=datetime.now(UTC))
    with _connection(target) as con, transaction(con):
        ensure_schema(con)
        stats: dict[str, WriteStats] = {}
        rejected: list[pd.DataFrame] = []
        for table, frame in tables.items():
            kept, refused = split_bad_corrections(con, table, frame, spike_factor)
            written = write_table(con, table, kept, row_lineage)
            stats[table_spec(table).name] = dataclasses.replace(written, rows_rejected=len(refused))
            rejected.append(refused)
        report = LoadReport(
            run_id=run_id,
            asset_key=asset_key,
            partition_start=partition_start,
            partition_end=partition_end,
            tables=MappingProxyType(stats),
            tickers_requested=tickers_requested,
            tickers_loaded=_distinct_tickers(tables.values()),
            failures=_one_failure_per_ticker(failures),
        )
        _log_load(con, report, rejected, source=source, started_at=started_at)
    return report


@contextmanager
def _connection(
    target: Path | str | duckdb.DuckDBPyConnection,
) -> Iterator[duckdb.DuckDBPyConnection]:
    if isinstance(target, duckdb.DuckDBPyConnection):
        yield target
    else:
        with closing(connect(Path(target))) as con:
            yield con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything written inside changes together or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _one_failure_per_ticker(
    failures: Sequence[_HasTickerAndReason | tuple[str, str]],
) -> tuple[LoggedFailure, ...]:
    """Keeps the order of first appearance; a ticker that failed twice gets both reasons."""
    reasons: dict[str, list[str]] = {}
    for failure in failures:
        ticker, reason = failure if isinstance(failure, tuple) else (failure.ticker, failure.reason)
        reasons.setdefault(str(ticker), []).append(str(reason))
    return tuple(
        LoggedFailure(ticker, "; ".join(dict.fromkeys(texts))) for ticker, texts in reasons.items()
    )


def _distinct_tickers(frames: Iterable[pd.DataFrame]) -> int:
    tickers: set[str] = set()
    for frame in frames:
        if "ticker" in frame.columns:
            tickers.update(frame["ticker"].dropna().unique())
    return len(tickers)


def _log_load(
    con: duckdb.DuckDBPyConnection,
    report: LoadReport,
    rejected: Sequence[pd.DataFrame],
    *,
    source: str,
    started_at: datetime,
) -> None:
    load_key = {
        "run_id": report.run_id,
        "asset_key": report.asset_key,
        "partition_start": report.partition_start,
    }
    finished_at = utc_naive(datetime.now(UTC), "finished_at")
    totals = report.totals
    log_row = {
        **load_key,
        "source": source,
        "partition_end": report.partition_end,
        "started_at": utc_naive(started_at, "started_at"),
        "finished_at": finished_at,
        "tickers_requested": report.tickers_requested,
        "tickers_loaded": report.tickers_loaded,
        "tickers_failed": report.tickers_failed,
        "failures": json.dumps([failure._asdict() for failure in report.failures]),
        "rows_written": totals.rows_written,
        "rows_inserted": totals.rows_inserted,
        "rows_changed": totals.rows_changed,
        "rows_unchanged": totals.rows_unchanged,
        "rows_rejected": totals.rows_rejected,
    }
    log_spec, failures_spec = RAW_TABLES["load_log"], RAW_TABLES["load_failures"]
    failure_rows = pd.DataFrame(
        [
            {**load_key, **failure._asdict(), "logged_at": finished_at}
            for failure in report.failures
        ],
        columns=list(failures_spec.column_names),
    )
    with incoming_frame(con, log_spec, pd.DataFrame([log_row])) as incoming:
        merge(con, log_spec, incoming, row_lineage={})
    rejected_spec = RAW_TABLES["rejected_corrections"]
    found = [frame for frame in rejected if not frame.empty]
    rejected_rows = (
        pd.concat(found, ignore_index=True)
        if found
        else pd.DataFrame(columns=list(REJECTED_COLUMNS))
    )
    rejected_rows = rejected_rows.assign(**load_key, logged_at=finished_at)[
        list(rejected_spec.column_names)
    ]
    # writing the same load again replaces its failures and its rejected corrections
    for spec, rows in ((failures_spec, failure_rows), (rejected_spec, rejected_rows)):
        with incoming_frame(con, spec, rows) as incoming:
            merge(con, spec, incoming, row_lineage={})
            delete_absent(con, spec, incoming, scope=load_key)
