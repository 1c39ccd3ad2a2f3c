"""The raw layer of the warehouse: the DuckDB file, the DDL of schema ``raw`` and its
transactional, idempotent, set-based writes.

- ``tables``: RAW_TABLES, the one declaration of every raw table (columns, types, keys,
  descriptions) from which DDL, validation, upserts and column metadata are all derived.
- ``connection``: ``connect`` waits out other processes' locks and explains unreadable files.
- ``schema``: ``ensure_schema``, idempotent DDL.
- ``writes``: ``upsert`` and ``replace_reference_rows``, in the caller's transaction.
- ``loads``: ``write_load``, a whole load plus its log in one transaction.
- ``reads``: the questions asked of a warehouse file (the load log, row counts, dates).
"""

from warehouse.storage.connection import NEW_FILE_STORAGE_VERSION, connect
from warehouse.storage.errors import (
    InvalidFrameError,
    WarehouseCorruptError,
    WarehouseError,
    WarehouseLockedError,
    WarehouseSchemaError,
    WarehouseVersionError,
)
from warehouse.storage.loads import LoadReport, LoggedFailure, transaction, write_load
from warehouse.storage.reads import (
    date_range,
    latest_load,
    latest_run_summary,
    run_load_totals,
    table_overview,
    table_row_counts,
)
from warehouse.storage.schema import ensure_schema
from warehouse.storage.tables import (
    LINEAGE_COLUMNS,
    QUALITY_SCHEMA,
    RAW_SCHEMA,
    RAW_TABLES,
    Column,
    TableSpec,
)
from warehouse.storage.writes import WriteStats, replace_reference_rows, upsert

__all__ = [
    "transaction",
    "LINEAGE_COLUMNS",
    "NEW_FILE_STORAGE_VERSION",
    "QUALITY_SCHEMA",
    "RAW_SCHEMA",
    "RAW_TABLES",
    "Column",
    "InvalidFrameError",
    "LoadReport",
    "LoggedFailure",
    "TableSpec",
    "WarehouseCorruptError",
    "WarehouseError",
    "WarehouseLockedError",
    "WarehouseSchemaError",
    "WarehouseVersionError",
    "WriteStats",
    "connect",
    "date_range",
    "ensure_schema",
    "latest_load",
    "latest_run_summary",
    "replace_reference_rows",
    "run_load_totals",
    "table_overview",
    "table_row_counts",
    "upsert",
    "write_load",
]
