"""The publish guards on the warehouse the nightly job built from the bundled snapshot: the copy
holds only documented relations, and a warehouse that lost its first year is not published
over the copy that has it (issue items 4 and 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.publish.assets import _dbt_manifest, documented_relations
from warehouse import publish, settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (settings.PUBLISHED_PATH_ENV, publish.MAX_SHRINK_ENV, publish.REBUILD_ENV):
        monkeypatch.delenv(name, raising=False)


def test_the_nightly_copy_holds_only_documented_relations(built_warehouse: Path) -> None:
    manifest = publish.read_manifest(settings.published_path(built_warehouse))
    documented = documented_relations(_dbt_manifest())
    published = set(manifest["tables"]) | set(manifest["views"])
    assert published <= documented, sorted(published - documented)
    assert {"marts.dim_security", "marts.fct_event_impact", "raw.daily_prices"} <= published


def test_a_warehouse_that_lost_2023_is_not_published_over_the_copy_that_has_it(
    built_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / built_warehouse.name
    shutil.copyfile(built_warehouse, warehouse)
    target = tmp_path / "published" / warehouse.name
    documented = documented_relations(_dbt_manifest())
    with duckdb.connect(str(warehouse)) as writer:
        good = publish.publish(writer, published=target, run_id="good", documented=documented)
        for table in ("raw.daily_prices", "marts.fct_daily_returns"):
            writer.execute(f"DELETE FROM {table} WHERE trade_date < DATE '2024-06-01'")
        with pytest.raises(publish.PublishError) as refused:
            publish.publish(writer, published=target, run_id="partial", documented=documented)
        assert "raw.daily_prices from" in str(refused.value)
        assert "marts.fct_daily_returns from" in str(refused.value)
        assert publish.read_manifest(target)["run_id"] == "good"
        with publish.open_published(target) as reader:
            first = reader.execute("SELECT min(trade_date) FROM raw.daily_prices").fetchone()[0]
        assert str(first) == "2023-01-02"

        leftover = "main.int_event_residual_correlation_groups__dbt_tmp20250101"
        writer.execute(f"CREATE TABLE {leftover} AS SELECT 1 AS x")
        with pytest.raises(publish.PublishError, match=leftover.replace(".", r"\.")):
            publish.publish(writer, published=target, documented=documented, rebuild=True)
    assert good.tables["raw.daily_prices"] > 0
