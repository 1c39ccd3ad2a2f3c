"""Set-based, idempotent writes of pandas frames into raw tables.

A frame is registered with DuckDB, validated against its table spec in bulk, compared with the
stored rows by key, and merged with one MERGE that touches only new rows and rows whose values
changed: re-loading identical data rewrites nothing, not even ``loaded_at``/``run_id``.
Every write runs in the caller's transaction and never commits."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from warehouse.quality.bar_rules import (
    SPIKE_NEIGHBOUR_DAYS,
    bar_problems,
    is_spike,
    spike_detail,
)
from warehouse.quality.rules import IntegrityRules, QuarantineReason
from warehouse.sql_quoting import ident
from warehouse.storage._sql import single_row
from warehouse.storage.errors import InvalidFrameError
from warehouse.storage.tables import TableSpec, table_spec


@dataclass(frozen=True)
class WriteStats:
    rows_inserted: int = 0
    rows_changed: int = 0
    rows_unchanged: int = 0
    rows_deleted: int = 0  # only tables written whole delete
    rows_rejected: int = 0  # bad corrections of good stored bars, not written (loads only)

    @property
    def rows_written(self) -> int:
        """Rows inserted or updated; the rows_unchanged were not rewritten."""
        return self.rows_inserted + self.rows_changed

    def __add__(self, other: WriteStats) -> WriteStats:
        return WriteStats(
            *(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self))
        )


def upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    *,
    run_id: str,
    source: str,
    loaded_at: datetime | None = None,
) -> WriteStats:
    """Inserts the frame's new rows and updates the stored rows whose values differ.

    ``frame`` has exactly the table's data columns. ``loaded_at`` is timezone-aware (default:
    now). Runs in the caller's transaction."""
    spec = data_table_spec(table)
    with incoming_frame(con, spec, frame) as incoming:
        return merge(con, spec, incoming, lineage(run_id, source, loaded_at))


def replace_reference_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    *,
    run_id: str,
    source: str,
    loaded_at: datetime | None = None,
) -> WriteStats:
    """Writes reference data that arrives whole: upserts the frame and, in a table written whole
    (``exchange_sessions``), deletes the rows the frame no longer has. ``securities`` keeps the
    rows of tickers dropped from the universe: the history stored for them still refers to them.
    Runs in the caller's transaction."""
    return write_table(con, table, frame, lineage(run_id, source, loaded_at))


def write_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    row_lineage: Mapping[str, object],
) -> WriteStats:
    """Upserts a frame, deleting absent rows too where the table's spec says it is written whole."""
    spec = data_table_spec(table)
    with incoming_frame(con, spec, frame) as incoming:
        stats = merge(con, spec, incoming, row_lineage)
        if spec.written_whole:
            stats = dataclasses.replace(stats, rows_deleted=delete_absent(con, spec, incoming))
    return stats


