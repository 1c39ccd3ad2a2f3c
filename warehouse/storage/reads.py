"""Questions asked of a warehouse file, the warehouse itself or its published copy: the load log,
row counts, date coverage.

Every read of ``raw.load_log`` outside the quality rules is here. They work on a warehouse whose
schema is not created yet, so read-only callers need not care."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import duckdb

from warehouse.sql_quoting import ident, literal
from warehouse.storage._sql import single_row
from warehouse.storage.schema import stored_columns
from warehouse.storage.tables import RAW_TABLES, table_spec

# The schemas a reader is shown (`market-warehouse status`, the build summary).
OVERVIEW_SCHEMAS = ("raw", "marts", "quality")
# The column that dates a table's rows in an overview, by preference; else its first DATE column.
DATE_COLUMNS = (
    "trade_date",
    "session_date",
    "rate_date",
    "event_date",
    "action_date",
    "as_of_date",
    "period_end",
    "date",
    "partition_start",
)
_LOAD_LOG = RAW_TABLES["load_log"].qualified_name


def latest_load(con: duckdb.DuckDBPyConnection, asset_key: str) -> dict[str, Any] | None:
    """The load_log row the asset wrote last (``failures`` parsed), or None."""
    if "load_log" not in stored_columns(con):
        return None
    cursor = con.execute(
        f"SELECT * FROM {_LOAD_LOG} WHERE asset_key = ? "
        "ORDER BY finished_at DESC, partition_start DESC LIMIT 1",
        [asset_key],
    )
    rows = cursor.fetchall()
    if not rows:
        return None
    load = dict(zip([column[0] for column in cursor.description], rows[0], strict=True))
    load["failures"] = json.loads(load["failures"])
    return load


def latest_run_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The last run recorded in raw.load_log: its window, steps, tickers and rows; None when the
    table is absent or empty, or lacks a column this summary reads."""
    if "load_log" not in stored_columns(con):
        return None
    try:
        row = con.execute(
            f"""
            WITH last_run AS (
                SELECT run_id FROM {_LOAD_LOG} ORDER BY finished_at DESC NULLS LAST LIMIT 1
            )
            SELECT run_id, min(started_at), max(finished_at), min(partition_start),
                   max(partition_end), count(*), sum(tickers_failed), sum(rows_inserted),
                   sum(rows_changed)
            FROM {_LOAD_LOG} WHERE run_id IN (SELECT run_id FROM last_run)
            GROUP BY run_id
            """
        ).fetchone()
    except duckdb.Error:
        return None
    if row is None:
        return None
    keys = (
        "run_id",
        "started_at",
        "finished_at",
        "first_day",
        "last_day",
        "loads",
        "tickers_failed",
        "rows_inserted",
        "rows_changed",
    )
    return dict(zip(keys, row, strict=True))


def run_load_totals(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """The rows a run's loads received from the source (inserted, changed or unchanged), inserted
    and changed; zeros for a run that logged no load."""
    if "load_log" not in stored_columns(con):
        return {"received": 0, "inserted": 0, "changed": 0}
    received, inserted, changed = con.execute(
        "SELECT coalesce(sum(rows_inserted + rows_changed + rows_unchanged), 0), "
        f"coalesce(sum(rows_inserted), 0), coalesce(sum(rows_changed), 0) FROM {_LOAD_LOG} "
        "WHERE run_id = ?",
        [run_id],
    ).fetchone()
    return {"received": int(received), "inserted": int(inserted), "changed": int(changed)}


def table_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The exact row count of every raw table; 0 for one not created yet."""
    stored = stored_columns(con)
    counts = [
        f"SELECT {literal(name)}, count(*) FROM {spec.qualified_name}"
        for name, spec in RAW_TABLES.items()
        if name in stored
    ]
    found = dict(con.execute(" UNION ALL ".join(counts)).fetchall()) if counts else {}
    return {name: int(found.get(name, 0)) for name in RAW_TABLES}


def date_range(con: duckdb.DuckDBPyConnection, table: str) -> tuple[date, date] | None:
    """The first and last date of a table's dated key column, or None when it has no rows."""
    spec = table_spec(table)
    if spec.date_column is None:
        raise ValueError(f"{spec.qualified_name} has no date in its key")
    if spec.name not in stored_columns(con):
        return None
    column = ident(spec.date_column)
    first, last = single_row(con, f"SELECT min({column}), max({column}) FROM {spec.qualified_name}")
    return None if first is None else (first, last)


def table_overview(
    con: duckdb.DuckDBPyConnection, schemas: Sequence[str] = OVERVIEW_SCHEMAS
) -> list[tuple[str, int, Any, Any]]:
    """(schema.table, rows, first date, last date) of every table in ``schemas``, in their order;
    the dates are None for a table without a DATE column."""
    found = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        f"WHERE database_name = current_database() AND schema_name IN "
        f"({', '.join('?' for _ in schemas)}) "
        "ORDER BY list_position(?, schema_name), table_name",
        [*schemas, list(schemas)],
    ).fetchall()
    overview = []
    for schema, table in found:
        qualified = f"{ident(schema)}.{ident(table)}"
        column = _date_column(con, schema, table)
        dates = "NULL, NULL" if column is None else f"min({ident(column)}), max({ident(column)})"
        rows, first, last = con.execute(f"SELECT count(*), {dates} FROM {qualified}").fetchone()
        overview.append((f"{schema}.{table}", int(rows), first, last))
    return overview


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _date_column(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str | None:
    dated = [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ? AND data_type = 'DATE' ORDER BY column_index",
            [schema, table],
        ).fetchall()
    ]
    preferred = [name for name in DATE_COLUMNS if name in dated]
    return (preferred or dated or [None])[0]
