"""The published read-only copy: complete, atomic, readable by older DuckDB, never blocked by its
readers, and untouched by a failed refresh. Properties about processes use real second processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from warehouse import publish, settings, storage

CATALOG = "market_warehouse"


@pytest.fixture(autouse=True)
def _no_published_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.PUBLISHED_PATH_ENV, raising=False)


def make_warehouse(path: Path, version: int = 1) -> duckdb.DuckDBPyConnection:
    """A small warehouse like the real one: raw and marts tables, a dbt-style view naming its
    catalog, a table macro; tables a and b both carry ``version``. Returns the writer connection."""
    connection = duckdb.connect(str(path))
    catalog = path.stem
    connection.execute(
        f"""
        CREATE SCHEMA raw; CREATE SCHEMA staging; CREATE SCHEMA marts;
        CREATE TABLE raw.daily_prices (ticker VARCHAR, trade_date DATE, close DOUBLE,
                                       PRIMARY KEY (ticker, trade_date));
        INSERT INTO raw.daily_prices VALUES ('AAA', DATE '2024-01-02', 10.0),
                                            ('AAA', DATE '2024-01-03', 11.0),
                                            ('BBB', DATE '2024-01-03', 20.0);
        CREATE VIEW staging.stg_daily_prices AS
            SELECT * FROM "{catalog}"."raw"."daily_prices";
        CREATE TABLE marts.fct_event_impact AS
            SELECT ticker, trade_date AS event_date, close FROM staging.stg_daily_prices;
        CREATE MACRO marts.event_impact(day) AS TABLE
            SELECT * FROM "{catalog}"."marts"."fct_event_impact" WHERE event_date = day;
        """
    )
    write_version(connection, version)
    return connection


def write_version(connection: duckdb.DuckDBPyConnection, version: int) -> None:
    """One refresh: tables a and b rewritten in one transaction, both at ``version``, a with
    ``version * 100`` rows."""
    connection.execute("BEGIN")
    connection.execute(
        "CREATE OR REPLACE TABLE marts.a AS SELECT ? AS version, range AS n FROM range(? * 100)",
        [version, version],
    )
    connection.execute("CREATE OR REPLACE TABLE marts.b AS SELECT ? AS version", [version])
    connection.execute("COMMIT")


def published_file(warehouse: Path) -> Path:
    return warehouse.parent / "published" / warehouse.name


def temporaries(directory: Path) -> list[Path]:
    """Temporary files, links and version directories of unfinished publications."""
    return [path for path in directory.rglob("*") if publish.TEMPORARY_SUFFIX in path.name]


def start_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ---------------------------------------------------------------------------------------------
# The copy itself
# ---------------------------------------------------------------------------------------------


def test_published_path_sits_beside_the_warehouse_and_keeps_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        settings.WAREHOUSE_PATH_ENV, str(tmp_path / "wh" / "market_warehouse.duckdb")
    )
    assert settings.published_path() == tmp_path / "wh" / "published" / "market_warehouse.duckdb"
    assert settings.published_path(tmp_path / "x.duckdb") == tmp_path / "published" / "x.duckdb"
    monkeypatch.setenv(settings.PUBLISHED_PATH_ENV, str(tmp_path / "srv" / "copy.duckdb"))
    assert settings.published_path() == tmp_path / "srv" / "copy.duckdb"


def test_publish_copies_everything_readers_use_in_an_old_storage_format(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=3)
    result = publish.publish(writer, run_id="run-3")
    writer.close()

    target = published_file(warehouse)
    assert result.path == target and target.is_file()
    assert result.storage_version == "v1.0.0"
    assert result.tables == {
        "marts.a": 300,
        "marts.b": 1,
        "marts.fct_event_impact": 3,
        "raw.daily_prices": 3,
    }
    assert result.views == ("staging.stg_daily_prices",)
    assert result.macros == ("marts.event_impact",)
    assert not temporaries(target.parent)
    assert not Path(f"{target}.wal").exists()

    manifest = json.loads((target.parent / "publish_manifest.json").read_text())
    assert manifest["run_id"] == "run-3"
    assert manifest["source_warehouse"] == str(warehouse)
    assert manifest["catalog"] == CATALOG
    assert manifest["tables"] == result.tables
    assert publish.read_manifest(target) == manifest
    published_at = manifest["published_at"]
    assert (
        abs(time.time() - __import__("datetime").datetime.fromisoformat(published_at).timestamp())
        < 60
    )

    reader = publish.open_published(target)
    try:
        assert reader.execute("SELECT count(*) FROM staging.stg_daily_prices").fetchone() == (3,)
        assert reader.execute(
            "SELECT ticker, close FROM marts.event_impact(DATE '2024-01-03') ORDER BY ticker"
        ).fetchall() == [("AAA", 11.0), ("BBB", 20.0)]
        assert reader.execute(
            "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'daily_prices' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchall() == [("PRIMARY KEY",)]
        tags = reader.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = ?",
            [CATALOG],
        ).fetchone()[0]
        assert tags.startswith("v1.0.0")
        with pytest.raises(duckdb.Error, match="read-only"):
            reader.execute("CREATE TABLE marts.c (x INTEGER)")
    finally:
        reader.close()


def test_a_warehouse_already_in_the_old_format_is_published_as_its_checkpointed_bytes(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    storage.connect(warehouse).close()  # how the warehouse is created: in the v1.0.0 format
    writer = make_warehouse(warehouse, version=2)
    write_version(writer, 4)  # still in the write-ahead log until the publish checkpoints
    result = publish.publish(writer)
    writer.close()

    assert result.storage_version == "v1.0.0"
    assert result.size_bytes == warehouse.stat().st_size  # a byte copy, not a re-encoded one
    assert result.tables["marts.a"] == 400 and result.tables["marts.b"] == 1
    reader = publish.open_published(result.path)
    try:
        assert reader.execute("SELECT version FROM marts.b").fetchall() == [(4,)]
        assert reader.execute(
            "SELECT count(*) FROM marts.event_impact(DATE '2024-01-03')"
        ).fetchone() == (2,)
    finally:
        reader.close()


def test_a_table_the_old_format_cannot_hold_falls_back_to_a_newer_one(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse)
    writer.execute("CREATE TABLE raw.payloads AS SELECT 42::VARIANT AS payload")
    result = publish.publish(writer)
    writer.close()
    assert result.storage_version == "v1.5.0"
    assert result.tables["raw.payloads"] == 1
    assert not temporaries(result.path.parent)


def test_a_copy_under_another_name_is_opened_under_the_warehouse_catalog(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse)
    target = tmp_path / "elsewhere" / "copy.duckdb"
    result = publish.publish(writer, published=target)
    writer.close()
    assert result.path == target and result.warnings
    reader = publish.open_published(target)
    try:
        assert reader.execute(
            "SELECT count(*) FROM marts.event_impact(DATE '2024-01-03')"
        ).fetchone() == (2,)
    finally:
        reader.close()


def test_nothing_published_yet_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(publish.NotPublishedError, match="make demo.*nightly refresh"):
        publish.open_published(tmp_path / "published" / "market_warehouse.duckdb")
    with pytest.raises(ValueError, match="read-only"):
        publish.open_published(tmp_path / "x.duckdb", read_only=False)


def test_the_copy_never_replaces_the_warehouse_itself(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse)
    with pytest.raises(publish.PublishError, match="warehouse file itself"):
        publish.publish(writer, published=warehouse)
    writer.close()


# ---------------------------------------------------------------------------------------------
# Failures publish nothing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failing_step", ["_copy_database", "_verify_copy", "_fsync_file"])
def test_a_failed_publish_leaves_the_previous_copy_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_step: str
) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    first = publish.publish(writer, run_id="run-1")
    published_bytes = first.path.read_bytes()
    manifest_bytes = first.manifest_path.read_bytes()

    write_version(writer, 2)
    real_step = getattr(publish, failing_step)

    def fail_after_real_step(*args, **kwargs):
        real_step(*args, **kwargs)  # the temporary copy exists and is (partly) written
        assert temporaries(first.path.parent)
        raise OSError("disk full")

    monkeypatch.setattr(publish, failing_step, fail_after_real_step)
    with pytest.raises(OSError, match="disk full"):
        publish.publish(writer, run_id="run-2")

    assert first.path.read_bytes() == published_bytes
    assert first.manifest_path.read_bytes() == manifest_bytes
    assert not temporaries(first.path.parent), "the temporary copy was left behind"
    # The writer's connection is still usable: the next publish works.
    monkeypatch.setattr(publish, failing_step, real_step)
    assert publish.publish(writer, run_id="run-3").tables["marts.b"] == 1
    writer.close()
    reader = publish.open_published(first.path)
    assert reader.execute("SELECT version FROM marts.b").fetchone() == (2,)
    reader.close()


def test_a_copy_that_misses_a_view_is_not_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse)
    real_inventory = publish._inventory

    def inventory_with_a_view_the_copy_lacks(connection, catalog):
        tables, views, macros = real_inventory(connection, catalog)
        return tables, views | {"marts.ghost"}, macros

    monkeypatch.setattr(
        publish,
        "_inventory",
        lambda c, cat: (
            inventory_with_a_view_the_copy_lacks(c, cat) if c is writer else real_inventory(c, cat)
        ),
    )
    with pytest.raises(publish.PublishError, match="lacks views marts.ghost"):
        publish.publish(writer)
    writer.close()
    target = published_file(warehouse)
    assert not target.exists() and not temporaries(target.parent)


def test_a_dead_publishers_temporary_file_is_cleaned_up(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse)
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(finished.stdout)
    directory = published_file(warehouse).parent
    directory.mkdir()
    suffix = publish.TEMPORARY_SUFFIX
    abandoned = [
        directory / f".{warehouse.name}.{dead_pid}.0123456789ab{suffix}",
        directory / f".{warehouse.name}.{dead_pid}.0123456789ab{suffix}.wal",
        directory / f".publish_manifest.json.{dead_pid}.ba9876543210{suffix}",
    ]
    in_progress = directory / f".{warehouse.name}.{os.getpid()}.00000000000a{suffix}"
    for path in (*abandoned, in_progress):
        path.write_bytes(b"half a copy")
    publish.publish(writer)
    writer.close()
    assert not any(path.exists() for path in abandoned)
    assert in_progress.exists(), "a live publisher's file must be left alone"


# ---------------------------------------------------------------------------------------------
# Readers and the writer, in separate processes
# ---------------------------------------------------------------------------------------------

HOLDING_READER = """
import sys, duckdb
path = sys.argv[1]
held = duckdb.connect(path, read_only=True)
print("ready", held.execute("SELECT version FROM marts.b").fetchone()[0], flush=True)
sys.stdin.readline()  # the writer refreshes and publishes meanwhile
print("held", held.execute("SELECT version FROM marts.b").fetchone()[0],
      held.execute("SELECT count(*) FROM marts.a").fetchone()[0], flush=True)