def split_bad_corrections(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    spike_factor: float = IntegrityRules.spike_factor,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits a frame of bars into the rows to write and the bad corrections: rows re-delivering a
    stored good bar with values the quarantine would keep out of the marts (``warehouse.quality.
    bar_rules``): impossible values, or a one-day spike ``spike_factor`` times off both its
    neighbours (the delivered ones where the frame has them) while the stored bar is not. A
    source's bad tick must not destroy the good value already stored: the bar would be
    quarantined and its day lost from the marts. A stored bar that is itself bad is replaced as
    any other. The rejected rows come with ``table_name, ticker, trade_date, reason, rejected,
    kept`` (the delivered and the stored values as JSON). Runs in the caller's transaction."""
    spec = data_table_spec(table)
    if not spec.keeps_good_bars or frame.empty:
        return frame, pd.DataFrame(columns=list(REJECTED_COLUMNS))
    date = ident(str(spec.date_column))
    same_bar = f"bad.ticker = s.ticker AND bad.trade_date = s.{date}"
    values = ", ".join(f"'{c}', {{alias}}.{ident(c)}" for c in spec.value_columns)
    days = SPIKE_NEIGHBOUR_DAYS
    # the price a spike is judged on, as the quarantine judges it (an FX quote has no adj_close)
    price = (
        "coalesce({bar}.adj_close, {bar}.close)"
        if "adj_close" in spec.column_names
        else "{bar}.close"
    )
    # the stored bars the delivered ones do not replace, within a spike's reach of them
    around = f"""(
        SELECT t.* FROM {spec.qualified_name} AS t
        WHERE t.ticker IN (SELECT ticker FROM incoming)
            AND t.{date} BETWEEN (SELECT min({date}) - {days} FROM incoming)
                AND (SELECT max({date}) + {days} FROM incoming)
            AND NOT EXISTS (SELECT 1 FROM incoming AS s WHERE {_same_key(spec)})
    )"""
    with incoming_frame(con, spec, frame) as incoming:
        rejected = con.execute(
            f"""
            WITH incoming AS ({incoming}),
            stored AS (
                SELECT t.* FROM {spec.qualified_name} AS t
                WHERE EXISTS (SELECT 1 FROM incoming AS s WHERE {_same_key(spec)})
            ),
            -- every bar once the load is written: the delivered values win
            priced AS (
                SELECT ticker, trade_date, price FROM (
                    SELECT ticker, trade_date, coalesce(adj_close, close) AS price
                    FROM {_as_bars(spec, "incoming", date)}
                    UNION ALL
                    SELECT ticker, trade_date, coalesce(adj_close, close)
                    FROM {_as_bars(spec, around, date)}
                ) WHERE price > 0
            ),
            corrections AS (
                SELECT s.ticker, s.{date} AS trade_date, {price.format(bar="s")} AS price,
                       {price.format(bar="t")} AS stored_price
                FROM incoming AS s JOIN stored AS t ON {_same_key(spec)}
                WHERE {price.format(bar="s")} > 0
            ),
            spikes AS (
                SELECT c.ticker, c.trade_date, '{QuarantineReason.SUSPECT_SPIKE}' AS reason,
                       {
                spike_detail(
                    "c.price",
                    "before.price",
                    "before.trade_date",
                    "after.price",
                    "after.trade_date",
                )
            } AS detail
                FROM corrections AS c
                ASOF JOIN priced AS before
                    ON before.ticker = c.ticker AND before.trade_date < c.trade_date
                ASOF JOIN priced AS after
                    ON after.ticker = c.ticker AND after.trade_date > c.trade_date
                WHERE c.trade_date - before.trade_date <= {days}
                    AND after.trade_date - c.trade_date <= {days}
                    AND {is_spike("c.price", "before.price", "after.price")}
                    AND NOT {is_spike("c.stored_price", "before.price", "after.price")}
                    AND NOT EXISTS (
                        SELECT 1 FROM raw.corporate_actions AS actions
                        WHERE actions.ticker = c.ticker AND actions.action_type = 'split'
                            AND actions.action_date IN (c.trade_date, after.trade_date)
                    )
            ),
            bad_incoming AS (
                SELECT ticker, trade_date,
                       string_agg(reason || ': ' || detail, '; ' ORDER BY reason) AS reason
                FROM (
                    SELECT ticker, trade_date, reason, detail
                    FROM ({bar_problems(_as_bars(spec, "incoming", date))})
                    UNION ALL
                    SELECT * FROM spikes
                )
                GROUP BY ALL
            ),
            bad_stored AS (
                SELECT DISTINCT ticker, trade_date
                FROM ({bar_problems(_as_bars(spec, "stored", date))})
            )
            SELECT '{spec.qualified_name}' AS table_name, s.ticker, s.{date} AS trade_date,
                   bad.reason, json_object({values.format(alias="s")})::VARCHAR AS rejected,
                   json_object({values.format(alias="t")})::VARCHAR AS kept
            FROM incoming AS s
            JOIN stored AS t ON {_same_key(spec)}
            JOIN bad_incoming AS bad ON {same_bar}
            WHERE NOT EXISTS (SELECT 1 FROM bad_stored AS bad WHERE {same_bar})
            ORDER BY ALL
        """,
            {"spike_factor": spike_factor},
        ).df()
    if rejected.empty:
        return frame, rejected
    date_values = pd.to_datetime(frame[str(spec.date_column)])
    delivered = pd.MultiIndex.from_arrays([frame["ticker"], date_values])
    refused = pd.MultiIndex.from_arrays(
        [rejected["ticker"], pd.to_datetime(rejected["trade_date"])]
    )
    return frame[~delivered.isin(refused)], rejected


# The columns of split_bad_corrections' rejected rows: raw.rejected_corrections without its
# load key.
REJECTED_COLUMNS = ("table_name", "ticker", "trade_date", "reason", "rejected", "kept")


def _as_bars(spec: TableSpec, relation: str, date: str) -> str:
    """A relation of ``spec``'s rows under the column names the bar rules read (an FX quote has
    no adj_close and no volume)."""
    optional = {"adj_close": "DOUBLE", "volume": "BIGINT"}
    extra = ", ".join(
        name if name in spec.column_names else f"NULL::{kind} AS {name}"
        for name, kind in optional.items()
    )
    return (
        f"(SELECT '{spec.qualified_name}' AS table_name, ticker, "
        f"{date} AS trade_date, open, high, low, close, {extra} "
        f"FROM {relation}) AS bars"
    )


def data_table_spec(table: str) -> TableSpec:
    spec = table_spec(table)
    if not spec.has_lineage:
        raise ValueError(f"{spec.qualified_name} is written by write_load only")
    return spec


def lineage(run_id: str, source: str, loaded_at: datetime | None) -> dict[str, object]:
    """The lineage column values a write stamps on the rows it inserts or changes."""
    moment = datetime.now(UTC) if loaded_at is None else loaded_at
    return {"source": source, "run_id": run_id, "loaded_at": utc_naive(moment, "loaded_at")}


def utc_naive(moment: datetime, name: str) -> datetime:
    """Timestamps are stored as UTC TIMESTAMPs; a naive datetime would be ambiguous, so it is
    refused rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive {moment!r}")
    return moment.astimezone(UTC).replace(tzinfo=None)


@contextmanager
def incoming_frame(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, frame: pd.DataFrame
) -> Iterator[str]:
    """Registers a frame, validates it and yields a SELECT of it cast to the table's types."""
    _check_frame_columns(spec, frame)
    view = f"_incoming_{spec.name}"
    con.register(view, frame)
    try:
        _check_frame_values(con, spec, view)
        casts = ", ".join(
            f"CAST({ident(c.name)} AS {c.type}) AS {ident(c.name)}" for c in spec.columns
        )
        incoming = f"SELECT {casts} FROM {view}"
        _check_unique_keys(con, spec, incoming)
        yield incoming
    finally:
        # A transaction aborted by an error refuses every statement. The caller's ROLLBACK drops
        # the view, and the next registration under this name replaces the frame reference.
        with suppress(duckdb.TransactionException):
            con.unregister(view)


def _check_frame_columns(spec: TableSpec, frame: pd.DataFrame) -> None:
    given = [str(name) for name in frame.columns]
    problems = {
        "missing": [name for name in spec.column_names if name not in given],
        "unexpected": [name for name in given if name not in spec.column_names],
        "repeated": sorted({name for name in given if given.count(name) > 1}),
    }
    if any(problems.values()):
        found = "; ".join(f"{kind} {names}" for kind, names in problems.items() if names)
        raise InvalidFrameError(
            f"frame for {spec.qualified_name} must have exactly the columns "
            f"{list(spec.column_names)}: {found}"
        )


def _check_frame_values(con: duckdb.DuckDBPyConnection, spec: TableSpec, view: str) -> None:
    """Finds, in one scan, null keys and values that do not convert to their column's type."""
    given_types = dict(
        con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {view})").fetchall()
    )
    problems = [
        f"{name}: timezone-aware timestamps, convert them to exchange-local dates first"
        for name in spec.column_names
        if spec.type_of(name) == "DATE" and "TIME ZONE" in given_types[name]
    ]
    aggregates = []
    for column in spec.columns:
        name = ident(column.name)
        bad = f"{name} IS NOT NULL AND TRY_CAST({name} AS {column.type}) IS NULL"
        if column.name in spec.key:
            bad = f"{name} IS NULL OR {bad}"
        aggregates += [
            f"count(*) FILTER (WHERE {bad})",
            f"any_value(CAST({name} AS VARCHAR)) FILTER (WHERE {bad})",
        ]
    row = single_row(con, f"SELECT {', '.join(aggregates)} FROM {view}")
    for column, count, example in zip(spec.columns, row[::2], row[1::2], strict=True):
        if count:
            what = "null or non-" if column.name in spec.key else "non-"
            problems.append(f"{column.name}: {count} {what}{column.type} values (e.g. {example!r})")
    if problems:
        raise InvalidFrameError(f"frame for {spec.qualified_name} has " + "; ".join(problems))


