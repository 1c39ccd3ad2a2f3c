"""No dbt staging relation (`__dbt_tmp` in its name) survives a run, so none reaches the published
copy. dbt-duckdb stages the new rows of the incremental Python model
int_event_residual_correlation_groups in a real table `main.<model>__dbt_tmp<timestamp>` and never
drops it: the on-run-end hook drop_dbt_temporary_relations does, in every schema. Here: two nightly
(incremental) dbt builds in a row on a copy of the nightly build."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.e2e


def _dbt_tmp_relations(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return sorted(
            name
            for (name,) in con.execute("""
            select table_schema || '.' || table_name from information_schema.tables
            where contains(table_name, '__dbt_tmp')
            union all
            select schema_name || '.' || table_name from duckdb_tables()
            where contains(table_name, '__dbt_tmp')
            union all
            select schema_name || '.' || view_name from duckdb_views()
            where contains(view_name, '__dbt_tmp')
        """).fetchall()
        )


def test_two_incremental_runs_leave_no_dbt_tmp_relation(
    built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse, path)
    with duckdb.connect(str(path)) as con:
        last_day = con.execute("select max(trade_date) from marts.fct_daily_returns").fetchone()[0]
        # what a run that failed halfway (or one before the hook) left behind, in other schemas
        con.execute("create table marts.interrupted_model__dbt_tmp20250101000000 as select 1 as x")
        con.execute("create view staging.interrupted_view__dbt_tmp20250101000000 as select 1 as x")
    assert set(_dbt_tmp_relations(path)) == {
        "marts.interrupted_model__dbt_tmp20250101000000",
        "staging.interrupted_view__dbt_tmp20250101000000",
    }
    # the nightly path: a refresh window of the last week
    monkeypatch.setenv("MARKET_WAREHOUSE_REFRESH_START", (last_day - timedelta(days=7)).isoformat())
    for night in (1, 2):
        completed = run_dbt(path, "build", target_dir=tmp_path / f"target_{night}")
        # the run was incremental: the Python model staged its rows, and the hook dropped them
        staged = "dropped table main.int_event_residual_correlation_groups__dbt_tmp"
        assert staged in completed.stdout
        assert _dbt_tmp_relations(path) == [], f"night {night}"