held.close()
fresh = duckdb.connect(path, read_only=True)
print("fresh", fresh.execute("SELECT version FROM marts.b").fetchone()[0],
      fresh.execute("SELECT count(*) FROM marts.a").fetchone()[0], flush=True)
"""


def test_a_reader_holding_the_copy_open_never_blocks_the_refresh(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    target = publish.publish(writer, run_id="run-1").path
    writer.close()

    reader = start_python(HOLDING_READER, str(target))
    try:
        assert reader.stdout.readline().split() == ["ready", "1"], reader.stderr.read()
        # The nightly run opens the warehouse read-write, refreshes it and publishes, while the
        # reader still holds its read-only connection to the published copy.
        writer = duckdb.connect(str(warehouse))
        write_version(writer, 2)
        publish.publish(writer, run_id="run-2")
        writer.close()
        out, err = reader.communicate("go\n", timeout=30)
    finally:
        reader.kill()
    assert reader.returncode == 0, err
    held, fresh = (line.split() for line in out.splitlines())
    assert held == ["held", "1", "100"], "the open connection keeps seeing the old, whole copy"
    assert fresh == ["fresh", "2", "200"], "a new connection sees the new copy"
    assert publish.read_manifest(target)["run_id"] == "run-2"


def test_premise_a_reader_of_the_warehouse_file_itself_would_block_the_writer(
    tmp_path: Path,
) -> None:
    """Why the copy exists: DuckDB refuses a writer while another process reads the file."""
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    make_warehouse(warehouse).close()
    reader = start_python(HOLDING_READER, str(warehouse))
    try:
        assert reader.stdout.readline().startswith("ready"), reader.stderr.read()
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(warehouse))
    finally:
        reader.kill()
        reader.wait()


POLLING_READER = """
import json, os, sys, duckdb
path, stop = sys.argv[1], sys.argv[2]
reads, errors = [], []
while True:
    stopping = os.path.exists(stop)  # the last read starts after the last publish
    try:
        connection = duckdb.connect(path, read_only=True)
        try:
            reads.append(connection.execute(
                "SELECT (SELECT min(version) FROM marts.a), (SELECT max(version) FROM marts.a), "
                "(SELECT count(*) FROM marts.a), (SELECT min(version) FROM marts.b), "
                "(SELECT max(version) FROM marts.b)").fetchone())
        finally:
            connection.close()
    except Exception as error:
        errors.append(repr(error))
    if len(reads) == 1 and not errors:
        print("ready", flush=True)
    if stopping:
        break