def _check_unique_keys(con: duckdb.DuckDBPyConnection, spec: TableSpec, incoming: str) -> None:
    key = ", ".join(map(ident, spec.key))
    duplicates = con.execute(
        f"SELECT {key}, count(*) AS copies, count(*) OVER () AS repeated_keys FROM ({incoming}) "
        f"GROUP BY ALL HAVING count(*) > 1 ORDER BY copies DESC, {key} LIMIT 5"
    ).fetchall()
    if duplicates:
        examples = ", ".join(f"{tuple(map(str, row[:-2]))} x{row[-2]}" for row in duplicates)
        raise InvalidFrameError(
            f"frame for {spec.qualified_name} has {duplicates[0][-1]} keys "
            f"({', '.join(spec.key)}) more than once, e.g. {examples}"
        )


def merge(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    incoming: str,
    row_lineage: Mapping[str, object],
) -> WriteStats:
    """Counts new, changed and identical rows, then writes only the new and changed ones."""
    matches = _same_key(spec)
    changed = (
        " OR ".join(f"s.{ident(c)} IS DISTINCT FROM t.{ident(c)}" for c in spec.value_columns)
        or "false"
    )
    unmatched = f"t.{ident(spec.key[0])} IS NULL"
    inserted, updated, received = single_row(
        con,
        f"SELECT count(*) FILTER (WHERE {unmatched}), "
        f"count(*) FILTER (WHERE NOT {unmatched} AND ({changed})), count(*) "
        f"FROM ({incoming}) AS s LEFT JOIN {spec.qualified_name} AS t ON {matches}",
    )
    if inserted or updated:
        targets = [*spec.column_names, *row_lineage]
        values = [*(f"s.{ident(c)}" for c in spec.column_names), *(f"${c}" for c in row_lineage)]
        assignments = [
            *(f"{ident(c)} = s.{ident(c)}" for c in spec.value_columns),
            *(f"{ident(c)} = ${c}" for c in row_lineage),
        ]
        when_changed = (
            f"WHEN MATCHED AND ({changed}) THEN UPDATE SET {', '.join(assignments)} "
            if spec.value_columns
            else ""
        )
        single_row(
            con,
            f"MERGE INTO {spec.qualified_name} AS t USING ({incoming}) AS s ON {matches} "
            f"{when_changed}WHEN NOT MATCHED THEN INSERT ({', '.join(map(ident, targets))}) "
            f"VALUES ({', '.join(values)})",
            row_lineage,
        )
    return WriteStats(inserted, updated, received - inserted - updated)


def delete_absent(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    incoming: str,
    scope: Mapping[str, object] | None = None,
) -> int:
    """Deletes the stored rows missing from ``incoming``; with a ``scope``, only among the rows
    whose scope columns hold its values."""
    scope = scope or {}
    in_scope = "".join(f"t.{ident(c)} = ${c} AND " for c in scope)
    (deleted,) = single_row(
        con,
        f"DELETE FROM {spec.qualified_name} AS t WHERE {in_scope}"
        f"NOT EXISTS (SELECT 1 FROM ({incoming}) AS s WHERE {_same_key(spec)})",
        scope,
    )
    return int(deleted)


def _same_key(spec: TableSpec) -> str:
    """Joins incoming rows ``s`` to stored rows ``t`` on the table's key."""
    return " AND ".join(f"s.{ident(k)} = t.{ident(k)}" for k in spec.key)
