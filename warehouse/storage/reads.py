"""What the orchestration asks the raw layer: the last load, row counts, date coverage.

They work on a warehouse whose schema is not created yet, so read-only callers need not care."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import duckdb

from warehouse.storage._sql import ident, literal, single_row
from warehouse.storage.schema import stored_columns
from warehouse.storage.tables import RAW_TABLES, table_spec


def latest_load(con: duckdb.DuckDBPyConnection, asset_key: str) -> dict[str, Any] | None:
    """The load_log row the asset wrote last (``failures`` parsed), or None."""
    if "load_log" not in stored_columns(con):
        return None
    cursor = con.execute(
        f"SELECT * FROM {RAW_TABLES['load_log'].qualified_name} WHERE asset_key = ? "
        "ORDER BY finished_at DESC, partition_start DESC LIMIT 1",
        [asset_key],
    )
    rows = cursor.fetchall()
    if not rows:
        return None
    load = dict(zip([column[0] for column in cursor.description], rows[0], strict=True))
    load["failures"] = json.loads(load["failures"])
    return load


def table_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The exact row count of every raw table; 0 for one not created yet."""
    stored = stored_columns(con)
    counts = [f"SELECT {literal(name)}, count(*) FROM {spec.qualified_name}"
              for name, spec in RAW_TABLES.items() if name in stored]
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
