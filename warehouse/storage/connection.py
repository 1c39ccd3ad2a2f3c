"""Opening the warehouse file: waiting out other processes' locks and explaining files that
cannot be opened, without ever modifying them."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse import settings
from warehouse.storage.errors import (
    WarehouseBusyError,
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


BUILD_LOCK_SUFFIX = ".build.lock"
_BUILD_LOCK_POLL_SECONDS = 0.2
# Build locks this process holds, by lock file: a Dagster run inside `market-warehouse build`
# takes the lock the build already holds, and flock() would refuse a second descriptor.
_held_build_locks: dict[Path, int] = {}


def build_lock_path(warehouse: Path) -> Path:
    """The lock file beside the warehouse that every build holds while it runs."""
    warehouse = Path(warehouse).expanduser().resolve()
    return warehouse.with_name(warehouse.name + BUILD_LOCK_SUFFIX)


@contextmanager
def build_lock(
    warehouse: Path,
    *,
    holder: str,
    timeout_seconds: float,
    waiting: Callable[[str], None] = log.warning,
) -> Iterator[None]:
    """Serializes builds of one warehouse across processes (the CLI's and Dagster's alike): an
    OS-level lock (flock) on a file beside it, released by the kernel if the process dies.

    A second build waits up to ``timeout_seconds`` for the first, telling ``waiting`` once who
    holds it, then raises WarehouseBusyError naming that build (its run id and PID). The DuckDB
    file lock alone cannot serialize builds: each step opens and closes the file, so two builds
    would interleave their steps."""
    path = build_lock_path(warehouse)
    if path in _held_build_locks:
        _held_build_locks[path] += 1
        try:
            yield
        finally:
            _held_build_locks[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(descriptor, Path(warehouse).expanduser().resolve(), timeout_seconds, waiting)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{holder} (PID {os.getpid()})".encode(), 0)
        _held_build_locks[path] = 1
        try:
            yield
        finally:
            del _held_build_locks[path]
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _acquire(
    descriptor: int, warehouse: Path, timeout_seconds: float, waiting: Callable[[str], None]
) -> None:
    started = time.monotonic()
    told = False
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = os.pread(descriptor, 1000, 0).decode(errors="replace").strip()
            holder = holder or "another build"
            waited = time.monotonic() - started
            if waited >= timeout_seconds:
                raise WarehouseBusyError(warehouse, holder=holder, waited=waited) from None
            if not told:
                waiting(f"waiting up to {timeout_seconds:.0f}s for {holder} to finish its build")
                told = True
            time.sleep(min(_BUILD_LOCK_POLL_SECONDS, timeout_seconds - waited))
