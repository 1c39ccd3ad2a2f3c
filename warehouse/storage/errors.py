"""What can go wrong with the warehouse file, each with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

import duckdb


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as asked; the message says what to do about it."""


class WarehouseLockedError(WarehouseError):
    """Another process holds the DuckDB file open."""

    def __init__(self, path: Path, *, pid: int | None, program: str | None, waited: float):
        self.path, self.pid, self.program = path, pid, program
        holder = f"{program or 'another process'} (PID {pid if pid is not None else 'unknown'})"
        super().__init__(
            f"Warehouse {path} is locked by {holder}. DuckDB lets only one process open a "
            "database file while anyone writes to it, and a read-only session blocks writers too. "
            "Close that session (a DuckDB CLI, DBeaver or notebook connection, or another "
            f"pipeline run) and retry. Waited {waited:.1f}s for it to be released."
        )


class WarehouseBusyError(WarehouseError):
    """Another build (a `market-warehouse build` or a Dagster run) is writing the warehouse."""

    def __init__(self, path: Path, *, holder: str, waited: float):
        self.path, self.holder = path, holder
        super().__init__(
            f"Warehouse {path} is being built by {holder}. Two builds never write at once: wait "
            f"for that one to finish (or stop it) and start again. Waited {waited:.1f}s for it."
        )


class WarehouseCorruptError(WarehouseError):
    """The file is not a DuckDB database or is damaged. It is never modified."""

    def __init__(self, path: Path, detail: str):
        self.path = path
        super().__init__(
            f"{path} is not a readable DuckDB database ({detail}). The file was left untouched: "
            "move it aside (or restore a backup) and re-run the loads to rebuild the warehouse."
        )


class WarehouseVersionError(WarehouseError):
    """The file was written in a storage format this DuckDB cannot read."""

    def __init__(self, path: Path, detail: str):
        self.path = path
        super().__init__(
            f"{path} was written by a DuckDB whose storage format duckdb {duckdb.__version__} "
            f"cannot read ({detail}). Upgrade the duckdb package, or open the file with the DuckDB "
            "that wrote it and EXPORT DATABASE / IMPORT DATABASE it."
        )


class WarehouseSchemaError(WarehouseError):
    """A stored raw table does not match its spec in RAW_TABLES."""


class InvalidFrameError(WarehouseError, ValueError):
    """A frame handed to a write does not fit its table; nothing was written from it."""
