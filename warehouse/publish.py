"""The published read-only copy of the warehouse: what every reader opens.

DuckDB lets one process write a database file, or many processes read it, never both at once. A
user's SQL session on the warehouse file itself would therefore make the nightly run fail, and a
reader could see a refresh half-way. So readers never open the warehouse file. After every
successful refresh the writer (the Dagster run, which holds the only read-write connection)
publishes a copy. Every publication is a new directory, never a file that was published before::

    published/
      market_warehouse.duckdb -> current/market_warehouse.duckdb   the stable path readers open
      publish_manifest.json   -> current/publish_manifest.json
      current -> versions/<version>                                 the one pointer a publish swaps
      versions/<version>/market_warehouse.duckdb                    the copy (mode 0444)
      versions/<version>/publish_manifest.json                      what it holds, by which run

1. refuse a warehouse that holds relations nobody declares (``documented``: leftovers such as a
   dbt ``__dbt_tmp`` table would otherwise reach readers);
2. write ``versions/.<version>...publishing/`` holding one consistent snapshot of every schema,
   table, view, macro (``marts.event_impact``), sequence and type, in the oldest storage format the
   data fits in (see below); the file inside keeps the warehouse's catalog name;
3. reopen the copy on its own, read-only, check that it holds every table, view and macro of the
   warehouse and that every view binds, count the rows of each table, and refuse a copy whose raw
   or mart tables shrank sharply against the current copy (:func:`shrunk_tables`) unless the run
   is a deliberate rebuild;
4. write the manifest (with the file's size and modification time) into the same directory,
   ``fsync`` both, rename the directory to ``versions/<version>``;
5. swap ``current`` to it with ``os.replace`` of a symbolic link, then ``fsync`` the directory.

Step 5 is the whole publication, and it is atomic on POSIX: the copy and its manifest change
together (a crash before it leaves the previous pair, after it the new pair), a reader that
resolved the old link keeps reading the old, whole file, and one that resolves it afterwards gets
the new one. No reader sees a temporary or half-written file, and readers never hold a lock on
anything the writer opens, so no reader can make the refresh fail. If any step fails, the new
directory is deleted and the previous copy is left exactly as it was. A publish first deletes the
versions older than the current one: a process still reading one keeps its open file (POSIX), so
at most two copies use disk space at a time.

Why a new file every time, never a new file under the old name: someone may open the copy
read-write by mistake (``duckdb published/market_warehouse.duckdb``). Such a session writes its
changes to a write-ahead log named after the file it opened and, on closing, into that file. A
copy published under the old name would sit beside that log, and every new reader would replay
another session's writes into it. With a new path per publication that session can only ever
write into the version it opened: DuckDB resolves the link when it opens the file, so its log
lands beside that version, never beside a newer one. :func:`open_published` opens the version
the link names, by its own path, and refuses a version that was changed after its publication
(its size or modification time differ from the manifest's, or a write-ahead log lies beside it),
so no reader ever sees another session's writes. A new path per publication also means a
long-lived process opens the newest copy on its next :func:`open_published`, although DuckDB
shares one open database per path within a process.

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
it (``"market_warehouse"."marts"."fct_event_impact"``), so the file inside each version directory
is named after the warehouse's catalog. The manifest records the catalog too, and
:func:`open_published` attaches a file of another name under it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import shutil
import stat
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from warehouse import settings
from warehouse.sql_quoting import ident, literal, qualified

MANIFEST_NAME = "publish_manifest.json"
VERSIONS_DIR = "versions"
CURRENT_LINK = "current"
# Oldest first: the first format the data fits in is used. v1.0.0 is read by DuckDB >= 0.10,
# v1.5.0 by DuckDB >= 1.5; None is the writer's own (newest) format, the last resort.
STORAGE_VERSIONS: tuple[str | None, ...] = ("v1.0.0", "v1.5.0", None)
TEMPORARY_SUFFIX = ".publishing"
_ATTACH_ALIAS = "__market_warehouse_publish"
NOT_PUBLISHED_HINT = "run `make demo` or wait for the nightly refresh"

# The shrink guard: a table of these schemas may not lose more than this share of its rows
# against the current copy, unless the run is a deliberate rebuild. Quality tables are left out:
# they legitimately shrink when the source corrects a bar or a flag clears.
MAX_SHRINK_ENV = "MARKET_WAREHOUSE_PUBLISH_MAX_SHRINK"
DEFAULT_MAX_SHRINK = 0.5
GUARDED_SCHEMAS = ("raw", "marts")
REBUILD_ENV = "MARKET_WAREHOUSE_REBUILD"
REBUILD_TAG = "market_warehouse/rebuild"
REBUILD_HINT = (
    f"`market-warehouse build --new-warehouse`, or set {REBUILD_ENV}=1 or the run tag "
    f"{REBUILD_TAG}=true"
)

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
    path: Path  # the stable path readers open (a link to ``database``)
    database: Path  # this publication's own file, in its version directory
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
    modified_ns: int
    warnings: tuple[str, ...] = field(default=())

    def manifest(self) -> dict[str, Any]:
        return {
            "published_at": self.published_at.isoformat(),
            "run_id": self.run_id,
            "source_warehouse": str(self.source_path),
            "published_database": str(self.path),
            "version": self.database.parent.name,
            "database_file": self.database.name,
            "catalog": self.catalog,
            "storage_version": self.storage_version,
            "writer_duckdb_version": duckdb.__version__,
            "size_bytes": self.size_bytes,
            "modified_ns": self.modified_ns,
            "tables": self.tables,
            "views": list(self.views),
            "macros": list(self.macros),
        }


def published_path(warehouse: str | os.PathLike[str] | None = None) -> Path:
    """Where the copy of ``warehouse`` (default: the configured warehouse) is published."""
    return settings.published_path(warehouse)


def manifest_path(published: str | os.PathLike[str]) -> Path:
    return Path(published).parent / MANIFEST_NAME


def stable_path(published: str | os.PathLike[str]) -> Path:
    """``published`` made absolute without following the link itself (its directory is
    resolved): the path readers open, not the version it currently names."""
    path = Path(published).expanduser()
    return path.parent.resolve() / path.name


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
    documented: Collection[str] | None = None,
    rebuild: bool = False,
    max_shrink: float | None = None,
    logger: logging.Logger | Any | None = None,
) -> PublishResult:
    """Publishes the database of ``connection`` (the writer's read-write connection to the
    warehouse) as the read-only copy, replacing the previous copy atomically.

    ``documented`` lists every table and view (``schema.name``) the warehouse may hold; anything
    else is refused. Unless ``rebuild``, a raw or mart table may not lose more than ``max_shrink``
    (default: :func:`configured_max_shrink`) of the rows the current copy holds.

    On any failure the new version is removed, the previous copy and manifest are untouched and
    the error propagates (a :class:`PublishError` when the copy failed its checks)."""
    logger = logger or log
    catalog = _scalar(connection, "SELECT current_database()")
    source = Path(source_path).resolve() if source_path else _database_file(connection, catalog)
    target = stable_path(published) if published else stable_path(published_path(source))
    if source is not None and target.resolve() == source:
        raise PublishError(f"the published copy cannot be the warehouse file itself ({source})")
    shrink_limit = configured_max_shrink() if max_shrink is None else max_shrink
    versions = target.parent / VERSIONS_DIR
    versions.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temporaries(target.parent)
    _remove_abandoned_temporaries(versions)
    _remove_superseded_versions(target.parent)

    expected = _inventory(connection, catalog)
    if documented is not None:
        unknown = undocumented_relations(expected[0] | expected[1], documented)
        if unknown:
            raise PublishError(
                f"publish refused: the warehouse holds {len(unknown)} relation(s) that no dbt "
                f"model, seed, snapshot or loader declares: {', '.join(unknown)}; drop them from "
                "the warehouse (leftovers of an interrupted dbt run, e.g. `__dbt_tmp` tables) or "
                "declare them, then publish again"
            )
    previous = read_manifest(target)
    version = _version_name()
    building = _temporary_path(versions / version)
    building.mkdir()
    database = building / f"{catalog}.duckdb"
    final = versions / version
    try:
        if source is not None and _storage_version(connection, catalog) == storage_versions[0]:
            storage_version = _copy_file(connection, catalog, source, database)
        else:
            storage_version = _copy_database(
                connection, catalog, database, storage_versions, logger
            )
        tables, views, macros = _verify_copy(database, catalog, expected)
        if previous and not rebuild:
            shrunk = shrunk_tables(previous.get("tables") or {}, tables, shrink_limit)
            if shrunk:
                raise PublishError(
                    f"publish refused: {'; '.join(shrunk)}: more than {MAX_SHRINK_ENV}="
                    f"{shrink_limit:g} of the rows readers see now (run {previous.get('run_id')}); "
                    f"restore the warehouse if it lost data, or if this rebuild is deliberate "
                    f"use {REBUILD_HINT}"
                )
        # Read-only on disk too: a read-write open by anyone but root fails instead of writing.
        os.chmod(database, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        _fsync_file(database)
        facts = database.stat()
        result = PublishResult(
            path=target,
            database=final / database.name,
            manifest_path=manifest_path(target),
            published_at=datetime.now(UTC),
            run_id=run_id,
            source_path=source if source is not None else Path(catalog),
            catalog=catalog,
            storage_version=storage_version,
            tables=tables,
            views=views,
            macros=macros,
            size_bytes=facts.st_size,
            modified_ns=facts.st_mtime_ns,
        )
        write_json_atomically(building / MANIFEST_NAME, result.manifest())
        os.replace(building, final)
        _fsync_directory(versions)
        _point(target.parent / CURRENT_LINK, f"{VERSIONS_DIR}/{version}")
    except BaseException:
        # A failure after the swap (syncing the directory) leaves a published version: keep it.
        if _current_version(target.parent) != version:
            for leftover in (building, final):
                _remove_tree(leftover)
        raise
    # The stable names lead through `current`: made once, so they change with it atomically.
    _point(target, f"{CURRENT_LINK}/{database.name}")
    _point(result.manifest_path, f"{CURRENT_LINK}/{MANIFEST_NAME}")
    _discard_stale_wal(target, logger)

    warnings: list[str] = []
    if target.stem != catalog:
        warnings.append(
            f"the published path is named {target.name} but the warehouse's catalog is "
            f"{catalog!r}: views and macros that name their catalog work only when the copy is "
            f"attached as {catalog!r} (open_published does this; so does a client that follows "
            f"the link to {CURRENT_LINK}/{database.name})"
        )
        logger.warning(warnings[-1])
    logger.info(
        f"Published {len(tables)} tables ({sum(tables.values())} rows) to {target} "
        f"(version {version}) in storage format {storage_version}"
    )
    return dataclasses.replace(result, warnings=tuple(warnings))


def configured_max_shrink() -> float:
    """The share of its rows a guarded table may lose in one publication: the environment's
    ``MARKET_WAREHOUSE_PUBLISH_MAX_SHRINK``, default 0.5."""
    raw = os.environ.get(MAX_SHRINK_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_SHRINK
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise PublishError(
            f"{MAX_SHRINK_ENV}={raw!r} is not a share between 0 and 1 (e.g. 0.5: refuse a table "
            "that loses more than half its rows); fix or unset it"
        )
    return value


def rebuild_requested(tags: Mapping[str, str] | None = None) -> bool:
    """Whether the run says it rebuilds the warehouse on purpose (its tag, or the environment),
    which lets its tables shrink against the current copy."""
    flags = ((tags or {}).get(REBUILD_TAG), os.environ.get(REBUILD_ENV))
    return any(str(flag).strip().lower() in ("1", "true", "yes") for flag in flags if flag)


def shrunk_tables(
    previous: Mapping[str, int],
    current: Mapping[str, int],
    max_shrink: float,
    schemas: Sequence[str] = GUARDED_SCHEMAS,
) -> list[str]:
    """``"schema.table from N to M rows (-P%)"`` for every table of ``schemas`` that lost more
    than ``max_shrink`` of its ``previous`` rows (a vanished table has 0), sorted."""
    found = []
    for table, before in sorted(previous.items()):
        if table.partition(".")[0] not in schemas or not before:
            continue
        after = current.get(table, 0)
        if after < before * (1 - max_shrink):
            change = (after - before) / before
            found.append(f"{table} from {before} to {after} rows ({change:+.0%})")
    return found


def undocumented_relations(found: Iterable[str], documented: Collection[str]) -> list[str]:
    """The tables and views of ``found`` (``schema.name``) that ``documented`` lacks, sorted."""
    return sorted(set(found) - set(documented))


def new_warehouse_refusal(warehouse: Path, published: Path) -> str | None:
    """Why building ``warehouse`` would be a mistake, or None: it does not exist but a copy is
    published, so a build would create a new, partial warehouse and publish it over what readers
    have (a lost or moved warehouse file, a mistyped ``--warehouse``)."""
    if warehouse.exists():
        return None
    manifest = read_manifest(published)
    if manifest is None and not stable_path(published).exists():
        return None
    rows = sum((manifest or {}).get("tables", {}).values())
    return (
        f"{warehouse} does not exist, so this build would create a new warehouse and publish it "
        f"over the copy readers use ({published}, {rows} rows, run "
        f"{(manifest or {}).get('run_id') or 'unknown'}); restore the warehouse file (or point "
        "--warehouse/$MARKET_WAREHOUSE_DB at it), or pass --new-warehouse to build a new one "
        "on purpose"
    )


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
    connection.execute(f"CHECKPOINT {ident(catalog)}")
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
        options = f" (STORAGE_VERSION {literal(version)})" if version else ""
        connection.execute(f"ATTACH {literal(str(temporary))} AS {_ATTACH_ALIAS}{options}")
        try:
            connection.execute(f"COPY FROM DATABASE {ident(catalog)} TO {_ATTACH_ALIAS}")
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
            # Detaching checkpoints and closes the file; also on errors, so a retry can attach
            # again.
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
        found = connection.execute(query, [catalog]).fetchall()
        return {f"{schema}.{name}" for schema, name in found}

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
        check.execute(f"ATTACH {literal(str(temporary))} AS {ident(catalog)} (READ_ONLY)")
        check.execute(f"USE {ident(catalog)}")
        tables, views, macros = _inventory(check, catalog)
        for kind, want, got in (
            ("tables", expected[0], tables),
            ("views", expected[1], views),
            ("macros", expected[2], macros),
        ):
            missing = sorted(want - got)
            if missing:
                raise PublishError(f"the published copy lacks {kind} {', '.join(missing)}")
        for view in sorted(views):
            try:
                check.execute(f"SELECT * FROM {qualified(view)} LIMIT 0").fetchall()
            except duckdb.Error as error:
                raise PublishError(
                    f"view {view} does not bind in the published copy: {error}"
                ) from error
        counts = {
            table: int(_scalar(check, f"SELECT count(*) FROM {qualified(table)}"))
            for table in sorted(tables)
        }
        check.execute("USE memory")
        check.execute(f"DETACH {ident(catalog)}")
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


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        _discard(path)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def _discard_stale_wal(target: Path, logger: Any) -> None:
    """A write-ahead log beside the stable path: left by a DuckDB that opened the link read-write
    without following it (the previous design's copy had that name too). A reader of such a
    DuckDB would replay it into the new copy, so it goes."""
    wal = Path(f"{target}.wal")
    if wal.exists():
        logger.warning(f"Removing {wal}: the published copy had been opened read-write")
        _discard(wal)


def _point(link: Path, destination: str) -> None:
    """Makes ``link`` a symbolic link to ``destination`` (relative, so the directory can move),
    in one atomic step: a new link renamed over whatever ``link`` was."""
    with suppress(OSError):
        if os.readlink(link) == destination:
            return
    temporary = _temporary_path(link)
    os.symlink(destination, temporary)
    try:
        os.replace(temporary, link)
    except BaseException:
        _discard(temporary)
        raise
    _fsync_directory(link.parent)


def _version_name() -> str:
    """Sortable by time, unique even for two publications in the same microsecond."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def _current_version(directory: Path) -> str | None:
    try:
        return Path(os.readlink(directory / CURRENT_LINK)).name
    except OSError:
        return None


def _remove_superseded_versions(directory: Path) -> None:
    """Every finished version but the current one: nobody resolves the link to them any more,
    and a process still reading one keeps its open file (POSIX)."""
    current = _current_version(directory)
    for entry in (directory / VERSIONS_DIR).iterdir():
        if not entry.name.startswith(".") and entry.name != current:
            _remove_tree(entry)


_TEMPORARY_NAME = re.compile(
    r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{12}" + re.escape(TEMPORARY_SUFFIX) + r"(\.wal)?$"
)


def _temporary_path(target: Path) -> Path:
    return target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}"


