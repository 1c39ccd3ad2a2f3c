"""The DDL of the raw layer, generated from RAW_TABLES."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from warehouse.sql_quoting import ident, literal
from warehouse.storage.errors import WarehouseSchemaError
from warehouse.storage.tables import (
    LINEAGE_COLUMNS,
    QUALITY_SCHEMA,
    RAW_SCHEMA,
    RAW_TABLES,
    TableSpec,
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Creates the schemas and any missing raw table; checks the existing ones match their spec."""
    for schema in (RAW_SCHEMA, QUALITY_SCHEMA):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    stored = stored_columns(con)
    for spec in RAW_TABLES.values():
        if spec.name in stored:
            _add_new_columns(con, spec, stored[spec.name])
            _check_stored_table(spec, stored_columns(con)[spec.name])
        else:
            _create_table(con, spec)


def stored_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Column name -> type of every table stored in schema raw."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? "
        "ORDER BY table_name, column_index",
        [RAW_SCHEMA],
    ).fetchall()
    stored: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        stored.setdefault(table, {})[column] = data_type
    return stored


def _add_new_columns(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, stored: Mapping[str, str]
) -> None:
    """Adds the columns a spec appended since the table was created (``load_log.rows_rejected``),
    null in the rows written before: a warehouse built by the previous version keeps loading. Any
    other difference is left to _check_stored_table."""
    columns = spec.stored_columns
    known = [(column.name, column.type) for column in columns[: len(stored)]]
    if known != list(stored.items()):
        return
    for column in columns[len(stored) :]:
        target = f"{spec.qualified_name}.{ident(column.name)}"
        con.execute(
            f"ALTER TABLE {spec.qualified_name} ADD COLUMN {ident(column.name)} {column.type}"
        )
        con.execute(f"COMMENT ON COLUMN {target} IS {literal(column.description)}")


def _check_stored_table(spec: TableSpec, stored: Mapping[str, str]) -> None:
    expected = {column.name: column.type for column in spec.stored_columns}
    if stored != expected:
        raise WarehouseSchemaError(
            f"{spec.qualified_name} does not match this code's table spec: it has "
            f"{dict(stored)}, expected {expected}. The warehouse was built by another version; "
            "migrate the table or rebuild the warehouse."
        )


def _create_table(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
    columns = [
        f"{ident(column.name)} {column.type}{' NOT NULL' if column in LINEAGE_COLUMNS else ''}"
        for column in spec.stored_columns
    ]
    key = ", ".join(map(ident, spec.key))
    con.execute(f"CREATE TABLE {spec.qualified_name} ({', '.join(columns)}, PRIMARY KEY ({key}))")
    # Comments put the descriptions where SQL users look: duckdb_columns(), DBeaver, ...
    con.execute(f"COMMENT ON TABLE {spec.qualified_name} IS {literal(spec.description)}")
    for column in spec.stored_columns:
        target = f"{spec.qualified_name}.{ident(column.name)}"
        con.execute(f"COMMENT ON COLUMN {target} IS {literal(column.description)}")
