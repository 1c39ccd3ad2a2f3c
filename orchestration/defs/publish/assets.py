"""The published read-only copy: the last step of every refresh.

It runs only when every mart was built and tested in this run (Dagster skips it when an upstream
step failed), so a failed refresh publishes nothing and readers keep the last good copy. See
``warehouse/publish.py`` for how the copy is made and swapped in atomically."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from orchestration.defs.dbt.assets import dbt_asset_key, dbt_models_definition
from orchestration.defs.dbt.project import dbt_project
from orchestration.pools import WAREHOUSE_POOL
from orchestration.resources import WarehouseResource
from orchestration.retries import retry_transient_errors
from warehouse import publish, settings
from warehouse.storage import RAW_TABLES

GROUP = "publish"
MART_SCHEMA = "marts"
# Readers query the anomaly record too (dbt models), so the copy waits for that night's flags.
QUALITY_TABLES = (dbt_asset_key("price_anomalies"), dbt_asset_key("detected_market_events"))
# The marts readers query; every other model dbt builds in the `marts` schema is added.
MARTS = (
    "fct_daily_returns",
    "dim_security",
    "fct_event_impact",
    "agg_event_sector_impact",
    "agg_sector_daily",
)


def mart_asset_keys() -> list[dg.AssetKey]:
    """The Dagster keys of the dbt marts, as the dbt assets name them: MARTS (a KeyError when
    the project lost one) and every other dbt asset in the marts schema."""
    keys = {dbt_asset_key(name) for name in MARTS}
    keys |= {key for key in dbt_models_definition().keys if key.path[0] == MART_SCHEMA}
    return sorted(keys, key=lambda key: key.path[-1])


# dbt resources that are relations in the warehouse (tests and ephemeral models are not).
_RELATION_RESOURCES = ("model", "seed", "snapshot")


def documented_relations(manifest: Mapping[str, Any]) -> set[str]:
    """Every table and view the warehouse may hold, as ``schema.name``: dbt's models, seeds and
    snapshots, the loaders' raw tables and the quality tables. Anything else (a `__dbt_tmp`
    leftover of an interrupted dbt run) is not published."""
    relations = {spec.qualified_name for spec in RAW_TABLES.values()}
    for node in manifest.get("nodes", {}).values():
        materialized = node.get("config", {}).get("materialized")
        if node.get("resource_type") in _RELATION_RESOURCES and materialized != "ephemeral":
            relations.add(f"{node['schema']}.{node.get('alias') or node['name']}")
    return relations


def _dbt_manifest() -> dict[str, Any] | None:
    try:
        return json.loads(dbt_project.manifest_path.read_text())
    except (OSError, ValueError):
        return None


@dg.asset(
    key="published_warehouse",
    group_name=GROUP,
    kinds={"duckdb"},
    deps=[*mart_asset_keys(), *QUALITY_TABLES],
    pool=WAREHOUSE_POOL,
    description=(
        "Read-only copy of the whole warehouse (raw, staging, intermediate, marts, quality), "
        "replaced atomically after every successful refresh. Every reader (the CLI, notebooks, "
        "the DuckDB CLI, Harlequin) opens this copy read-only, never the warehouse file, so a "
        "reader can never make the refresh fail nor see a refresh half-way."
    ),
)
def published_warehouse(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    target = settings.published_path(warehouse.database_path)
    manifest = _dbt_manifest()
    if manifest is None:
        context.log.warning("No dbt manifest: the copy's relations are not checked against it")
    with retry_transient_errors(context), warehouse.connect() as connection:
        result = publish.publish(
            connection,
            published=target,
            source_path=warehouse.database_path,
            run_id=context.run.run_id,
            documented=documented_relations(manifest) if manifest is not None else None,
            rebuild=publish.rebuild_requested(context.run.tags),
            logger=context.log,
        )
    return dg.MaterializeResult(metadata=publish_metadata(result))


def publish_metadata(result: publish.PublishResult) -> dict[str, Any]:
    return {
        "path": dg.MetadataValue.path(str(result.path)),
        "version": dg.MetadataValue.path(str(result.database)),
        "manifest": dg.MetadataValue.path(str(result.manifest_path)),
        "published_at": dg.MetadataValue.timestamp(result.published_at),
        "storage_version": result.storage_version,
        "size_bytes": result.size_bytes,
        "table_count": len(result.tables),
        "dagster/row_count": sum(result.tables.values()),
        "tables": dg.MetadataValue.table(
            records=[
                dg.TableRecord({"table": name, "rows": rows})
                for name, rows in result.tables.items()
            ],
            schema=dg.TableSchema(
                columns=[dg.TableColumn("table", "string"), dg.TableColumn("rows", "int")]
            ),
        ),
        "views": dg.MetadataValue.json(list(result.views)),
        "macros": dg.MetadataValue.json(list(result.macros)),
    }