def _remove_abandoned_temporaries(directory: Path) -> None:
    """Temporary files, links and version directories left by a publisher that died mid-copy
    (its process is gone)."""
    for leftover in directory.iterdir():
        match = _TEMPORARY_NAME.match(leftover.name)
        if match and not _process_alive(int(match["pid"])):
            _remove_tree(leftover)


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
    path = _scalar(
        connection, "SELECT path FROM duckdb_databases() WHERE database_name = ?", [catalog]
    )
    return Path(path).resolve() if path else None


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_manifest(published: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The manifest of the copy ``published`` names now, or None when there is none (or it is
    unreadable). It is read from the copy's own version directory, so it always describes the
    file a reader opening ``published`` gets."""
    return _manifest_of(stable_path(published or published_path()).resolve())


def _manifest_of(database: Path) -> dict[str, Any] | None:
    try:
        return json.loads((database.parent / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def manifest_of_connection(connection: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The manifest of the copy ``connection`` (from :func:`open_published`) has open: the facts
    of the file it reads, even when a newer copy was published since it opened."""
    path = _scalar(
        connection,
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()",
    )
    return _manifest_of(Path(path)) if path else None


def changed_since_published(database: Path, manifest: Mapping[str, Any]) -> str | None:
    """Why ``database`` no longer is the file its manifest describes, or None. A session that
    opened it read-write leaves a write-ahead log beside it, or (once it closed) a file of another
    size or modification time."""
    wal = Path(f"{database}.wal")
    if wal.exists():
        return f"a read-write session has written {wal.name} beside it"
    if "modified_ns" in manifest:
        facts = database.stat()
        if (facts.st_size, facts.st_mtime_ns) != (manifest["size_bytes"], manifest["modified_ns"]):
            return "a read-write session changed the file after it was published"
    return None


def open_published(
    published: str | os.PathLike[str] | None = None, *, read_only: bool = True
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy: the one way every reader opens the data.

    It opens the version the stable path names now, by that version's own path: a new connection
    gets the newest copy, also in a process that still holds older connections (DuckDB shares one
    open database per path in a process). Readers hold no lock the writer needs, so they can stay
    connected through a refresh; they keep seeing the copy they opened until they reconnect."""
    if not read_only:
        raise ValueError(
            "the published copy is read-only: the warehouse changes only through a refresh "
            "(`market-warehouse build` or the nightly run)"
        )
    stable = stable_path(published or published_path())
    for attempt in range(2):
        database = stable.resolve()
        if not database.is_file():
            raise NotPublishedError(stable)
        manifest = _manifest_of(database) or {}
        changed = changed_since_published(database, manifest)
        if changed:
            raise PublishedUnavailableError(
                f"The published warehouse {database} is not the copy that was published: "
                f"{changed}. Readers are refused so they never see another session's writes; "
                f"close any session that opened it without read-only, then run `market-warehouse "
                f"build` or wait for the nightly refresh to publish a clean copy."
            )
        try:
            return _connect_read_only(database, manifest.get("catalog") or database.stem)
        except duckdb.Error as error:
            if attempt == 0 and not database.exists():
                continue  # a newer publish removed this version between resolving and opening
            message = str(error).splitlines()[0]
            if "lock" in message.lower():
                raise PublishedUnavailableError(
                    f"The published warehouse {stable} is locked by another process that opened "
                    f"it read-write; open it read-only (duckdb -readonly, read_only=True). "
                    f"({message})"
                ) from error
            raise PublishedUnavailableError(
                f"Cannot open the published warehouse {stable}: {message}"
            ) from error
    raise AssertionError("unreachable")


def _connect_read_only(database: Path, catalog: str) -> duckdb.DuckDBPyConnection:
    if catalog == database.stem:
        return duckdb.connect(str(database), read_only=True)
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(f"ATTACH {literal(str(database))} AS {ident(catalog)} (READ_ONLY)")
        connection.execute(f"USE {ident(catalog)}")
    except BaseException:
        connection.close()
        raise
    return connection


# --------------------------------------------------------------------------------------------
# Small SQL helper
# --------------------------------------------------------------------------------------------


def _scalar(
    connection: duckdb.DuckDBPyConnection, query: str, parameters: Iterable[Any] = ()
) -> Any:
    row = connection.execute(query, list(parameters)).fetchone()
    return row[0] if row else None
