"""Small helpers for the SQL text the storage modules generate from table specs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

# Quoting lives in warehouse.sql_quoting; re-exported while writes, schema and quality.tables
# still import it from here (the lead switches those imports, then this line goes).
from warehouse.sql_quoting import ident, literal

__all__ = ["ident", "literal", "single_row"]


def single_row(
    con: duckdb.DuckDBPyConnection, sql: str, parameters: Mapping[str, object] | None = None
) -> tuple[Any, ...]:
    """The one row an aggregate or a DML statement returns. Read with fetchall() because DuckDB 2.0
    keeps a result that was not read to its end open, and an open result blocks unregister()."""
    (row,) = con.execute(sql, dict(parameters or {})).fetchall()
    return row
