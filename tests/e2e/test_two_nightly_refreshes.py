"""Two nightly refreshes in a row over a copy of the snapshot build: each publishes, and the
published copy lists exactly the same tables and views after each (no dbt temporary relation,
nothing a run leaves behind, reaches readers)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.build import run_refresh
from warehouse import publish, settings

pytestmark = pytest.mark.e2e

# The last five sessions of the snapshot: what the nightly run reloads on its last evening.
NIGHTLY_WINDOW = (date(2025, 6, 24), date(2025, 6, 30))


def _published_relations(warehouse: Path) -> list[str]:
    with publish.open_published(settings.published_path(warehouse)) as reader:
        rows = reader.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where database_name = current_database() "
            "union all select schema_name || '.' || view_name from duckdb_views() "
            "where database_name = current_database() and not internal order by 1"
        ).fetchall()
    return [name for (name,) in rows]


def test_two_nightly_refreshes_publish_the_same_relations(
    built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / built_warehouse.name
    shutil.copyfile(built_warehouse, warehouse)
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(warehouse))
    monkeypatch.setenv(settings.SOURCE_ENV, "snapshot")
    monkeypatch.delenv(settings.PUBLISHED_PATH_ENV, raising=False)

    listed = []
    for _ in range(2):
        result = run_refresh(*NIGHTLY_WINDOW)
        assert result.success, f"the nightly refresh failed in {result.failed_steps}"
        listed.append(_published_relations(warehouse))

    assert listed[0] == listed[1]
    assert not [name for name in listed[1] if "__dbt_tmp" in name]
    assert {"marts.fct_event_impact", "raw.daily_prices"} <= set(listed[1])
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        leftovers = connection.execute(
            "select count(*) from duckdb_tables() where table_name like '%\\_\\_dbt\\_tmp%' escape '\\'"
        ).fetchone()[0]
    assert leftovers == 0