print(json.dumps({"reads": reads, "errors": errors}), flush=True)
"""


def test_a_polling_reader_only_ever_sees_whole_refreshes(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=1)
    target = publish.publish(writer).path
    stop = tmp_path / "stop"
    reader = start_python(POLLING_READER, str(target), str(stop))
    versions = range(2, 9)
    try:
        assert reader.stdout.readline().strip() == "ready", reader.stderr.read()
        for version in versions:
            write_version(writer, version)
            publish.publish(writer, run_id=f"run-{version}")
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        reader.kill()
        writer.close()
    assert reader.returncode == 0, err
    report = json.loads(out.splitlines()[-1])
    assert report["errors"] == []
    reads = [tuple(read) for read in report["reads"]]
    for a_min, a_max, a_rows, b_min, b_max in reads:
        assert a_min == a_max == b_min == b_max, f"a refresh seen half-way: {reads}"
        assert a_rows == a_max * 100, f"table a seen half-written: {reads}"
    seen = [read[0] for read in reads]
    assert seen == sorted(seen), "a reader went back to an older copy"
    assert seen[-1] == versions[-1]
    assert len(set(seen)) >= 2, "the reader did not overlap the publishes"


# ---------------------------------------------------------------------------------------------
# The Dagster asset
# ---------------------------------------------------------------------------------------------


def _stand_in_marts(*, failing: str | None = None):
    """Assets under the real mart keys that write a mart table each; ``failing`` raises."""
    import dagster as dg

    from orchestration.defs.publish.assets import mart_asset_keys

    def make(key: dg.AssetKey) -> dg.AssetsDefinition:
        name = key.path[-1]

        @dg.asset(key=key, pool="warehouse", required_resource_keys={"warehouse"})
        def _mart(context) -> None:
            if name == failing:
                raise RuntimeError(f"dbt failed to build {name}")
            with context.resources.warehouse.connect() as connection:
                connection.execute("CREATE SCHEMA IF NOT EXISTS marts")
                connection.execute(f"CREATE OR REPLACE TABLE marts.{name} AS SELECT 1 AS x")

        return _mart

    return [make(key) for key in mart_asset_keys()]


def test_the_published_asset_runs_after_the_marts_and_only_when_they_all_succeeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from orchestration.defs.publish.assets import MARTS, published_warehouse
    from orchestration.resources import WarehouseResource

    warehouse = tmp_path / f"{CATALOG}.duckdb"
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(warehouse))  # restored after the test
    resources = {"warehouse": WarehouseResource(path=str(warehouse))}

    good = dg.materialize([*_stand_in_marts(), published_warehouse], resources=resources)
    assert good.success
    [materialization] = good.asset_materializations_for_node("published_warehouse")
    metadata = materialization.metadata
    target = published_file(warehouse)
    assert metadata["path"].value == str(target)
    assert metadata["published_at"].value > 0
    tables = {
        record.data["table"]: record.data["rows"] for record in metadata["tables"].value.records
    }
    assert {f"marts.{name}" for name in MARTS} <= set(tables)
    assert publish.read_manifest(target)["run_id"] == good.run_id
    published_bytes = target.read_bytes()

    bad = dg.materialize(
        [*_stand_in_marts(failing="fct_event_impact"), published_warehouse],
        resources=resources,
        raise_on_error=False,
    )
    assert not bad.success
    assert bad.asset_materializations_for_node("published_warehouse") == []
    assert target.read_bytes() == published_bytes
    assert publish.read_manifest(target)["run_id"] == good.run_id


def test_the_published_asset_depends_on_every_mart_and_the_quality_record() -> None:
    from orchestration.defs.publish.assets import (
        MARTS,
        QUALITY_TABLES,
        mart_asset_keys,
        published_warehouse,
    )

    spec = next(iter(published_warehouse.specs))
    upstream = {dep.asset_key for dep in spec.deps}
    assert upstream == set(mart_asset_keys()) | set(QUALITY_TABLES)
    assert set(MARTS) <= {key.path[-1] for key in upstream}
    assert spec.group_name == "publish" and spec.kinds == {"duckdb"} and spec.description
    assert published_warehouse.op.pool == "warehouse"
