"""The tables of schema ``quality``, declared once (DDL, column comments and Dagster column
metadata come from here), and the set-based writes that keep them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import duckdb

from warehouse.quality.sql import bind
from warehouse.storage import QUALITY_SCHEMA, Column
from warehouse.storage._sql import literal

# The bookkeeping every finding carries: when it was first and last found, and by which run.
_SEEN = (
    Column("run_id", "VARCHAR", "Dagster run that last found it"),
    Column("first_seen", "TIMESTAMP", "UTC time it was first found; kept across runs"),
    Column("last_seen", "TIMESTAMP", "UTC time it was last found; older than the latest run "
           "means the data no longer shows it"),
)


@dataclass(frozen=True)
class QualityTable:
    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]  # key and value columns, bookkeeping included

    @property
    def qualified_name(self) -> str:
        return f"{QUALITY_SCHEMA}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


QUARANTINED_PRICES = QualityTable(
    "quarantined_prices",
    "Raw bars kept out of the marts because their values are impossible, or a one-day spike no "
    "market makes, one row per bar and "
    "reason. Recomputed by every refresh for the dates it loaded (a run that loaded no prices: "
    "every date): a bar the source corrected is released (its row deleted) and reaches the "
    "marts again; rows of other dates are kept. dbt staging excludes every bar listed here.",
    key=("table_name", "ticker", "trade_date", "reason"),
    columns=(
        Column("table_name", "VARCHAR", "Raw table of the bar: raw.daily_prices or raw.fx_rates"),
        Column("ticker", "VARCHAR", "Ticker of the bar, as stored in the raw table"),
        Column("trade_date", "DATE", "Trading date of the bar (rate_date for raw.fx_rates)"),
        Column("reason", "VARCHAR", "missing_close, non_positive_price, high_below_low, "
               "open_outside_range, close_outside_range, negative_volume, duplicate_key or "
               "suspect_spike (spike_factor times off both neighbouring bars)"),
        Column("detail", "VARCHAR", "The offending values"),
        *_SEEN,
    ),
)

PRICE_ANOMALIES = QualityTable(
    "price_anomalies",
    "Every flag of the price checks, with its classification, kept across runs: one row per "
    "ticker, date and check, first_seen from the first run that found it, last_seen and run_id "
    "from the latest. Every run flags the dates it loaded (a run that loaded no prices: every "
    "date); a large move's classification is refreshed by the run that loads its next session "
    "(which can turn a move into a spike).",
    key=("ticker", "trade_date", "check_name"),
    columns=(
        Column("ticker", "VARCHAR", "Ticker flagged"),
        Column("trade_date", "DATE", "Date flagged: the day of a move or of a missing session, "
               "the first day of a stale run, the date of an FX bar"),
        Column("check_name", "VARCHAR", "large_drop, large_rise, corporate_action_move, "
               "stale_close, missing_session or fx_range_quirk"),
        Column("classification", "VARCHAR", "market_event, corporate_action, suspect_data or "
               "idiosyncratic for moves; suspect_data (stale_close), missing_data "
               "(missing_session), source_quirk (fx_range_quirk)"),
        Column("daily_return", "DOUBLE", "The move flagged (adjusted simple return; the raw close "
               "return when only the raw close moved); null for the other checks"),
        Column("reason", "VARCHAR", "The evidence behind the classification"),
        *_SEEN,
    ),
)

DETECTED_MARKET_EVENTS = QualityTable(
    "detected_market_events",
    "Market shocks the warehouse found by itself: the days with large moves classified "
    "market_event, aggregated over the whole market and over each sector. Every run recomputes "
    "the days it loaded (a run that loaded no prices: every day) from its flags.",
    key=("event_date", "scope", "direction"),
    columns=(
        Column("event_date", "DATE", "Trading date of the shock"),
        Column("scope", "VARCHAR", "'market' (every equity and ETF) or a sector name"),
        Column("direction", "VARCHAR", "drop or rise"),
        Column("securities_flagged", "BIGINT", "Securities in scope with a large move classified "
               "market_event"),
        Column("securities_moving", "BIGINT", "Securities in scope that moved the same way by at "
               "least the peer share of the threshold (5% by default), flagged ones included"),
        Column("securities_in_scope", "BIGINT", "Securities in scope with a return that day"),
        Column("breadth", "DOUBLE", "securities_moving / securities_in_scope"),
        Column("average_return", "DOUBLE", "Mean adjusted return of the moving securities"),
        Column("value_change_usd", "DOUBLE", "Total market value change in USD of the moving "
               "securities whose value is known"),
        Column("tickers_moving", "VARCHAR", "The moving securities with their returns, largest "
               "move first"),
        Column("run_id", "VARCHAR", "Dagster run that detected it"),
    ),
)

QUALITY_TABLES = (QUARANTINED_PRICES, PRICE_ANOMALIES, DETECTED_MARKET_EVENTS)


@dataclass(frozen=True)
class RecordStats:
    found: int  # findings of this run
    new: int  # of which no earlier run had found
    released: int  # earlier findings this run no longer found, deleted (quarantine only)


def ensure_quality_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Creates the quality tables that do not exist yet, with their comments."""
    con.execute(f"create schema if not exists {QUALITY_SCHEMA}")
    existing = {row[0] for row in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() "
        "and schema_name = ?", [QUALITY_SCHEMA]).fetchall()}
    for table in QUALITY_TABLES:
        if table.name in existing:
            continue
        columns = ", ".join(f"{column.name} {column.type}" for column in table.columns)
        con.execute(f"create table {table.qualified_name} ({columns}, "
                    f"primary key ({', '.join(table.key)}))")
        con.execute(f"comment on table {table.qualified_name} is {literal(table.description)}")
        for column in table.columns:
            con.execute(f"comment on column {table.qualified_name}.{column.name} is "
                        f"{literal(column.description)}")


