"""On the bundled snapshot's build, the quality SQL of a nightly window finds, on the window's
days, exactly what the whole-history computation finds (the DeepSeek day among them)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from warehouse.quality.anomalies import ANOMALIES_SQL
from warehouse.quality.coverage import scan_parameters
from warehouse.quality.moves import DETECTED_EVENTS_SQL, move_parameters
from warehouse.quality.rules import MoveRules, StalenessRules, sql_parameters
from warehouse.quality.sql import query

pytestmark = pytest.mark.e2e

DEEPSEEK = date(2025, 1, 27)


def _parameters(con: duckdb.DuckDBPyConnection, since: date) -> dict[str, object]:
    return {**sql_parameters(MoveRules(), StalenessRules()),
            **move_parameters(con, MoveRules(), since), **scan_parameters(con, since),
            "run_id": "test"}


def _rows(frame: pd.DataFrame) -> set[tuple]:
    return set(frame.astype(object).where(frame.notna(), None).itertuples(index=False))


@pytest.mark.parametrize("since", [DEEPSEEK, date(2025, 4, 7), date(2025, 6, 24)])
def test_a_window_finds_what_the_whole_history_finds_on_its_days(
    built_warehouse: Path, since: date
) -> None:
    with duckdb.connect(str(built_warehouse), read_only=True) as con:
        whole = query(con, ANOMALIES_SQL, _parameters(con, date.min))
        windowed = query(con, ANOMALIES_SQL, _parameters(con, since))
        whole_events = query(con, DETECTED_EVENTS_SQL, _parameters(con, date.min))
        events = query(con, DETECTED_EVENTS_SQL, _parameters(con, since))
    # every finding of the window is one of the whole history's (a stale run or the last move
    # before the window may be dated earlier), and none of the window's days is missed
    assert _rows(windowed) <= _rows(whole)
    assert _rows(whole[whole["trade_date"] >= pd.Timestamp(since)]) <= _rows(windowed)
    assert len(windowed) < len(whole)
    # the same events, up to the last bits of the sums (summation order)
    key = ["event_date", "scope", "direction"]
    expected = whole_events[whole_events["event_date"] >= pd.Timestamp(since)]
    pd.testing.assert_frame_equal(events.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True),
                                  check_dtype=False)
    if since == DEEPSEEK:
        day = windowed[(windowed["trade_date"] == pd.Timestamp(DEEPSEEK))
                       & windowed["check_name"].str.startswith("large_")].set_index("ticker")
        for ticker in ("NVDA", "AVGO", "TSM", "ARM", "ORCL"):
            assert day.loc[ticker, "classification"] == "market_event", ticker
        assert "MSFT" not in day.index
        assert set(events[events["scope"] == "market"]["event_date"]) >= {pd.Timestamp(DEEPSEEK)}
