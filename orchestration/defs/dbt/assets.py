"""The dbt project as one Dagster multi-asset. dbt sources named `raw` resolve to the ingestion
assets' keys (`raw/<table>`), so lineage runs from the source through to the marts; dbt tests
become asset checks.

The whole project is built by ONE `dbt build` per run: each dbt invocation starts a process and
loads the project, a fixed cost paid once. Models tagged `incremental` are incremental and
recompute only the trading days of the run's partition range (see
dbt_project/macros/refresh_window.sql); the others are small and rebuilt whole. The dbt assets
themselves are not partitioned: Dagster records a materialization per asset and partition, and a
full build over decades of trading days would write hundreds of thousands of them."""

import os
import shutil
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.resources import WarehouseResource
from warehouse import settings

WAREHOUSE_POOL = "warehouse"
REFRESH_START_ENV = "MARKET_WAREHOUSE_REFRESH_START"
# dagster-dbt gives every invocation its own target folder, where dbt writes its parse state; read
# from (and copied back to) one fixed file, it lets each run re-parse only what changed since the
# last one instead of the whole project.
PARTIAL_PARSE_FILE_ENV = "DBT_PARTIAL_PARSE_FILE_PATH"
PARTIAL_PARSE_FILE = dbt_project.manifest_path.parent / "partial_parse.msgpack"
# Each invocation leaves its artifacts (run_results.json, compiled SQL, dbt.log) in its own folder;
# the newest are kept for debugging, the rest deleted so nightly runs do not fill the disk.
KEPT_INVOCATION_FOLDERS = 20


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


def run_window(tags: Mapping[str, str]) -> tuple[date, date] | None:
    """The trading days of the run's partitions (a range, or a single partition), from its tags;
    None for a run without partitions."""
    first = tags.get(ASSET_PARTITION_RANGE_START_TAG) or tags.get(PARTITION_NAME_TAG)
    last = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get(PARTITION_NAME_TAG)
    if not first or not last:
        return None
    return date.fromisoformat(first), date.fromisoformat(last)


def dbt_environment(window: tuple[date, date] | None) -> dict[str, str]:
    """What the dbt process needs to know about the run: its window (without one, incremental
    models recompute their last few days), and where partial parsing keeps its state. Passed in
    the environment, not as --vars: changed --vars make dbt re-parse the whole project."""
    environment = {PARTIAL_PARSE_FILE_ENV: str(PARTIAL_PARSE_FILE)}
    if window is not None:
        environment[REFRESH_START_ENV] = window[0].isoformat()
    return environment


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    name="dbt_models",
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """Seeds, snapshot, staging, intermediate and marts, built and tested in one dbt invocation:
    incremental models over the run's trading days, the rest whole."""
    # the subprocess copies the environment when it starts, inside this block
    with settings.environment(dbt_environment(run_window(context.run.tags))):
        invocation = dbt.cli(["build"], context=context)
    yield from invocation.stream()
    keep_parse_state(invocation.target_path / PARTIAL_PARSE_FILE.name)
    prune_invocation_folders(invocation.target_path.parent, keep=KEPT_INVOCATION_FOLDERS)


def keep_parse_state(written: Path) -> None:
    """Replaces the shared parse state with the one this invocation wrote, atomically, so the
    next run never reads a half-written file."""
    if written.exists() and written != PARTIAL_PARSE_FILE:
        staged = PARTIAL_PARSE_FILE.with_suffix(".tmp")
        shutil.copyfile(written, staged)
        os.replace(staged, PARTIAL_PARSE_FILE)


def prune_invocation_folders(target: Path, *, keep: int) -> list[Path]:
    """Deletes all but the `keep` newest invocation folders of this asset in `target`."""
    folders = sorted(
        (path for path in target.glob(f"{dbt_models.op.name}-*") if path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return folders[keep:]
