"""Readers of the published copy against sessions that break the rules and against crashes: a
read-write session on the copy never reaches another reader (issue item 1), a long-lived process
sees every refresh (item 2), and the copy and its manifest change together (item 3)."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import duckdb
import pytest

from tests.unit.test_publish import CATALOG, make_warehouse, start_python, write_version
from warehouse import publish, settings


@pytest.fixture(autouse=True)
def _no_published_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.PUBLISHED_PATH_ENV, raising=False)


def versions_read(connection: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(marts.b's version, rows of marts.a): a whole copy of version v reads (v, 100 v)."""
    return connection.execute(
        "SELECT (SELECT max(version) FROM marts.b), (SELECT count(*) FROM marts.a)"
    ).fetchone()


def read_published(path: Path) -> tuple[int, int]:
    with publish.open_published(path) as connection:
        return versions_read(connection)


# A session that opens the copy read-write (``duckdb published/market_warehouse.duckdb``), then
# on each command: writes what corrupted the copy in the field (most rows gone, a close of -1),
# closes (checkpointing into the file it opened), or waits to be killed.
READ_WRITE_SESSION = """
import sys, duckdb
session = duckdb.connect(sys.argv[1])
print("open", flush=True)
for command in sys.stdin:
    if command.strip() == "write":
        session.execute("DELETE FROM marts.a WHERE n > 0")
        session.execute("UPDATE marts.b SET version = -1")
    elif command.strip() == "close":
        session.close()
    print("done", command.strip(), flush=True)
"""

EXTERNAL_READER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
print(*connection.execute(
    "SELECT (SELECT max(version) FROM marts.b), (SELECT count(*) FROM marts.a)").fetchone())
"""


def command(session, text: str) -> None:
    session.stdin.write(f"{text}\n")
    session.stdin.flush()
    assert session.stdout.readline().split() == ["done", text], session.stderr.read()


def test_a_forgotten_read_write_session_never_reaches_the_next_copys_readers(
    tmp_path: Path,
) -> None:
    """The field failure: a session opened the copy read-write, a publish replaced the copy, the
    session wrote, and every new reader replayed its log into the new copy."""
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    target = publish.publish(writer, run_id="run-1").path
    session = start_python(READ_WRITE_SESSION, str(target))
    try:
        assert session.stdout.readline().strip() == "open", session.stderr.read()
        write_version(writer, 2)
        second = publish.publish(writer, run_id="run-2")
        command(session, "write")  # after the publish: its log lands beside the old version

        assert read_published(target) == (2, 200)
        external = start_python(EXTERNAL_READER, str(target))  # duckdb -readonly <stable path>
        out, err = external.communicate(timeout=60)
        assert out.split() == ["2", "200"], err
        assert not Path(f"{second.database}.wal").exists()

        command(session, "close")  # checkpoints into the version it opened, not the new one
        assert read_published(target) == (2, 200)
        write_version(writer, 3)
        publish.publish(writer, run_id="run-3")
        assert read_published(target) == (3, 300)
    finally:
        session.kill()
        session.wait()
        writer.close()


@pytest.mark.parametrize("ending", ["close", "kill"])
def test_a_copy_a_session_wrote_into_is_refused_until_the_next_publish(
    tmp_path: Path, ending: str
) -> None:
    """A read-write session on the current copy itself: while it runs (its log beside the file),
    once it closed (its writes checkpointed into the file) or died (its log left beside it),
    readers are refused rather than shown its writes, and the next publish is clean."""
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    target = publish.publish(writer, run_id="run-1").path
    session = start_python(READ_WRITE_SESSION, str(target))
    try:
        assert session.stdout.readline().strip() == "open", session.stderr.read()
        command(session, "write")
        with pytest.raises(publish.PublishedUnavailableError, match="read-write session"):
            publish.open_published(target)
        if ending == "close":
            command(session, "close")
        else:
            os.kill(session.pid, signal.SIGKILL)
            session.wait()
        with pytest.raises(
            publish.PublishedUnavailableError,
            match="not the copy that was published.*read-write session",
        ):
            publish.open_published(target)

        write_version(writer, 2)
        publish.publish(writer, run_id="run-2")
        assert read_published(target) == (2, 200)
    finally:
        session.kill()
        session.wait()
        writer.close()


def test_the_copy_is_read_only_on_disk(tmp_path: Path) -> None:
    writer = make_warehouse(tmp_path / f"{CATALOG}.duckdb")
    result = publish.publish(writer)
    writer.close()
    assert stat.S_IMODE(result.database.stat().st_mode) == 0o444


def test_a_long_lived_process_gets_every_new_copy_while_it_holds_older_ones(
    tmp_path: Path,
) -> None:
    """DuckDB shares one open database per path in a process: a copy replaced under the same
    path kept being served to every new connection while an old one was open."""
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    target = publish.publish(writer, run_id="run-1").path
    held = [publish.open_published(target)]
    try:
        for version in (2, 3, 4):
            write_version(writer, version)
            publish.publish(writer, run_id=f"run-{version}")
            held.append(publish.open_published(target))
            assert versions_read(held[-1]) == (version, version * 100)
        # Each older connection still reads the whole copy it opened.
        assert [versions_read(connection) for connection in held] == [
            (1, 100),
            (2, 200),
            (3, 300),
            (4, 400),
        ]
    finally:
        for connection in held:
            connection.close()
        writer.close()
    # Superseded versions are deleted at the next publish; only the current and previous remain.
    assert len(list((target.parent / publish.VERSIONS_DIR).iterdir())) == 2


def test_the_copy_and_its_manifest_change_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash just before the swap leaves the previous copy with its own manifest; just after
    it, the new copy with its own: never a new copy with the old manifest."""
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    target = publish.publish(writer, run_id="run-1").path
    real_point = publish._point

    def crash_at(swap_done: bool):
        def point(link: Path, destination: str) -> None:
            if link.name == publish.CURRENT_LINK and not swap_done:
                raise KeyboardInterrupt("power cut before the swap")
            real_point(link, destination)
            if link.name == publish.CURRENT_LINK:
                raise KeyboardInterrupt("power cut after the swap")

        return point

    write_version(writer, 2)
    monkeypatch.setattr(publish, "_point", crash_at(swap_done=False))
    with pytest.raises(KeyboardInterrupt):
        publish.publish(writer, run_id="run-2")
    assert publish.read_manifest(target)["run_id"] == "run-1"
    assert read_published(target) == (1, 100)

    monkeypatch.setattr(publish, "_point", crash_at(swap_done=True))
    with pytest.raises(KeyboardInterrupt):
        publish.publish(writer, run_id="run-2")
    writer.close()
    manifest = publish.read_manifest(target)
    assert manifest["run_id"] == "run-2"
    with publish.open_published(target) as connection:
        assert versions_read(connection) == (2, 200)
        assert publish.manifest_of_connection(connection)["run_id"] == "run-2"
    assert manifest["tables"]["marts.a"] == 200


