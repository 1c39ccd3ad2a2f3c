"""What publish refuses: a copy whose tables shrank sharply against the current one (issue item
4b), relations nobody declares such as dbt's `__dbt_tmp` leftovers (item 5), and a build that
would create a new warehouse over a published copy (item 4a, the check the CLI calls)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_publish import CATALOG, make_warehouse, write_version
from warehouse import publish, settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (settings.PUBLISHED_PATH_ENV, publish.MAX_SHRINK_ENV, publish.REBUILD_ENV):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------------------------------------
# Shrinking tables
# ---------------------------------------------------------------------------------------------


def test_shrunk_tables_names_raw_and_mart_tables_that_lost_too_many_rows() -> None:
    previous = {
        "raw.daily_prices": 12354,
        "marts.dim_security": 25,
        "marts.gone": 10,
        "quality.price_anomalies": 40,
        "marts.empty": 0,
        "raw.fx_rates": 100,
    }
    current = {
        "raw.daily_prices": 6000,
        "marts.dim_security": 1,
        "quality.price_anomalies": 2,
        "marts.empty": 0,
        "raw.fx_rates": 50,
        "marts.new": 3,
    }
    assert publish.shrunk_tables(previous, current, 0.5) == [
        "marts.dim_security from 25 to 1 rows (-96%)",
        "marts.gone from 10 to 0 rows (-100%)",
        "raw.daily_prices from 12354 to 6000 rows (-51%)",
    ]  # fx_rates lost exactly half: allowed; quality tables shrink legitimately
    assert publish.shrunk_tables(previous, current, 0.99) == [
        "marts.gone from 10 to 0 rows (-100%)"
    ]
    assert publish.shrunk_tables(previous, current, 1.0) == []


def test_the_shrink_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert publish.configured_max_shrink() == publish.DEFAULT_MAX_SHRINK == 0.5
    monkeypatch.setenv(publish.MAX_SHRINK_ENV, "0.9")
    assert publish.configured_max_shrink() == 0.9
    for bad in ("half", "1.5", "-0.1"):
        monkeypatch.setenv(publish.MAX_SHRINK_ENV, bad)
        with pytest.raises(publish.PublishError, match=f"{publish.MAX_SHRINK_ENV}=.*fix or unset"):
            publish.configured_max_shrink()


def test_a_rebuild_is_requested_by_run_tag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not publish.rebuild_requested({})
    assert not publish.rebuild_requested({publish.REBUILD_TAG: "false"})
    assert publish.rebuild_requested({publish.REBUILD_TAG: "true"})
    monkeypatch.setenv(publish.REBUILD_ENV, "1")
    assert publish.rebuild_requested(None)


def test_a_copy_that_lost_most_of_a_table_is_refused_unless_the_rebuild_is_deliberate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The field failure: the warehouse file went missing, a build from 2024 created a new one
    and published it, exit 0, and readers lost 2023."""
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=5)  # marts.a: 500 rows
    first = publish.publish(writer, run_id="run-5")
    published_bytes = first.path.read_bytes()

    write_version(writer, 2)  # marts.a: 200 rows, -60%
    with pytest.raises(publish.PublishError) as refused:
        publish.publish(writer, run_id="run-2")
    message = str(refused.value)
    assert "\n" not in message
    assert "marts.a from 500 to 200 rows (-60%)" in message
    assert "run-5" in message and "--new-warehouse" in message and publish.REBUILD_ENV in message
    assert first.path.read_bytes() == published_bytes
    assert publish.read_manifest(first.path)["run_id"] == "run-5"
    assert len(list((first.path.parent / publish.VERSIONS_DIR).iterdir())) == 1

    monkeypatch.setenv(publish.MAX_SHRINK_ENV, "0.7")
    assert publish.publish(writer, run_id="run-2a").tables["marts.a"] == 200
    monkeypatch.delenv(publish.MAX_SHRINK_ENV)
    write_version(writer, 1)
    assert publish.publish(writer, run_id="run-1", rebuild=True).tables["marts.a"] == 100
    writer.close()


def test_a_shrinking_quality_table_is_published(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse)
    writer.execute("CREATE SCHEMA quality")
    writer.execute("CREATE TABLE quality.price_anomalies AS SELECT range AS n FROM range(40)")
    publish.publish(writer)
    writer.execute("DELETE FROM quality.price_anomalies WHERE n > 0")
    assert publish.publish(writer).tables["quality.price_anomalies"] == 1
    writer.close()


# ---------------------------------------------------------------------------------------------
# Relations nobody declares
# ---------------------------------------------------------------------------------------------


