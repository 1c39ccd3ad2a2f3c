"""The published read-only copy of the warehouse: what every reader opens.

DuckDB lets one process write a database file, or many processes read it, never both at once. A
user's SQL session on the warehouse file itself would therefore make the nightly run fail, and a
reader could see a refresh half-way. So readers never open the warehouse file. After every
successful refresh the writer (the Dagster run, which holds the only read-write connection)
publishes a copy:

1. write a temporary file in the published directory holding one consistent snapshot of every
   schema, table, view, macro (``marts.event_impact``), sequence and type, in the oldest storage
   format the data fits in (see below);
2. reopen the temporary file on its own, read-only, check that it holds every table, view and
   macro of the warehouse and that every view binds, and count the rows of each table;
3. ``fsync`` it and ``os.replace`` it over the published file, then ``fsync`` the directory;
4. write ``publish_manifest.json`` beside it the same way (temporary file, fsync, rename).

The rename is atomic on POSIX: a reader that has the old file open keeps reading the old, whole
file (its inode lives on until it closes); a reader that opens the path afterwards gets the new,
whole file. No reader ever sees a temporary or half-written file, and readers never hold a lock
on anything the writer opens, so no reader can make the refresh fail. If any step fails, the
temporary file is deleted and the previous published copy is left exactly as it was.

The storage format matters because people read the copy with whatever DuckDB their SQL client
bundles, often a 1.x one that cannot open files in DuckDB 2.0's format. The warehouse is created in
the oldest format, v1.0.0 (read by DuckDB 0.10 and every later version), so the copy is simply its
bytes after a ``CHECKPOINT``: a nightly publish costs a file copy at disk speed, whatever the
history. A warehouse in a newer format (one created by an older version of this project) is
instead copied with ``COPY FROM DATABASE`` into a file attached with ``STORAGE_VERSION 'v1.0.0'``,
which re-encodes every table but keeps views, table macros, constraints, indexes, sequences, enum
types and comments (checked by the tests and re-checked on every publish). A table whose column
type the old format cannot store (``VARIANT`` needs v1.5.0) makes that copy fall back to the next
version listed in ``STORAGE_VERSIONS``, the last being the writer's own format.

DuckDB names a database after its file, and views and macros built by dbt name their tables through
it (``"market_warehouse"."marts"."fct_event_impact"``), so the published copy keeps the warehouse's
file name (``<warehouse dir>/published/<warehouse file name>``). When it is published under another
name, the manifest records the warehouse's catalog name and :func:`open_published` attaches the
copy under that name.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from warehouse import settings

MANIFEST_NAME = "publish_manifest.json"
# Oldest first: the first format the data fits in is used. v1.0.0 is read by DuckDB >= 0.10,
# v1.5.0 by DuckDB >= 1.5; None is the writer's own (newest) format, the last resort.
STORAGE_VERSIONS: tuple[str | None, ...] = ("v1.0.0", "v1.5.0", None)
TEMPORARY_SUFFIX = ".publishing"
_ATTACH_ALIAS = "__market_warehouse_publish"
NOT_PUBLISHED_HINT = "run `make demo` or wait for the nightly refresh"

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The copy could not be made or failed its checks; the previous published copy is intact."""