def test_the_stable_paths_are_links_into_the_current_version(tmp_path: Path) -> None:
    """External readers (duckdb CLI, Harlequin) keep opening published/<name>; the manifest
    beside it is the current version's."""
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    first = publish.publish(writer, run_id="run-1")
    write_version(writer, 2)
    second = publish.publish(writer, run_id="run-2")
    writer.close()
    assert first.path == second.path and first.database != second.database
    assert second.path.is_symlink() and second.path.resolve() == second.database
    assert second.database.name == f"{CATALOG}.duckdb"  # DuckDB names the catalog after it
    assert second.manifest_path.resolve() == second.database.parent / publish.MANIFEST_NAME
    assert publish.read_manifest(second.path)["run_id"] == "run-2"
    assert first.database.exists(), "the previous version stays until the next publish starts"


def test_a_copy_published_by_the_previous_design_is_replaced_in_place(tmp_path: Path) -> None:
    """The previous design's regular file and manifest (and a read-write session's log beside
    them) become the links of the new layout on the next publish."""
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    old = tmp_path / "published" / warehouse.name
    old.parent.mkdir()
    writer.execute(f"ATTACH '{old}' AS old_copy")
    writer.execute(f"COPY FROM DATABASE {CATALOG} TO old_copy")
    writer.execute("DETACH old_copy")
    (old.parent / publish.MANIFEST_NAME).write_text('{"run_id": "old-design", "catalog": "x"}')
    Path(f"{old}.wal").write_bytes(b"someone else's writes")
    write_version(writer, 2)
    result = publish.publish(writer, run_id="run-2")
    writer.close()
    assert result.path == old and old.is_symlink()
    assert not Path(f"{old}.wal").exists()
    assert publish.read_manifest(old)["run_id"] == "run-2"
    assert read_published(old) == (2, 200)
