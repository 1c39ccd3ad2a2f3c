"""The code location loads, explains itself, and never lets two processes write the warehouse."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml

from warehouse.loading import trailing_weekdays

NEW_YORK = ZoneInfo("America/New_York")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def test_definitions_load_and_validate(definitions: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(definitions)
    keys = {key.to_user_string() for key in definitions.resolve_all_asset_keys()}
    assert {
        "raw/securities",
        "raw/exchange_sessions",
        "raw/daily_prices",
        "raw/corporate_actions",
        "raw/fx_rates",
        "raw/shares_outstanding",
        "raw/fundamentals",
        "raw/quarterly_financials",
    } <= keys
    assert {"marts/fct_event_impact", "marts/agg_sector_daily"} <= {
        f"marts/{key.path[-1]}" for key in definitions.resolve_all_asset_keys()
    }


def test_every_asset_explains_itself(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key.to_user_string()} has no description"
        assert node.kinds, f"{key.to_user_string()} has no kinds"
        assert node.group_name and node.group_name != "default", key.to_user_string()


def test_ingestion_lineage_reaches_the_marts(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    event_impact = next(
        key for key in graph.get_all_asset_keys() if key.path[-1] == "fct_event_impact"
    )
    ancestors = _ancestors(graph, event_impact)
    assert dg.AssetKey(["raw", "daily_prices"]) in ancestors
    assert dg.AssetKey(["raw", "fx_rates"]) in ancestors
    assert dg.AssetKey(["raw", "exchange_sessions"]) in ancestors


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    frontier = [key]
    while frontier:
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                frontier.append(parent)
    return seen


def test_nightly_schedule_is_on_and_requests_the_trailing_window(
    definitions: dg.Definitions,
) -> None:
    schedule = definitions.resolve_schedule_def("nightly_refresh_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.execution_timezone == "America/New_York"
    evening = datetime(2025, 1, 27, 18, 30, tzinfo=NEW_YORK)
    with dg.build_schedule_context(scheduled_execution_time=evening) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["dagster/asset_partition_range_start"] == "2025-01-21"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-01-27"
    assert request.run_key == "nightly-2025-01-27"


def test_nightly_job_runs_the_whole_chain_in_one_process(definitions: dg.Definitions) -> None:
    job = definitions.resolve_job_def("nightly_refresh")
    assert job.executor_def.name == "in_process"
    selected = {key.path[-1] for key in job.asset_layer.selected_asset_keys}
    assert {"daily_prices", "fx_rates", "fct_event_impact", "agg_sector_daily"} <= selected
    assert job.asset_layer.asset_graph.asset_check_keys, "the checks run in the nightly job"


def test_materializations_from_the_ui_run_in_one_process(definitions: dg.Definitions) -> None:
    assert definitions.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"


def test_every_writing_step_is_in_the_single_writer_pool(definitions: dg.Definitions) -> None:
    for assets_def in definitions.resolve_asset_graph().assets_defs:
        if assets_def.is_executable:
            assert assets_def.op.pool == "warehouse", assets_def.op.name
    instance_config = yaml.safe_load((REPO_ROOT / "orchestration" / "dagster.yaml").read_text())
    pools = instance_config["concurrency"]["pools"]
    assert pools == {"granularity": "run", "default_limit": 1}


def test_trailing_window_skips_weekends() -> None:
    assert [d.isoformat() for d in trailing_weekdays(datetime(2025, 1, 27).date(), 5)] == [
        "2025-01-21",
        "2025-01-27",
    ]
    assert trailing_weekdays(datetime(2025, 1, 29).date(), 1)[0].isoformat() == "2025-01-29"
    with pytest.raises(ValueError, match="at least one day"):
        trailing_weekdays(datetime(2025, 1, 29).date(), 0)


def test_daily_market_data_has_a_freshness_policy(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    for table in ("daily_prices", "fx_rates"):
        policy = graph.get(dg.AssetKey(["raw", table])).freshness_policy
        assert policy is not None, table
        assert policy.fail_window.to_timedelta().days == 5


def test_the_whole_dbt_project_is_one_unpartitioned_step(definitions: dg.Definitions) -> None:
    from orchestration.defs.dbt.assets import dbt_models

    assert dbt_models.partitions_def is None  # one materialization per asset, not per trading day
    models = {key.path[-1] for key in dbt_models.keys}
    assert {
        "stg_daily_prices",
        "fct_daily_returns",
        "fct_event_impact",
        "agg_sector_daily",
    } <= models


def test_dbt_gets_the_run_window_and_the_warehouse_in_its_environment(tmp_path: Path) -> None:
    from orchestration.defs.dbt.assets import dbt_environment
    from orchestration.partitions import RunWindow, run_window

    nightly = run_window(
        {
            "dagster/asset_partition_range_start": "2025-06-24",
            "dagster/asset_partition_range_end": "2025-06-30",
        }
    )
    assert nightly == RunWindow(date(2025, 6, 24), date(2025, 6, 30))
    database = tmp_path / "warehouse.duckdb"
    assert dbt_environment(nightly, database, "run-1") == {
        "DBT_PARTIAL_PARSE_FILE_PATH": str(
            REPO_ROOT / "dbt_project" / "target" / "partial_parse.msgpack"
        ),
        "MARKET_WAREHOUSE_DB": str(database),
        "MARKET_WAREHOUSE_REFRESH_START": "2025-06-24",
        "MARKET_WAREHOUSE_RUN_ID": "run-1",
    }
    assert run_window({"dagster/partition": "2025-01-27"}) == RunWindow(
        date(2025, 1, 27), date(2025, 1, 27)
    )
    assert run_window({}) is None
    assert "MARKET_WAREHOUSE_REFRESH_START" not in dbt_environment(None, database, "run-1")


def test_the_run_window_is_the_tags_the_schedule_and_the_cli_ask_for() -> None:
    from orchestration.partitions import RunWindow, run_window

    window = RunWindow(date(2025, 6, 24), date(2025, 6, 30))
    assert run_window(window.run_tags()) == window
    first_day, last_day = window  # unpacks as the (first, last) pair loaders take
    assert (first_day, last_day) == (window.first_day, window.last_day)


def test_quality_vars_reach_dbt_build_as_vars() -> None:
    from orchestration.defs.dbt.assets import dbt_build_args, dbt_models

    assert "quality_rules" in dbt_models.required_resource_keys  # its thresholds are the vars
    assert dbt_build_args({}) == ["build"]
    assert dbt_build_args({"spike_factor": 5.0, "drop_threshold": -0.1}) == [
        "build",
        "--vars",
        '{"drop_threshold": -0.1, "spike_factor": 5.0}',
    ]


def test_importing_the_code_location_runs_nothing() -> None:
    """No dbt parse, no setting read at import: both happen when the definitions are built."""
    import subprocess
    import sys

    probe = (
        "import os, orchestration.definitions, orchestration.defs.dbt.project as p, "
        "orchestration.partitions as q\n"
        "assert p.prepared_manifest.cache_info().currsize == 0\n"
        "assert q.trading_day_partitions.cache_info().currsize == 0\n"
        "os.environ['MARKET_WAREHOUSE_HISTORY_START'] = '2024-01-01'\n"
        "from orchestration.definitions import defs\n"
        "start = defs().resolve_job_def('nightly_refresh').partitions_def.start\n"
        "assert start.date().isoformat() == '2024-01-01', start\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "MARKET_WAREHOUSE_HISTORY_START"}
    subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=environment, check=True)


def test_only_the_newest_dbt_invocation_folders_are_kept(tmp_path: Path) -> None:
    from orchestration.defs.dbt.assets import prune_invocation_folders

    for age in range(5):
        folder = tmp_path / f"dbt_models-{age:07d}-abcdef0"
        folder.mkdir()
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (1_000_000 - age, 1_000_000 - age))
    (tmp_path / "partial_parse.msgpack").write_bytes(b"state")
    deleted = prune_invocation_folders(tmp_path, keep=2)
    assert sorted(path.name for path in deleted) == [
        "dbt_models-0000002-abcdef0",
        "dbt_models-0000003-abcdef0",
        "dbt_models-0000004-abcdef0",
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "dbt_models-0000000-abcdef0",
        "dbt_models-0000001-abcdef0",
        "partial_parse.msgpack",
    ]
