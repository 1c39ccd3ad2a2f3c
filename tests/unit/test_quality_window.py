"""The quality work of a run is confined to the days it loaded: a bad bar outside the window is
neither flagged again nor dropped from the record, a bad bar inside it is flagged, and a window
computation finds what a whole-history one finds on the window's days."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from tests.unit.test_quality import (
    D0,
    D1,
    D2,
    D3,
    D4,
    D5,
    JAN,
    MARKET,
    RUN,
    _bar,
    _closes,
    _load,
    _marts,
    _prices,
    _warehouse,
    _with_sessions,
)
from warehouse import storage
from warehouse.calendars import sessions_frame
from warehouse.quality import anomalies, coverage, integrity, moves
from warehouse.quality.rules import MoveRules, StalenessRules
from warehouse.quality.sql import WHOLE_HISTORY, load_window, run_window

FIRST, SECOND = datetime(2025, 7, 1), datetime(2025, 7, 2)


def _market_with(overrides: dict[tuple[str, date], float]) -> duckdb.DuckDBPyConnection:
    """The unit market's marts (with the mart's previous_trade_date), some returns overridden."""
    con = _warehouse()
    con.execute("create schema marts")
    returns, securities = _marts(MARKET)
    returns = returns.sort_values(["ticker", "trade_date"])
    returns["previous_trade_date"] = returns.groupby("ticker")["trade_date"].shift()
    for (ticker, day), value in overrides.items():
        at = (returns["ticker"] == ticker) & (returns["trade_date"] == day)
        returns.loc[at, ["simple_return", "raw_close_return"]] = value
    for name, frame in (("fct_daily_returns", returns), ("dim_security", securities)):
        con.register("frame", frame)
        con.execute(f"create table marts.{name} as select * from frame")
        con.unregister("frame")
    return con


def _record(con: duckdb.DuckDBPyConnection, run_id: str, now: datetime, since: date) -> None:
    anomalies.record_anomalies(con, moves=MoveRules(), staleness=StalenessRules(), run_id=run_id,
                               now=now, since=since)


def _anomalies(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.sql("select * from quality.price_anomalies").df().set_index(
        ["ticker", "trade_date", "check_name"])


# --- the run's window ---------------------------------------------------------------------------


def test_the_window_is_what_the_run_loaded_else_the_latest_load_else_everything() -> None:
    con = _warehouse()
    assert run_window(con, "run-a") == WHOLE_HISTORY
    assert run_window(con, None) == WHOLE_HISTORY
    _load(con, (D0, D1), _bar("AAA", D0, 10, 11, 9, 10), run_id="run-a")
    _load(con, (D4, D5), _bar("AAA", D4, 10, 11, 9, 10), run_id="run-b")
    assert run_window(con, "run-a") == (D0, D1)
    assert run_window(con, "a-run-that-loaded-nothing") == WHOLE_HISTORY
    # a check judges its own run's load, or the latest load when its run loaded nothing
    assert load_window(con, "raw.daily_prices", "run-a") == (D0, D1)
    assert load_window(con, "raw.daily_prices", "a-check-run") == (D4, D5)
    assert load_window(con, "raw.daily_prices") == (D4, D5)
    assert load_window(con, "raw.fx_rates", "run-a") == WHOLE_HISTORY


# --- quarantine -------------------------------------------------------------------------------


def test_a_nightly_quarantine_judges_its_window_and_keeps_the_older_rows() -> None:
    con = _warehouse()
    _load(con, (D0, D0), _bar("OLD", D0, 10, 11, 9, 12), run_id="run-a")  # close above high
    integrity.quarantine(con, run_id="run-a", now=FIRST, since=run_window(con, "run-a")[0])
    # the old bar is corrected behind the warehouse's back, outside any load: a nightly run
    # over D2..D3 does not look at it again, and a bad bar of its own window is quarantined
    storage.upsert(con, "daily_prices", _prices(_bar("OLD", D0, 10, 12, 9, 12)),
                   run_id="manual", source="test")
    _load(con, (D2, D3), _bar("NEW", D2, 10, 11, 9, 0), run_id="run-b")
    stats = integrity.quarantine(con, run_id="run-b", now=SECOND,
                                 since=run_window(con, "run-b")[0])
    assert (stats.found, stats.new, stats.released) == (2, 2, 0)  # NEW: non_positive, outside
    stored = con.sql("select ticker, trade_date, run_id, first_seen, last_seen "
                     "from quality.quarantined_prices order by all").fetchall()
    assert stored == [
        ("NEW", D2, "run-b", SECOND, SECOND), ("NEW", D2, "run-b", SECOND, SECOND),
        ("OLD", D0, "run-a", FIRST, FIRST),
    ]
    # a whole-history run (a rebuild) judges it again: corrected, it is released
    assert integrity.quarantine(con, run_id="run-c", now=SECOND).released == 1


# --- large moves, the record and the detected events --------------------------------------------


def test_a_nightly_record_flags_its_window_and_keeps_the_history() -> None:
    # LONER's -15% on D2 (outside the nightly window D5..D5) and SOFT's -40% on D5 (inside)
    # are bad ticks the first run could not see: they are written into the marts afterwards
    con = _market_with({})
    _record(con, "build", FIRST, WHOLE_HISTORY[0])
    built = _anomalies(con)
    events_built = con.sql("select * from quality.detected_market_events").df()
    assert ("CHIP1", pd.Timestamp(D4), "large_drop") in built.index

    con.execute("update marts.fct_daily_returns set simple_return = -0.4, raw_close_return = -0.4 "
                "where ticker = 'SOFT' and trade_date = ?", [D5])
    con.execute("update marts.fct_daily_returns set simple_return = -0.35, "
                "raw_close_return = -0.35 where ticker = 'SPIKE' and trade_date = ?", [D1])
    _record(con, "nightly", SECOND, D5)
    nightly = _anomalies(con)

    # inside the window: flagged by this run
    soft = nightly.loc[("SOFT", pd.Timestamp(D5), "large_drop")]
    assert (soft.run_id, soft.first_seen) == ("nightly", pd.Timestamp(SECOND))
    # outside it: not re-processed, so not flagged now ...
    assert ("SPIKE", pd.Timestamp(D1), "large_drop") not in nightly.index
    # ... and every earlier finding stays in the record; those before the window's previous
    # session untouched, the last move before the window re-classified (its next session is new)
    assert set(built.index) <= set(nightly.index)
    before = nightly[nightly.index.get_level_values("trade_date") < pd.Timestamp(D4)]
    assert set(before["run_id"]) == {"build"}
    assert set(before["last_seen"]) == {pd.Timestamp(FIRST)}
    chip1 = nightly.loc[("CHIP1", pd.Timestamp(D4), "large_drop")]
    assert (chip1.run_id, chip1.first_seen) == ("nightly", pd.Timestamp(FIRST))
    # the D4 market event, outside the window, is kept as the first run found it
    events = con.sql("select * from quality.detected_market_events").df()
    kept = events[events["event_date"] == pd.Timestamp(D4)]
    assert len(kept) == len(events_built) and set(kept["run_id"]) == {"build"}

    # a run over the whole history (a rebuild) finds the old bad tick too
    _record(con, "rebuild", SECOND, WHOLE_HISTORY[0])
    assert ("SPIKE", pd.Timestamp(D1), "large_drop") in _anomalies(con).index


@pytest.mark.parametrize("since", [D1, D2, D3, D4, D5])
def test_moves_of_a_window_are_those_of_the_whole_history(since: date) -> None:
    con = _market_with({})
    whole = moves.classified_moves(con, MoveRules())
    windowed = con.execute(
        f"select * from ({moves.CLASSIFIED_MOVES_SQL}) where trade_date >= $since "
        "order by trade_date, ticker",
        {**moves.move_parameters(con, MoveRules(), since)}).df()
    expected = whole[whole["trade_date"] >= pd.Timestamp(since)].reset_index(drop=True)
    pd.testing.assert_frame_equal(windowed, expected, check_dtype=False)
    # the scan reaches back to the bar before each security's last move before the window
    assert moves.scan_start(con, since) == SESSIONS_BEFORE[since]


SESSIONS_BEFORE = {D1: D0, D2: D0, D3: D1, D4: D2, D5: D3}


def test_a_stale_run_is_read_back_to_its_start_whatever_the_window() -> None:
    con = _with_sessions("FLAT", "GAPPY")
    january = [day.date() for day in sessions_frame(["XNYS"], date(2025, 1, 1), date(2025, 1, 31))
               ["session_date"]]
    # FLAT's close stands still all January: 20 sessions, longer than the first look-back
    storage.upsert(con, "daily_prices", _prices(
        *[_bar("FLAT", day, 5, 5, 5, 5) for day in january],
        *_closes("GAPPY", {16: 5, 17: 6, 22: 7, 23: 8, 24: 9}),
    ), run_id=RUN, source="test")
    rules = StalenessRules()
    last = january[-1]
    nightly = coverage.stale_closes(con, rules, "raw.daily_prices", (last, last))
    whole = coverage.stale_closes(con, rules, "raw.daily_prices", WHOLE_HISTORY)
    pd.testing.assert_frame_equal(nightly, whole)
    assert nightly[["ticker", "trade_date"]].values.tolist() == [["FLAT", pd.Timestamp(january[0])]]
    assert f"on 20 consecutive XNYS sessions, {january[0]}..{last}" in nightly["reason"].item()
    # the look-back was widened until the run's start was in
    assert coverage.scan_parameters(con, last, rules)["bars_from"] <= january[0]
    # missing sessions of a window: GAPPY lacks the 21st
    missing = coverage.missing_sessions(con, "raw.daily_prices", (JAN[21], JAN[24]))
    assert missing[["ticker", "trade_date"]].values.tolist() == [["GAPPY", pd.Timestamp(JAN[21])]]
    assert coverage.missing_sessions(con, "raw.daily_prices", (JAN[22], JAN[24])).empty
