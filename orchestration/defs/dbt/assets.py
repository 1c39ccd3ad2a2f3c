"""The dbt project as one Dagster multi-asset. dbt sources named `raw` resolve to the ingestion
assets' keys (`raw/<table>`), so lineage runs from the source through to the marts; dbt tests
become asset checks.

The whole project is built by ONE `dbt build` per run: each dbt invocation starts a process and
loads the project, a fixed cost paid once. Models tagged `incremental` are incremental and
recompute only the trading days of the run's partition range (see
dbt_project/macros/refresh_window.sql); the others are small and rebuilt whole. The dbt assets
themselves are not partitioned: Dagster records a materialization per asset and partition, and a
full build over decades of trading days would write hundreds of thousands of them.

Every materialization carries its row count, its column types and, for the marts, a preview: the
warehouse is read after dbt has exited, because DuckDB lets no other process open a file while
dbt writes it.

The multi-asset is defined from the manifest when the definitions are built (see
``dbt_models_definition``), not at import; every other definition names a dbt asset with
``dbt_asset_key``."""

import contextlib
import functools
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    dbt_assets,
    get_asset_key_for_model,
)
from dagster_shared.record import replace

from orchestration.defs.checks.resources import QualityRulesResource
from orchestration.defs.dbt.project import dbt_project, prepared_manifest
from orchestration.metadata import OWNERS, PREVIEW_ROWS, markdown_text, preview
from orchestration.partitions import RunWindow, run_window
from orchestration.pools import WAREHOUSE_POOL
from orchestration.resources import WarehouseResource
from orchestration.retries import retry_transient_errors
from warehouse import settings, storage
from warehouse.storage.connection import locked_error

# The one channel of the run window into dbt: the first trading day its incremental models
# recompute (an ISO date), read by dbt_project/macros/refresh_window.sql.
REFRESH_START_ENV = "MARKET_WAREHOUSE_REFRESH_START"
# The Dagster run the quality models record their rows under (macros/quality_window.sql).
RUN_ID_ENV = "MARKET_WAREHOUSE_RUN_ID"
# dagster-dbt gives every invocation its own target folder, where dbt writes its parse state; read
# from (and copied back to) one fixed file, it lets each run re-parse only what changed since the
# last one instead of the whole project.
PARTIAL_PARSE_FILE_ENV = "DBT_PARTIAL_PARSE_FILE_PATH"
PARTIAL_PARSE_FILE = dbt_project.manifest_path.parent / "partial_parse.msgpack"
# Each invocation leaves its artifacts (run_results.json, compiled SQL, dbt.log) in its own folder;
# the newest are kept for debugging, the rest deleted so nightly runs do not fill the disk.
KEPT_INVOCATION_FOLDERS = 20
# The seed of market events, and the group of the models that study them.
EVENTS_SEED = "events"
EVENT_STUDY_GROUP = "event_study"
# The layers whose tables people query: their materializations show a few rows.
PREVIEWED_GROUPS = {"marts", EVENT_STUDY_GROUP}
ROW_COUNT = "dagster/row_count"
COLUMN_SCHEMA = "dagster/column_schema"
# Failing nodes named in a failure's message after the first (the rest are in failed_nodes).
SHOWN_FAILURES = 3
# dbt's own failure statuses in run_results.json.
_FAILED_STATUSES = {"error", "fail", "runtime error"}


class WarehouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self, manifest_path: Path, settings: DagsterDbtTranslatorSettings) -> None:
        super().__init__(settings=settings)
        self._manifest_path = manifest_path

    @functools.cached_property
    def _event_study_nodes(self) -> frozenset[str]:
        manifest = json.loads(self._manifest_path.read_text())
        seeds = [
            unique_id
            for unique_id, node in manifest["nodes"].items()
            if node["resource_type"] == "seed" and node["name"] == EVENTS_SEED
        ]
        return frozenset(descendants(manifest.get("child_map", {}), seeds))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """Groups follow the layers: reference (seeds), staging, intermediate, history
        (snapshot), marts; the models that read the events seed (the event-study
        intermediates and marts) are the `event_study` group. The event study reads the daily
        marts, so in the intermediate and marts groups it would make them depend on each other
        and the collapsed lineage would run backwards."""
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "seed":
            return "reference"
        if resource_type == "snapshot":
            return "history"
        if dbt_resource_props.get("unique_id") in self._event_study_nodes:
            return EVENT_STUDY_GROUP
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # The UI renders descriptions as markdown and drops anything that looks like an HTML tag,
        # such as the `<measure>_<model>_<window>` of a column-naming rule.
        return markdown_text(super().get_description(dbt_resource_props))

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        return [*(super().get_owners(dbt_resource_props) or []), *OWNERS]

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        """dbt's tags (incremental, story), plus the layer and materialization to filter on."""
        config = dbt_resource_props.get("config", {})
        layer = self.get_group_name(dbt_resource_props) or "dbt"
        return {
            **super().get_tags(dbt_resource_props),
            "layer": layer,
            **({"materialized": config["materialized"]} if config.get("materialized") else {}),
        }

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: Any,
    ) -> dg.AssetCheckSpec | None:
        """dagster-dbt's check, described: the test's own description, else what it asserts."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest["nodes"][unique_id]
        return replace(spec, description=markdown_text(dbt_test_description(test)))


def dbt_test_description(test: Mapping[str, Any]) -> str:
    """What a dbt test asserts, in words: its YAML description; for a singular test, the leading
    comment of its SQL; for a generic test, its name, column and arguments."""
    if test.get("description"):
        return str(test["description"])
    metadata = test.get("test_metadata")
    if not metadata:
        comment = []
        for line in str(test.get("raw_code", "")).splitlines():
            stripped = line.strip()
            if stripped.startswith("--"):
                comment.append(stripped.removeprefix("--").strip())
            elif comment or (stripped and not stripped.startswith("{{")):
                break
        return (
            " ".join(comment) or f"Singular dbt test {test['name']}: passes when it selects no row."
        )
    column = test.get("column_name")
    arguments = {
        name: value
        for name, value in (metadata.get("kwargs") or {}).items()
        if name not in ("column_name", "model") and value not in (None, "", [], {})
    }
    subject = f"`{column}`" if column else "the model"
    claim = _GENERIC_CLAIMS.get(metadata["name"], f"passes dbt's `{metadata['name']}` test")
    described_arguments = "; ".join(f"{name}: `{value}`" for name, value in arguments.items())
    config = test.get("config") or {}
    # __refresh_window__ is the project's placeholder for the rows the run rebuilt
    where = str(config.get("where") or "").replace("__refresh_window__", "in the run's window")
    return (
        f"{subject} {claim}"
        + (f" ({described_arguments})" if described_arguments else "")
        + (f", on rows {where}" if where else "")
        + f". Severity {str(config.get('severity', 'error')).upper()}."
    )


# What the generic tests assert, worded for the check's page.
_GENERIC_CLAIMS = {
    "not_null": "is never null",
    "unique": "is unique",
    "accepted_values": "takes only the accepted values",
    "relationships": "refers to an existing row",
    "unique_combination": "is unique on the combination of columns",
    "expression_is_true": "satisfies the expression on every row",
}


def descendants(child_map: Mapping[str, Sequence[str]], roots: Sequence[str]) -> set[str]:
    """Every node downstream of ``roots`` in dbt's child_map (the roots excluded)."""
    found: set[str] = set()
    frontier = list(roots)
    while frontier:
        for child in child_map.get(frontier.pop(), ()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


translator = WarehouseDbtTranslator(
    dbt_project.manifest_path,
    settings=DagsterDbtTranslatorSettings(enable_code_references=True),
)


def dbt_environment(window: RunWindow | None, database: Path, run_id: str) -> dict[str, str]:
    """What the dbt process needs to know about the run: the warehouse file (profiles.yml reads
    it, so dbt writes the file the resource resolved), its window (without one, incremental
    models recompute their last few days), its id, and where partial parsing keeps its state.
    Passed in the environment, not as --vars: changed --vars make dbt re-parse the whole
    project, a changed variable only the files that read it."""
    environment = {
        PARTIAL_PARSE_FILE_ENV: str(PARTIAL_PARSE_FILE),
        settings.WAREHOUSE_PATH_ENV: str(database),
        RUN_ID_ENV: run_id,
    }
    if window is not None:
        environment[REFRESH_START_ENV] = window.first_day.isoformat()
    return environment


def dbt_build_args(variables: Mapping[str, Any]) -> list[str]:
    """`dbt build`, with ``variables`` (the quality thresholds) as --vars when there are any.
    Vars that stay the same from run to run keep partial parsing; the run window, which changes
    every run, goes in the environment instead (see dbt_environment)."""
    if not variables:
        return ["build"]
    return ["build", "--vars", json.dumps(dict(variables), sort_keys=True)]


@functools.cache
def dbt_models_definition() -> dg.AssetsDefinition:
    """The dbt multi-asset, defined once per process from the prepared manifest."""

    @dbt_assets(
        manifest=prepared_manifest(),
        project=dbt_project,
        dagster_dbt_translator=translator,
        pool=WAREHOUSE_POOL,
        name="dbt_models",
    )
    def dbt_models(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
        quality_rules: QualityRulesResource,
    ) -> Iterator[Any]:
        """Seeds, snapshot, staging, intermediate, marts and the quality models, built and tested
        in one dbt invocation: incremental models over the run's trading days, the rest whole;
        the quality models with the quality_rules resource's thresholds."""
        yield from build_dbt_project(
            context, dbt, warehouse, variables=quality_rules.quality_rules_vars()
        )

    return dbt_models


def dbt_asset_key(name: str) -> dg.AssetKey:
    """The Dagster key of the dbt model, seed or snapshot ``name``, as the translator names it:
    the one way other definitions refer to a dbt asset. KeyError when the project has none."""
    return get_asset_key_for_model([dbt_models_definition()], name)


def build_dbt_project(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    *,
    variables: Mapping[str, Any],
) -> Iterator[Any]:
    with retry_transient_errors(context):
        # dbt gives up on a locked file at once, with DuckDB's bare IO error: wait here, as every
        # other step does, and let the retry policy take over when the holder stays.
        storage.connect(
            warehouse.database_path, lock_timeout_seconds=warehouse.lock_timeout_seconds
        ).close()
        # the subprocess copies the environment when it starts, inside this block
        run_environment = dbt_environment(
            run_window(context), warehouse.database_path, context.run.run_id
        )
        with settings.environment(run_environment):
            invocation = dbt.cli(dbt_build_args(variables), context=context, raise_on_error=False)
        # On DuckDB, dagster-dbt reads row counts and column types after dbt has exited.
        events = list(
            invocation.stream().fetch_row_counts().fetch_column_metadata(with_column_lineage=False)
        )
        close_adapter_connections(invocation)
        failure = dbt_failure(invocation)
        # another process took the file between the wait above and dbt's connect
        locked = failure.lock_error() if failure is not None else None
        if locked is not None:
            raise locked
    with warehouse.connect(read_only=True) as connection:
        yield from (with_table_metadata(event, connection) for event in events)
    prune_invocation_folders(invocation.target_path.parent, keep=KEPT_INVOCATION_FOLDERS)
    if failure is not None:
        raise dg.Failure(description=failure.message, metadata=failure.metadata())
    keep_parse_state(invocation.target_path / PARTIAL_PARSE_FILE.name)


def __getattr__(name: str) -> dg.AssetsDefinition:
    # `assets.dbt_models`, defined on first use (see dbt_models_definition)
    if name == "dbt_models":
        return dbt_models_definition()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dg.definitions
def dbt_definitions() -> dg.Definitions:
    return dg.Definitions(assets=[dbt_models_definition()])


def close_adapter_connections(invocation: DbtCliInvocation) -> None:
    """Closes the read-only connections dagster-dbt's adapter opened in this process to read the
    metadata. DuckDB refuses a second connection to a file in a process with another
    configuration, so left open they would stop this step's and the next steps' connections."""
    manager = invocation.adapter.connections if invocation.adapter is not None else None
    # dbt-duckdb keeps its database open between connections (keep_open) in one environment
    if manager is not None and all(
        hasattr(manager, name) for name in ("env", "close_all_connections")
    ):
        invocation.adapter.cleanup_connections()
        with contextlib.suppress(Exception):  # no environment: nothing was opened
            manager.env().close()
        manager.close_all_connections()


@dataclass(frozen=True)
class DbtFailure:
    """Why `dbt build` failed: its failing nodes with their messages, and dbt's first error."""

    failed_nodes: Sequence[tuple[str, str]]
    first_error: str
    log_path: Path

    def lock_error(self) -> storage.WarehouseLockedError | None:
        """The project's lock error (holder named) when dbt failed on the warehouse's lock."""
        for text in (self.first_error, *(message for _, message in self.failed_nodes)):
            locked = locked_error(RuntimeError(text))
            if locked is not None:
                return locked
        return None

    @property
    def message(self) -> str:
        """The first failing node with its error, the next few by name, where the log is."""
        if self.failed_nodes:
            (node, error), *others = self.failed_nodes
            cause = f"{node_name(node)}: {error_line(error)}"
        else:
            others, cause = [], first_line(self.first_error) or "no error message"
        shown = ", ".join(node_name(other) for other, _ in others[:SHOWN_FAILURES])
        hidden = len(others) - SHOWN_FAILURES
        return (
            f"dbt build failed: {cause}"
            + (f". Also failed: {shown}" if shown else "")
            + (f" and {hidden} more" if hidden > 0 else "")
            + f". Full log: {self.log_path}"
        )

    def metadata(self) -> dict[str, Any]:
        return {
            "failed_nodes": dg.MetadataValue.json(dict(self.failed_nodes)),
            "dbt_log": dg.MetadataValue.path(str(self.log_path)),
        }


def dbt_failure(invocation: DbtCliInvocation) -> DbtFailure | None:
    """None when dbt succeeded; else what failed, from run_results.json and dbt's error lines."""
    error = invocation.get_error()
    if error is None:
        return None
    try:
        results = invocation.get_artifact("run_results.json").get("results", [])
    except FileNotFoundError:  # dbt failed before running any node (e.g. could not connect)
        results = []
    return DbtFailure(
        failed_nodes=failed_nodes(results),
        first_error=first_dbt_error(str(error)),
        log_path=invocation.target_path / "dbt.log",
    )


def failed_nodes(results: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(node, message) of every run_results entry that errored or failed, in dbt's order."""
    return [
        (str(result.get("unique_id", "?")), str(result.get("message") or result.get("status")))
        for result in results
        if str(result.get("status", "")).lower() in _FAILED_STATUSES
    ]


def first_dbt_error(error_text: str) -> str:
    """The first of the error lines dagster-dbt parsed from dbt's log (after its own preamble),
    else the text itself."""
    _, marker, errors = error_text.partition("Errors parsed from dbt logs:")
    lines = [line.strip() for line in (errors if marker else error_text).splitlines()]
    return next((line for line in lines if line), "")


def node_name(unique_id: str) -> str:
    """'test.market_warehouse.not_null_x.ab12cd34ef' -> 'test not_null_x'."""
    resource_type, _, rest = unique_id.partition(".")
    _package, _, name = rest.partition(".")
    if resource_type == "test":
        name = name.rsplit(".", 1)[0]
    return f"{resource_type} {name or unique_id}"


def error_line(message: str) -> str:
    """dbt's cause in a node's message ('Catalog Error: Table ... does not exist'), not its
    header ('Runtime Error in test x (file)'); the first line when none names an error."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return next(
        (line for line in lines[1:] if "Error" in line.split(":")[0]), lines[0] if lines else ""
    )


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def with_table_metadata(event: Any, connection: duckdb.DuckDBPyConnection) -> Any:
    """The event with the row count dagster-dbt leaves out (views) and, for a mart, a preview."""
    if not isinstance(event, dg.Output | dg.AssetMaterialization):
        return event
    spec = dbt_models_definition().specs_by_key[dbt_output_key(event)]
    relation = relation_of(spec.metadata)
    if relation is None:
        return event
    extra: dict[str, Any] = {}
    schema = event.metadata.get(COLUMN_SCHEMA)
    if schema is not None:
        extra[COLUMN_SCHEMA] = with_sql_types(schema.schema)
    if ROW_COUNT not in event.metadata:  # dagster-dbt counts tables, not views
        ((count,),) = connection.execute(f"select count(*) from {relation}").fetchall()
        extra[ROW_COUNT] = int(count)
    if spec.group_name in PREVIEWED_GROUPS and spec.key.path[0] == "marts":
        rows = connection.sql(f"select * from {relation} limit {PREVIEW_ROWS}").df()
        extra["preview"] = preview(rows)
    return event.with_metadata({**event.metadata, **extra}) if extra else event


def with_sql_types(schema: dg.TableSchema) -> dg.TableSchema:
    """The schema with DuckDB's type names: dbt's adapter reports VARCHAR as its SQL-standard
    spelling with a nominal length, `character varying(256)`, which DuckDB does not enforce."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=sql_type(column.type),
                description=column.description,
                constraints=column.constraints,
                tags=column.tags,
            )
            for column in schema.columns
        ],
        constraints=schema.constraints,
    )


def sql_type(adapter_type: str) -> str:
    if adapter_type.lower().startswith("character varying"):
        return "VARCHAR"
    return adapter_type


def dbt_output_key(event: dg.Output | dg.AssetMaterialization) -> dg.AssetKey:
    if isinstance(event, dg.AssetMaterialization):
        return event.asset_key
    return dbt_models_definition().keys_by_output_name[event.output_name]


def relation_of(metadata: Mapping[str, Any]) -> str | None:
    """`"schema"."table"` of a dbt node from its spec's table name (database.schema.table), or
    None for a node without one. The database part is left out: it is the file's stem, which
    differs between the warehouse and a copy of it."""
    table = metadata.get("dagster/table_name")
    if table is None:
        return None
    *_, schema, name = str(getattr(table, "value", table)).split(".")
    return f'"{schema}"."{name}"'


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
        (path for path in target.glob(f"{dbt_models_definition().op.name}-*") if path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return folders[keep:]
