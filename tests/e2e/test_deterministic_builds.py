"""Two builds of the same data give the same warehouse, to the last bit, so that users can diff and
checksum it: the nightly build of the bundled snapshot against a copy of it whose every dbt model
was rebuilt from the same raw rows (`dbt run --full-refresh`). Floating-point sums depend on the
order of their terms, and DuckDB adds rows up in whatever order its threads deliver them unless the
aggregate is ordered; the event-study tables differed in their last bits from build to build."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.e2e

SCHEMAS = ("intermediate", "marts")
EVENT_TABLES = {
    "intermediate.int_event_estimation",
    "intermediate.int_event_residual_correlation_groups",
    "marts.fct_event_window_impact",
    "marts.fct_event_impact",
    "marts.agg_event_sector_impact",
}


@pytest.fixture(scope="module")
def rebuilt(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rebuilt")
    path = folder / "warehouse.duckdb"
    shutil.copyfile(built_warehouse, path)
    # models only: the snapshot stamps its rows with the time of the run (dim_security.valid_from)
    run_dbt(path, "run", "--full-refresh", target_dir=folder / "target")
    return path


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where database_name = ? and list_contains(?, schema_name)",
        [database, list(SCHEMAS)],
    ).fetchall()
    return {name for (name,) in rows}


def test_rebuild_gives_identical_tables(built_warehouse: Path, rebuilt: Path) -> None:
    with duckdb.connect() as con:
        con.execute(f"attach '{built_warehouse}' as first (read_only)")
        con.execute(f"attach '{rebuilt}' as second (read_only)")
        tables = _tables(con, "first")
        assert tables == _tables(con, "second")
        assert tables >= EVENT_TABLES
        differing = {}
        for table in sorted(tables):
            # exact comparison, row for row (EXCEPT ALL keeps duplicates)
            only_first, only_second = (
                con.execute(
                    f"select count(*) from (from {a}.{table} except all from {b}.{table})"
                ).fetchone()[0]
                for a, b in (("first", "second"), ("second", "first"))
            )
            if only_first or only_second:
                differing[table] = (only_first, only_second)
            assert con.execute(f"select count(*) from first.{table}").fetchone()[0] > 0, table
    assert differing == {}, "rows of one build missing from the other (first, second)"


def test_ad_hoc_event_impact_is_identical(built_warehouse: Path, rebuilt: Path) -> None:
    """marts.event_impact(date) runs the same aggregates at query time."""
    frames = []
    for path in (built_warehouse, rebuilt):
        with duckdb.connect(str(path), read_only=True) as con:
            query = "from marts.event_impact(date '2025-01-27') order by ticker"
            frames.append(con.execute(query).df())
    assert frames[0]["car_mm_0_0"].notna().sum() > 10
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
