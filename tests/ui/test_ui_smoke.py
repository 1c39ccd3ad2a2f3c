"""The UI's view of the code location, through the GraphQL API a `dagster-webserver` serves (no
browser): the nightly schedule is on, every dbt model's latest materialization carries its row
count and column types, a nightly run launched from the UI past the snapshot's end succeeds as a
no-op, and the published copy holds no dbt leftover table.

One real build over the bundled snapshot (in this process, recorded in a temporary Dagster
instance) is what the test costs; the webserver then reads that instance."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml
from dagster_graphql import DagsterGraphQLClient

from warehouse import settings

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_OP_WINDOW = ("2026-12-01", "2026-12-04")  # after the snapshot's last day
SERVER_START_SECONDS = 90
RUN_SECONDS = 180

SCHEDULES = """
{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
  ... on RepositoryLocation { repositories { schedules { name scheduleState { status } } } }
} } } } }
"""
LATEST_MATERIALIZATIONS = """
query ($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
  assetKey { path }
  assetMaterializations(limit: 1) { metadataEntries {
    label
    ... on IntMetadataEntry { intValue }
    ... on TableSchemaMetadataEntry { schema { columns { name type } } }
  } }
} }
"""


@dataclass(frozen=True)
class Ui:
    url: str
    client: DagsterGraphQLClient
    warehouse: Path

    def query(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_server(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"dagster-webserver did not answer in {SERVER_START_SECONDS}s")


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    from orchestration.build import default_window, run_refresh

    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    instance_config = yaml.safe_load((REPO_ROOT / "orchestration" / "dagster.yaml").read_text())
    # runs launched through GraphQL start at once: no daemon runs in the test to dequeue them
    instance_config["run_coordinator"] = {
        "module": "dagster._core.run_coordinator",
        "class": "DefaultRunCoordinator",
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_config))
    warehouse = root / "market_warehouse.duckdb"
    environment = {
        "DAGSTER_HOME": str(home),
        settings.WAREHOUSE_PATH_ENV: str(warehouse),
        settings.SOURCE_ENV: "snapshot",
        settings.REPORTS_DIR_ENV: str(root / "reports"),
        settings.PUBLISHED_PATH_ENV: str(root / "published" / "market_warehouse.duckdb"),
    }
    with settings.environment(environment):
        # a normal run: the whole snapshot, recorded in the instance the webserver reads
        built = run_refresh(*default_window("snapshot"))
        assert built.success, f"the build failed in {built.failed_steps}"

        port = free_port()
        log = root / "webserver.log"
        webserver = shutil.which("dagster-webserver", path=str(Path(sys.executable).parent))
        assert webserver is not None
        with log.open("wb") as output:
            process = subprocess.Popen(
                [webserver, "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)],
                cwd=REPO_ROOT,
                env={**os.environ, **environment},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_server(url, process, log)
            yield Ui(url, DagsterGraphQLClient("127.0.0.1", port_number=port), warehouse)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_the_nightly_schedule_is_running(ui: Ui) -> None:
    data = ui.query(SCHEDULES)
    schedules = {
        schedule["name"]: schedule["scheduleState"]["status"]
        for entry in data["workspaceOrError"]["locationEntries"]
        for repository in entry["locationOrLoadError"]["repositories"]
        for schedule in repository["schedules"]
    }
    assert schedules["nightly_refresh_schedule"] == "RUNNING"


def test_every_dbt_model_shows_its_row_count_and_column_types(ui: Ui) -> None:
    from orchestration.defs.dbt.assets import dbt_models

    models = [
        key
        for key, spec in dbt_models.specs_by_key.items()
        if str(spec.metadata.get("dagster_dbt/unique_id", "")).startswith("model.")
    ]
    data = ui.query(LATEST_MATERIALIZATIONS, {"keys": [{"path": key.path} for key in models]})
    nodes = {tuple(node["assetKey"]["path"]): node for node in data["assetNodes"]}
    assert set(nodes) == {tuple(key.path) for key in models}
    for path, node in nodes.items():
        (latest,) = node["assetMaterializations"]
        entries = {entry["label"]: entry for entry in latest["metadataEntries"]}
        assert entries["dagster/row_count"]["intValue"] is not None, path
        columns = entries["dagster/column_schema"]["schema"]["columns"]
        assert columns and all(column["type"] for column in columns), path
    impact = {
        entry["label"]
        for entry in nodes[("marts", "fct_event_impact")]["assetMaterializations"][0][
            "metadataEntries"
        ]
    }
    assert "preview" in impact


def test_a_nightly_run_past_the_snapshot_succeeds_as_a_no_op(ui: Ui) -> None:
    run_id = ui.client.submit_job_execution(
        "nightly_refresh",
        tags={
            "dagster/asset_partition_range_start": NO_OP_WINDOW[0],
            "dagster/asset_partition_range_end": NO_OP_WINDOW[1],
        },
    )
    deadline = time.monotonic() + RUN_SECONDS
    status = ui.client.get_run_status(run_id)
    while (
        status
        not in (
            dg.DagsterRunStatus.SUCCESS,
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED,
        )
        and time.monotonic() < deadline
    ):
        time.sleep(2)
        status = ui.client.get_run_status(run_id)
    assert status == dg.DagsterRunStatus.SUCCESS


def test_the_published_copy_holds_no_dbt_leftovers(ui: Ui) -> None:
    published = settings.published_path(ui.warehouse)
    with duckdb.connect(str(published), read_only=True) as connection:
        leftovers = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name like '%\\_\\_dbt\\_tmp%' escape '\\'"
        ).fetchall()
    assert leftovers == []