def record_findings(
    con: duckdb.DuckDBPyConnection,
    table: QualityTable,
    findings_sql: str,
    parameters: Mapping[str, object],
    *,
    run_id: str,
    now: datetime,
    release_absent: bool,
    scope: str = "true",
) -> RecordStats:
    """Merges a run's findings (a SELECT of the table's columns, bookkeeping excluded) into the
    table: new ones are inserted, known ones keep first_seen and get this run's values. With
    ``release_absent``, findings this run did not repeat are deleted, among the stored rows the
    run examined: ``scope``, a condition on the table's columns (e.g. ``trade_date >= $since``;
    the default, every row). In the caller's transaction."""
    finding_columns = [name for name in table.column_names if name not in _seen_names()]
    value_columns = [name for name in finding_columns if name not in table.key]
    same_key = " and ".join(f"stored.{name} = found.{name}" for name in table.key)
    con.execute(f"create or replace temp table _findings as {findings_sql}",
                bind(findings_sql, parameters))
    try:
        (found, new), = con.execute(
            f"select count(*), count(*) filter (where not exists ("
            f"select 1 from {table.qualified_name} as stored where {same_key})) "
            f"from _findings as found").fetchall()
        released = 0
        if release_absent:
            release_sql = (f"delete from {table.qualified_name} as stored where ({scope}) "
                           f"and not exists (select 1 from _findings as found where {same_key})")
            (released,), = con.execute(release_sql, bind(release_sql, parameters)).fetchall()
        updates = ", ".join(f"{name} = found.{name}" for name in value_columns)
        con.execute(
            f"merge into {table.qualified_name} as stored using _findings as found on {same_key} "
            f"when matched then update set {updates}, run_id = $run_id, last_seen = $now "
            f"when not matched then insert ({', '.join(finding_columns)}, run_id, first_seen, "
            f"last_seen) values ({', '.join(f'found.{name}' for name in finding_columns)}, "
            f"$run_id, $now, $now)",
            {"run_id": run_id, "now": now},
        ).fetchall()
    finally:
        con.execute("drop table if exists _findings")
    return RecordStats(found=int(found), new=int(new), released=int(released))


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: QualityTable,
    rows_sql: str,
    parameters: Mapping[str, object],
    scope: str = "true",
) -> int:
    """Replaces the rows of a derived table that match ``scope`` (a condition on its columns, e.g.
    ``event_date >= $since``; the default, every row) with a SELECT of its columns. In the
    caller's transaction."""
    delete_sql = f"delete from {table.qualified_name} where {scope}"
    con.execute(delete_sql, bind(delete_sql, parameters))
    (inserted,), = con.execute(
        f"insert into {table.qualified_name} ({', '.join(table.column_names)}) {rows_sql}",
        bind(rows_sql, parameters),
    ).fetchall()
    return int(inserted)


def _seen_names() -> set[str]:
    return {column.name for column in _SEEN}
