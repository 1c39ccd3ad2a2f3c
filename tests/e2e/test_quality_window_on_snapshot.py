"""On a copy of the bundled snapshot's build, a nightly dbt run of the quality models over a
window finds, on the window's days, exactly what the whole history's build found (the DeepSeek day
among them), and the record it merges into stays the Python quality code's record."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.dbt_helpers import run_dbt
from tests.e2e.test_quality_equivalence import fixture_csv, quality_tables_as_csv

pytestmark = pytest.mark.e2e

DEEPSEEK = date(2025, 1, 27)


def _rows(frame: pd.DataFrame) -> set[tuple]:
    return set(frame.astype(object).where(frame.notna(), None).itertuples(index=False))


def _read(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(sql).df()


@pytest.mark.parametrize("since", [DEEPSEEK, date(2025, 4, 7), date(2025, 6, 24)])
def test_a_window_finds_what_the_whole_history_finds_on_its_days(
    built_warehouse: Path, tmp_path: Path, since: date
) -> None:
    nightly = tmp_path / built_warehouse.name  # dbt's views name the database after the file
    shutil.copyfile(built_warehouse, nightly)
    run_dbt(
        nightly,
        "run",
        "--select",
        "quality",
        "findings",
        dbt_vars={"refresh_start": since.isoformat()},
        target_dir=tmp_path / "dbt",
    )
    moves_sql = "select * from quality.large_moves"
    whole, windowed = _read(built_warehouse, moves_sql), _read(nightly, moves_sql)
    # every move of the window is one of the whole history's (the last move before the window
    # is classified again), and none of the window's days is missed
    assert _rows(windowed) <= _rows(whole)
    assert _rows(whole[whole["trade_date"] >= pd.Timestamp(since)]) <= _rows(windowed)
    assert len(windowed) < len(whole)
    # the record and the events it merged are the whole history's, row for row
    assert quality_tables_as_csv(nightly) == fixture_csv()
    first_seen = "select ticker, trade_date, check_name, first_seen from quality.price_anomalies"
    assert _rows(_read(nightly, first_seen)) == _rows(_read(built_warehouse, first_seen))
    if since == DEEPSEEK:
        day = windowed[(windowed["trade_date"] == pd.Timestamp(DEEPSEEK))].set_index("ticker")
        for ticker in ("NVDA", "AVGO", "TSM", "ARM", "ORCL"):
            assert day.loc[ticker, "classification"] == "market_event", ticker
        assert "MSFT" not in day.index