class NotPublishedError(FileNotFoundError):
    """Nothing has been published at this path yet."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"No published warehouse at {path}: {NOT_PUBLISHED_HINT}.")
        self.path = path


class PublishedUnavailableError(RuntimeError):
    """The published copy exists but cannot be opened (for instance another process opened it
    read-write, which takes DuckDB's exclusive lock)."""


@dataclass(frozen=True)
class PublishResult:
    path: Path
    manifest_path: Path
    published_at: datetime
    run_id: str | None
    source_path: Path
    catalog: str
    storage_version: str
    tables: dict[str, int]
    views: tuple[str, ...]
    macros: tuple[str, ...]
    size_bytes: int
    warnings: tuple[str, ...] = field(default=())

    def manifest(self) -> dict[str, Any]:
        return {
            "published_at": self.published_at.isoformat(),
            "run_id": self.run_id,
            "source_warehouse": str(self.source_path),
            "published_database": str(self.path),
            "catalog": self.catalog,
            "storage_version": self.storage_version,
            "writer_duckdb_version": duckdb.__version__,
            "size_bytes": self.size_bytes,
            "tables": self.tables,
            "views": list(self.views),
            "macros": list(self.macros),
        }


def published_path(warehouse: str | os.PathLike[str] | None = None) -> Path:
    """Where the copy of ``warehouse`` (default: the configured warehouse) is published."""
    return settings.published_path(warehouse)


def manifest_path(published: str | os.PathLike[str]) -> Path:
    return Path(published).parent / MANIFEST_NAME


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def publish(
    connection: duckdb.DuckDBPyConnection,
    *,
    published: str | os.PathLike[str] | None = None,
    source_path: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    storage_versions: Sequence[str | None] = STORAGE_VERSIONS,
    logger: logging.Logger | Any | None = None,
) -> PublishResult:
    """Publishes the database of ``connection`` (the writer's read-write connection to the
    warehouse) as the read-only copy, replacing the previous copy atomically.

    On any failure the temporary file is removed, the previous copy and manifest are untouched and
    the error propagates (a :class:`PublishError` when the copy failed its checks)."""
    logger = logger or log
    catalog = _scalar(connection, "SELECT current_database()")
    source = Path(source_path).resolve() if source_path else _database_file(connection, catalog)
    target = Path(published).expanduser().resolve() if published else published_path(source)
    if source is not None and target == source:
        raise PublishError(f"the published copy cannot be the warehouse file itself ({source})")
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temporaries(target.parent)

    expected = _inventory(connection, catalog)
    temporary = _temporary_path(target)
    warnings: list[str] = []
    try:
        if source is not None and _storage_version(connection, catalog) == storage_versions[0]:
            storage_version = _copy_file(connection, catalog, source, temporary)
        else:
            storage_version = _copy_database(connection, catalog, temporary, storage_versions, logger)
        tables, views, macros = _verify_copy(temporary, catalog, expected)
        _fsync_file(temporary)
        _discard_stale_wal(target, logger)
        os.replace(temporary, target)
        _fsync_directory(target.parent)
    except BaseException:
        _discard(temporary)
        raise
    if target.stem != catalog:
        warnings.append(
            f"the published file is named {target.name} but the warehouse's catalog is {catalog!r}: "
            f"views and macros that name their catalog work only when the copy is attached as "
            f"{catalog!r} (open_published does this)"
        )
        logger.warning(warnings[-1])

    result = PublishResult(
        path=target,
        manifest_path=manifest_path(target),
        published_at=datetime.now(timezone.utc),
        run_id=run_id,
        source_path=source if source is not None else Path(catalog),
        catalog=catalog,
        storage_version=storage_version,
        tables=tables,
        views=views,
        macros=macros,
        size_bytes=target.stat().st_size,
        warnings=tuple(warnings),
    )
    write_json_atomically(result.manifest_path, result.manifest())
    logger.info(
        f"Published {len(tables)} tables ({sum(tables.values())} rows) to {target} "
        f"in storage format {storage_version}"
    )
    return result


def _storage_version(connection: duckdb.DuckDBPyConnection, catalog: str) -> str | None:
    tag = _scalar(
        connection,
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = ?",
        [catalog],
    )
    return tag.rstrip("+") if tag else None


def _copy_file(
    connection: duckdb.DuckDBPyConnection, catalog: str, source: Path, temporary: Path
) -> str:
    """The warehouse file is already in the oldest format: after a CHECKPOINT (everything in the
    file, nothing left in the write-ahead log) its bytes are the copy, at disk speed instead of
    re-encoding every table. Nothing writes meanwhile: this connection is the only writer."""
    connection.execute(f"CHECKPOINT {_identifier(catalog)}")
    wal = Path(f"{source}.wal")
    if wal.exists() and wal.stat().st_size:
        raise PublishError(f"{wal} is not empty after a checkpoint: another connection is writing")
    shutil.copyfile(source, temporary)
    return _storage_version(connection, catalog) or "latest"


def _copy_database(
    connection: duckdb.DuckDBPyConnection,
    catalog: str,
    temporary: Path,
    storage_versions: Sequence[str | None],
    logger: Any,
) -> str:
    """``COPY FROM DATABASE`` into ``temporary``, in the oldest storage format the data fits in.
    Returns the storage version the file was written with."""
    if not storage_versions:
        raise ValueError("storage_versions lists no storage version")
    for position, version in enumerate(storage_versions):
        options = f" (STORAGE_VERSION {_literal(version)})" if version else ""
        connection.execute(f"ATTACH {_literal(str(temporary))} AS {_ATTACH_ALIAS}{options}")
        try:
            connection.execute(f"COPY FROM DATABASE {_identifier(catalog)} TO {_ATTACH_ALIAS}")
            written = _scalar(
                connection,
                "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = ?",
                [_ATTACH_ALIAS],
            )
            connection.execute(f"CHECKPOINT {_ATTACH_ALIAS}")
        except duckdb.Error as error:
            last = position == len(storage_versions) - 1
            if last or "storage version" not in str(error).lower():
                raise
            logger.warning(f"The warehouse does not fit storage format {version}: {error}")
            _detach(connection)
            _discard(temporary)
            continue
        finally:
            # Detaching checkpoints and closes the file; also on errors, so a retry can attach again.
            _detach(connection)
        if Path(f"{temporary}.wal").exists():
            raise PublishError(f"the copy left a write-ahead log beside {temporary}")
        return (written or version or "latest").rstrip("+")
    raise AssertionError("unreachable")


def _detach(connection: duckdb.DuckDBPyConnection) -> None:
    with suppress(duckdb.Error):
        connection.execute(f"DETACH DATABASE IF EXISTS {_ATTACH_ALIAS}")


Inventory = tuple[set[str], set[str], set[str]]


def _inventory(connection: duckdb.DuckDBPyConnection, catalog: str) -> Inventory:
    """Tables, views and macros of ``catalog`` as ``schema.name``."""

    def names(query: str) -> set[str]:
        return {f"{schema}.{name}" for schema, name in connection.execute(query, [catalog]).fetchall()}

    tables = names(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = ? AND NOT temporary"
    )
    views = names(
        "SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE database_name = ? AND NOT internal AND NOT temporary"
    )
    macros = names(
        "SELECT DISTINCT schema_name, function_name FROM duckdb_functions() "
        "WHERE database_name = ? AND NOT internal AND function_type IN ('macro', 'table_macro')"
    )
    return tables, views, macros


def _verify_copy(
    temporary: Path, catalog: str, expected: Inventory
) -> tuple[dict[str, int], tuple[str, ...], tuple[str, ...]]:
    """Opens the copy on its own, read-only and under the warehouse's catalog name (as readers
    will): every table, view and macro is there, every view binds. Returns the row counts."""
    with closing(duckdb.connect(":memory:")) as check:
        check.execute(f"ATTACH {_literal(str(temporary))} AS {_identifier(catalog)} (READ_ONLY)")
        check.execute(f"USE {_identifier(catalog)}")
        tables, views, macros = _inventory(check, catalog)
        for kind, want, got in (("tables", expected[0], tables), ("views", expected[1], views),
                                ("macros", expected[2], macros)):
            missing = sorted(want - got)
            if missing:
                raise PublishError(f"the published copy lacks {kind} {', '.join(missing)}")
        for view in sorted(views):
            try:
                check.execute(f"SELECT * FROM {_qualified(view)} LIMIT 0").fetchall()
            except duckdb.Error as error:
                raise PublishError(f"view {view} does not bind in the published copy: {error}") from error
        counts = {
            table: int(_scalar(check, f"SELECT count(*) FROM {_qualified(table)}"))
            for table in sorted(tables)
        }
        check.execute("USE memory")
        check.execute(f"DETACH {_identifier(catalog)}")
    return counts, tuple(sorted(views)), tuple(sorted(macros))


def write_json_atomically(path: Path, payload: Any) -> None:
    """Writes JSON to a temporary file beside ``path``, fsyncs it and renames it over ``path``."""
    temporary = _temporary_path(path)
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except BaseException:
        _discard(temporary)
        raise


def _discard(path: Path) -> None:
    for leftover in (path, Path(f"{path}.wal")):
        with suppress(FileNotFoundError):
            leftover.unlink()


def _discard_stale_wal(target: Path, logger: Any) -> None:
    """A write-ahead log beside the published file belongs to the file being replaced (someone
    opened the copy read-write): it must not be replayed into the new file."""
    wal = Path(f"{target}.wal")
    if wal.exists():
        logger.warning(f"Removing {wal}: the published copy had been opened read-write")
        _discard(wal)


_TEMPORARY_NAME = re.compile(
    r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{12}" + re.escape(TEMPORARY_SUFFIX) + r"(\.wal)?$"
)


def _temporary_path(target: Path) -> Path:
    return target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}"


