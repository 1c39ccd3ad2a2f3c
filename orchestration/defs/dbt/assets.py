"""The dbt project as one Dagster multi-asset. dbt sources named `raw` resolve to the ingestion
assets' keys (`raw/<table>`), so lineage runs from the source through to the marts; dbt tests
become asset checks.

The whole project is built by ONE `dbt build` per run: each dbt invocation starts a process and
loads the project, a fixed cost paid once. The assets share the ingestion's trading-day partitions:
models tagged `partitioned` are incremental and recompute only the run's window (see
dbt_project/macros/refresh_window.sql); the others are small and rebuilt whole."""


import os
import shutil
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.partitions import partition_dates, trading_day_partitions
from orchestration.resources import WarehouseResource
from warehouse import settings

WAREHOUSE_POOL = "warehouse"
REFRESH_START_ENV = "MARKET_WAREHOUSE_REFRESH_START"
REFRESH_END_ENV = "MARKET_WAREHOUSE_REFRESH_END"
# dagster-dbt gives every invocation its own target folder, where dbt writes its parse state; read
# from (and copied back to) one fixed file, it lets each run re-parse only what changed since the
# last one instead of the whole project.
PARTIAL_PARSE_FILE_ENV = "DBT_PARTIAL_PARSE_FILE_PATH"
PARTIAL_PARSE_FILE = dbt_project.manifest_path.parent / "partial_parse.msgpack"


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


def refresh_window_environment(first_day: date, last_day: date) -> dict[str, str]:
    """What the dbt process needs to know about the run: its window, and where partial parsing
    keeps its state. Passed in the environment, not as --vars: changed --vars make dbt re-parse
    the whole project."""
    return {
        REFRESH_START_ENV: first_day.isoformat(),
        REFRESH_END_ENV: last_day.isoformat(),
        PARTIAL_PARSE_FILE_ENV: str(PARTIAL_PARSE_FILE),
    }


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    partitions_def=trading_day_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    name="dbt_models",
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """Seeds, snapshot, staging, intermediate and marts, built and tested in one dbt invocation:
    incremental models over the run's trading days, the rest whole."""
    # the subprocess copies the environment when it starts, inside this block
    with settings.environment(refresh_window_environment(*partition_dates(context))):
        invocation = dbt.cli(["build"], context=context)
    yield from invocation.stream()
    keep_parse_state(invocation.target_path / PARTIAL_PARSE_FILE.name)


def keep_parse_state(written: Path) -> None:
    """Replaces the shared parse state with the one this invocation wrote, atomically, so the
    next run never reads a half-written file."""
    if written.exists() and written != PARTIAL_PARSE_FILE:
        staged = PARTIAL_PARSE_FILE.with_suffix(".tmp")
        shutil.copyfile(written, staged)
        os.replace(staged, PARTIAL_PARSE_FILE)
