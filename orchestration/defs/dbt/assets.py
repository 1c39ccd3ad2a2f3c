"""dbt models as Dagster assets. dbt sources named `raw` resolve to the ingestion assets' keys
(`raw/<table>`), so lineage runs from the source through to the marts; dbt tests become asset checks.

Models tagged `partitioned` (incremental per trading day) share the ingestion partitions and get
their refresh window from the run; everything else is rebuilt whole, which is cheap for them."""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.partitions import partition_dates, trading_day_partitions
from orchestration.resources import WarehouseResource

PARTITIONED_SELECTOR = "tag:partitioned"
WAREHOUSE_POOL = "warehouse"


class WarehouseDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """Groups follow the layers: staging, intermediate, marts, reference (seeds), history."""
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "seed":
            return "reference"
        if resource_type == "snapshot":
            return "history"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


translator = WarehouseDbtTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=PARTITIONED_SELECTOR,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    name="dbt_models",
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """Seeds, snapshot, staging, intermediate and the event-study marts, rebuilt and tested."""
    yield from dbt.cli(["build"], context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=PARTITIONED_SELECTOR,
    dagster_dbt_translator=translator,
    partitions_def=trading_day_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    name="dbt_incremental_models",
)
def dbt_incremental_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """Incremental models: only the trading days of the run's partition range are recomputed."""
    first_day, last_day = partition_dates(context)
    refresh_window = {"refresh_start": first_day.isoformat(), "refresh_end": last_day.isoformat()}
    yield from dbt.cli(["build", "--vars", json.dumps(refresh_window)], context=context).stream()