def _remove_abandoned_temporaries(directory: Path) -> None:
    """Temporary files left by a publisher that died mid-copy (its process is gone)."""
    for leftover in directory.iterdir():
        match = _TEMPORARY_NAME.match(leftover.name)
        if match and not _process_alive(int(match["pid"])):
            with suppress(FileNotFoundError):
                leftover.unlink()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_directory(directory: Path) -> None:
    """Makes the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _database_file(connection: duckdb.DuckDBPyConnection, catalog: str) -> Path | None:
    path = _scalar(connection, "SELECT path FROM duckdb_databases() WHERE database_name = ?", [catalog])
    return Path(path).resolve() if path else None


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_manifest(published: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The manifest of the last publication, or None when there is none (or it is unreadable)."""
    path = manifest_path(Path(published) if published else published_path())
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def open_published(
    published: str | os.PathLike[str] | None = None, *, read_only: bool = True
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy: the one way every reader opens the data.

    Readers hold no lock the writer needs, so they can stay connected through a refresh; they
    keep seeing the copy they opened until they reconnect."""
    if not read_only:
        raise ValueError(
            "the published copy is read-only: the warehouse changes only through a refresh "
            "(`market-warehouse build` or the nightly run)"
        )
    path = Path(published).expanduser().resolve() if published else published_path()
    if not path.is_file():
        raise NotPublishedError(path)
    manifest = read_manifest(path) or {}
    catalog = manifest.get("catalog") or path.stem
    try:
        if catalog == path.stem:
            return duckdb.connect(str(path), read_only=True)
        connection = duckdb.connect(":memory:")
        try:
            connection.execute(f"ATTACH {_literal(str(path))} AS {_identifier(catalog)} (READ_ONLY)")
            connection.execute(f"USE {_identifier(catalog)}")
        except BaseException:
            connection.close()
            raise
        return connection
    except duckdb.Error as error:
        message = str(error).splitlines()[0]
        if "lock" in message.lower():
            raise PublishedUnavailableError(
                f"The published warehouse {path} is locked by another process that opened it "
                f"read-write; open it read-only (duckdb -readonly, read_only=True). ({message})"
            ) from error
        raise PublishedUnavailableError(f"Cannot open the published warehouse {path}: {message}") from error


# --------------------------------------------------------------------------------------------
# Small SQL helpers
# --------------------------------------------------------------------------------------------


def _scalar(connection: duckdb.DuckDBPyConnection, query: str, parameters: Iterable[Any] = ()) -> Any:
    row = connection.execute(query, list(parameters)).fetchone()
    return row[0] if row else None


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(dotted: str) -> str:
    schema, _, name = dotted.partition(".")
    return f"{_identifier(schema)}.{_identifier(name)}"