def test_a_dbt_tmp_leftover_is_not_published(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse)
    documented = {
        "raw.daily_prices",
        "staging.stg_daily_prices",
        "marts.fct_event_impact",
        "marts.a",
        "marts.b",
    }
    first = publish.publish(writer, run_id="run-1", documented=documented)
    leftover = "int_event_residual_correlation_groups__dbt_tmp20250101120000"
    writer.execute(f"CREATE TABLE main.{leftover} AS SELECT 1 AS x")
    with pytest.raises(publish.PublishError) as refused:
        publish.publish(writer, run_id="run-2", documented=documented)
    message = str(refused.value)
    assert "\n" not in message and f"main.{leftover}" in message and "drop them" in message
    assert publish.read_manifest(first.path)["run_id"] == "run-1"
    writer.execute(f"DROP TABLE main.{leftover}")
    assert publish.publish(writer, run_id="run-3", documented=documented).run_id == "run-3"
    writer.close()


def test_undocumented_relations() -> None:
    assert publish.undocumented_relations(
        ["marts.a", "main.x__dbt_tmp1", "staging.v"], {"marts.a", "staging.v", "marts.unbuilt"}
    ) == ["main.x__dbt_tmp1"]


def test_the_documented_relations_are_dbts_and_the_loaders() -> None:
    from orchestration.defs.publish.assets import _dbt_manifest, documented_relations

    manifest = {
        "nodes": {
            "model.p.stg": {
                "resource_type": "model",
                "schema": "staging",
                "name": "stg",
                "config": {"materialized": "view"},
            },
            "model.p.eph": {
                "resource_type": "model",
                "schema": "staging",
                "name": "eph",
                "config": {"materialized": "ephemeral"},
            },
            "seed.p.events": {
                "resource_type": "seed",
                "schema": "reference",
                "name": "events",
                "alias": "events",
                "config": {"materialized": "seed"},
            },
            "test.p.not_null": {
                "resource_type": "test",
                "schema": "dbt_test",
                "name": "not_null",
                "config": {"materialized": "test"},
            },
        }
    }
    documented = documented_relations(manifest)
    assert {"staging.stg", "reference.events", "raw.daily_prices", "raw.load_log"} <= documented
    assert not documented & {"staging.eph", "dbt_test.not_null"}
    real = _dbt_manifest()
    if real is not None:
        # the quality tables are dbt models too
        assert {
            "marts.dim_security",
            "marts.fct_event_impact",
            "quality.price_anomalies",
            "intermediate.int_event_residual_correlation_groups",
        } <= documented_relations(real)


# ---------------------------------------------------------------------------------------------
# A build that would create a new warehouse over a published copy
# ---------------------------------------------------------------------------------------------


def test_a_missing_warehouse_with_a_published_copy_is_named(tmp_path: Path) -> None:
    warehouse = tmp_path / f"{CATALOG}.duckdb"
    writer = make_warehouse(warehouse, version=2)
    target = publish.publish(writer, run_id="run-2").path
    writer.close()
    assert publish.new_warehouse_refusal(warehouse, target) is None

    moved = tmp_path / "moved.duckdb"
    warehouse.rename(moved)
    refusal = publish.new_warehouse_refusal(warehouse, target)
    assert refusal is not None and "\n" not in refusal
    assert str(warehouse) in refusal and "run-2" in refusal and "--new-warehouse" in refusal
    nothing_published = tmp_path / "none" / "x.duckdb"
    assert publish.new_warehouse_refusal(tmp_path / "new.duckdb", nothing_published) is None


def test_the_manifest_records_the_version_it_describes(tmp_path: Path) -> None:
    writer = make_warehouse(tmp_path / f"{CATALOG}.duckdb")
    result = publish.publish(writer, run_id="run-1")
    writer.close()
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["version"] == result.database.parent.name
    assert manifest["database_file"] == f"{CATALOG}.duckdb"
    facts = result.database.stat()
    assert (manifest["size_bytes"], manifest["modified_ns"]) == (facts.st_size, facts.st_mtime_ns)


def test_the_publish_asset_refuses_a_shrunk_copy_unless_the_run_is_tagged_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Dagster-launched run has no CLI in front of it: the publish step is the guard."""
    import dagster as dg

    from orchestration.defs.publish.assets import published_warehouse
    from orchestration.resources import WarehouseResource

    warehouse = tmp_path / f"{CATALOG}.duckdb"
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(warehouse))
    resources = {"warehouse": WarehouseResource(path=str(warehouse))}
    rows = {"dim_security": 25}

    @dg.asset(key=["marts", "dim_security"], pool="warehouse", required_resource_keys={"warehouse"})
    def dim_security(context) -> None:
        with context.resources.warehouse.connect() as connection:
            connection.execute("CREATE SCHEMA IF NOT EXISTS marts")
            connection.execute(
                "CREATE OR REPLACE TABLE marts.dim_security AS SELECT range AS n FROM range(?)",
                [rows["dim_security"]],
            )

    def materialize(**kwargs):
        return dg.materialize(
            [dim_security, published_warehouse], resources=resources, raise_on_error=False, **kwargs
        )

    assert materialize().success
    rows["dim_security"] = 1
    refused = materialize()
    assert not refused.success
    assert publish.read_manifest(settings.published_path())["tables"]["marts.dim_security"] == 25
    rebuilt = materialize(tags={publish.REBUILD_TAG: "true"})
    assert rebuilt.success
    assert publish.read_manifest(settings.published_path())["run_id"] == rebuilt.run_id
