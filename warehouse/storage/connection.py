"""Opening the warehouse file: waiting out other processes' locks and explaining files that
cannot be opened, without ever modifying them."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import duckdb

from warehouse import settings
from warehouse.storage.errors import (
    WarehouseCorruptError,
    WarehouseError,
    WarehouseLockedError,
    WarehouseVersionError,
)

log = logging.getLogger(__name__)

# DuckDB 2.0 creates files in a storage format DuckDB 1.x cannot open, and people query the
# warehouse (its published byte copy, see warehouse/publish.py) with whatever DuckDB their SQL
# client bundles. The v1.0.0 format is read by DuckDB 0.10 and every later version.
NEW_FILE_STORAGE_VERSION = "v1.0.0"

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_LOCKED_FILE = re.compile(r'Could not set lock on file "(?P<path>[^"]+)"')
_LOCK_MARKERS = ("Could not set lock on file", "used by another process")
_VERSION_MARKERS = ("trying to read a database file with", "written with a storage version")
_CORRUPT_MARKERS = ("not a valid duckdb database file", "corrupt", "could not read enough bytes")
_FIRST_RETRY_SECONDS = 0.05
_MAX_RETRY_SECONDS = 1.0


def connect(
    path: Path, *, read_only: bool = False, lock_timeout_seconds: float = 30
) -> duckdb.DuckDBPyConnection:
    """Opens the warehouse, waiting up to ``lock_timeout_seconds`` for another process's lock.

    A writer creates the file and its directory if missing. Raises WarehouseLockedError,
    WarehouseCorruptError or WarehouseVersionError; a file it cannot open is left as it was."""
    path = Path(path)
    deadline = time.monotonic() + lock_timeout_seconds
    if not read_only and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created by a separate, short-lived connection: DuckDB refuses to open one file twice in
        # a process with different configs, so long-lived connections must use the default one.
        config = {"storage_compatibility_version": NEW_FILE_STORAGE_VERSION}
        _open(path, read_only=False, config=config, deadline=deadline).close()
    connection = _open(path, read_only=read_only, config={}, deadline=deadline)
    if not read_only:
        # a setting of the database instance, not a connect() config: see above
        connection.execute(f"SET memory_limit = '{settings.memory_limit()}'")
    return connection


def _open(
    path: Path, *, read_only: bool, config: dict[str, str], deadline: float
) -> duckdb.DuckDBPyConnection:
    started, delay = time.monotonic(), _FIRST_RETRY_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as error:
            message = str(error)
            if not any(marker in message for marker in _LOCK_MARKERS):
                unreadable = _unreadable_file_error(path, message)
                if unreadable is None:
                    raise
                raise unreadable from error
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _locked(path, message, waited=time.monotonic() - started) from error
            if delay == _FIRST_RETRY_SECONDS:
                log.warning("%s is locked by another process; waiting up to %.0fs", path, remaining)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_RETRY_SECONDS)


def locked_error(error: BaseException) -> WarehouseLockedError | None:
    """The project's error for DuckDB's own "Could not set lock" error (raised by a connect
    outside ``connect``, e.g. dbt's), naming the holder's program and PID; None for other errors."""
    message = str(error)
    if isinstance(error, WarehouseLockedError) or not any(m in message for m in _LOCK_MARKERS):
        return None
    quoted = _LOCKED_FILE.search(message)
    return _locked(Path(quoted["path"]) if quoted else None, message, waited=0.0)


def _locked(path: Path | None, message: str, *, waited: float) -> WarehouseLockedError:
    holder = _LOCK_HOLDER.search(message)
    return WarehouseLockedError(
        path or Path("(the warehouse)"),
        pid=int(holder["pid"]) if holder else None,
        program=holder["program"] if holder else None,
        waited=waited,
    )


def _unreadable_file_error(path: Path, message: str) -> WarehouseError | None:
    message = " ".join(message.split())  # DuckDB's multi-line explanations, on one log line
    about_the_file = message.replace(str(path), "").lower()  # the path may contain any word
    if any(marker in about_the_file for marker in _VERSION_MARKERS):
        return WarehouseVersionError(path, message)
    if any(marker in about_the_file for marker in _CORRUPT_MARKERS):
        return WarehouseCorruptError(path, message)
    return None
