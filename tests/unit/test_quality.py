"""The quality rules and their SQL on small hand-built warehouses (in-memory DuckDB, raw tables
written through warehouse.storage, marts built from a synthetic market of six sessions)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import NamedTuple

import duckdb
import pandas as pd
import pytest

from orchestration.defs.checks.resources import QualityRulesResource
from warehouse import storage
from warehouse.calendars import sessions_frame
from warehouse.quality import anomalies, coverage, integrity, moves
from warehouse.quality.rules import IntegrityRules, MoveRules, StalenessRules, sql_parameters

RUN = "run-1"
NOW = datetime(2025, 7, 1, 22, 0)
# Six XNYS sessions around the Martin Luther King Day holiday (2025-01-20 is not one).
D0, D1, D2, D3, D4, D5 = (date(2025, 1, day) for day in (21, 22, 23, 24, 27, 28))
SESSIONS = (D0, D1, D2, D3, D4, D5)
SHARES = 1e9


class Listing(NamedTuple):
    role: str
    sector: str | None
    industry: str | None
    benchmark: str | None
    closes: tuple[float, ...]
    adj_closes: tuple[float, ...] | None = None


SEMIS = ("equity", "Technology", "Semiconductors", "^IDX")
MARKET = {
    "^IDX": Listing("index", None, None, None, (100, 100.5, 100.2, 100, 98.8, 99)),
    "^SEC": Listing("index", None, None, None, (100, 101, 100, 100, 89, 90)),  # D4 -11%
    "CHIP1": Listing(*SEMIS, (100, 101, 100, 100, 83, 85)),  # D4 -17%
    "CHIP2": Listing(*SEMIS, (50, 50, 51, 51, 44.9, 45)),  # D4 -12%
    "CHIP3": Listing(*SEMIS, (20, 20, 20, 20, 18.8, 19)),  # D4 -6%
    "SOFT": Listing("equity", "Technology", "Software", "^IDX", (300, 301, 300, 300, 294, 296)),
    "LONER": Listing("equity", "Industrials", "Machinery", "^IDX", (40, 40, 34, 34.5, 34.3, 34.4)),
    "SPIKE": Listing("equity", "Consumer", "Retail", "^IDX", (10, 10, 16, 10, 10.1, 10)),
    "SECF": Listing("etf", None, None, "^SEC", (30, 30.3, 30, 30, 26.85, 27)),
    # 4-for-1 split on D3: a source whose close is not split-adjusted, without and with adj_close
    "SPLIT": Listing("equity", "Utilities", "Utilities", "^IDX", (400, 400, 400, 100, 101, 100)),
    "SPLITB": Listing("equity", "Utilities", "Utilities", "^IDX", (400, 400, 400, 100, 100, 100),
                      adj_closes=(100, 100, 100, 100, 100, 100)),
    # the close drops 30% for one session while adj_close does not move: one of them is wrong
    "GLITCH": Listing("equity", "Energy", "Oil", "^IDX", (50, 50, 35, 50, 50, 50),
                      adj_closes=(50, 50, 50, 50, 50, 50)),
}


def _marts(market: dict[str, Listing]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """marts.fct_daily_returns and marts.dim_security as dbt builds them, for the columns the
    quality SQL reads."""
    rows = []
    for ticker, listing in market.items():
        adjusted = listing.adj_closes or listing.closes
        bench = market[listing.benchmark].closes if listing.benchmark else None
        for i, day in enumerate(SESSIONS):
            first = i == 0
            rows.append({
                "ticker": ticker, "trade_date": day, "role": listing.role, "exchange": "XNYS",
                "close_price": listing.closes[i],
                "simple_return": None if first else adjusted[i] / adjusted[i - 1] - 1,
                "raw_close_return":
                    None if first else listing.closes[i] / listing.closes[i - 1] - 1,
                "benchmark_ticker": listing.benchmark,
                "benchmark_return": None if first or bench is None else bench[i] / bench[i - 1] - 1,
                "is_exchange_session": True, "sessions_spanned": None if first else 1,
                "market_value_change_usd": None if first or listing.role == "index"
                else SHARES * (listing.closes[i] - listing.closes[i - 1]),
            })
    securities = pd.DataFrame(
        [{"ticker": ticker, "sector": listing.sector, "industry": listing.industry}
         for ticker, listing in market.items()]
    )
    return pd.DataFrame(rows), securities


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    storage.ensure_schema(con)
    return con


def _with_marts(market: dict[str, Listing]) -> duckdb.DuckDBPyConnection:
    con = _warehouse()
    con.execute("create schema marts")
    for name, frame in zip(("fct_daily_returns", "dim_security"), _marts(market), strict=True):
        con.register("frame", frame)
        con.execute(f"create table marts.{name} as select * from frame")
        con.unregister("frame")
    return con


@pytest.fixture(scope="module")
def market() -> Iterator[duckdb.DuckDBPyConnection]:
    con = _with_marts(MARKET)
    splits = pd.DataFrame({"ticker": ["SPLIT", "SPLITB"], "action_date": [D3, D3],
                           "action_type": "split", "value": 4.0})
    storage.upsert(con, "corporate_actions", splits, run_id=RUN, source="test")
    yield con
    con.close()


def _flags(con: duckdb.DuckDBPyConnection, rules: MoveRules | None = None) -> dict:
    found = moves.classified_moves(con, rules or MoveRules())
    return {(row.ticker, row.trade_date.date()): row for row in found.itertuples()}


# --- rules -----------------------------------------------------------------------------------


def test_rules_refuse_thresholds_that_cannot_work() -> None:
    with pytest.raises(ValueError, match="drop_threshold"):
        MoveRules(drop_threshold=0.1)
    with pytest.raises(ValueError, match="min_peers"):
        MoveRules(min_peers=0)
    with pytest.raises(ValueError, match="max_quarantined_share"):
        IntegrityRules(max_quarantined_share=1.5)
    with pytest.raises(ValueError, match="stale_sessions"):
        StalenessRules(stale_sessions=1)


def test_rules_become_the_sql_parameters() -> None:
    parameters = sql_parameters(MoveRules(drop_threshold=-0.2), StalenessRules())
    assert parameters["drop_threshold"] == -0.2
    assert parameters["rise_threshold"] == 0.10
    assert parameters["stale_sessions"] == 5


def test_the_resource_defaults_are_the_rules_defaults_and_now_is_injectable() -> None:
    resource = QualityRulesResource()
    assert resource.move_rules() == MoveRules()
    assert resource.integrity_rules() == IntegrityRules()
    assert resource.staleness_rules() == StalenessRules()
    assert resource.now().tzinfo is not None
    fixed = QualityRulesResource(evaluation_time="2025-07-01T00:00:00+00:00")
    assert fixed.now() == datetime(2025, 7, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="UTC offset"):
        QualityRulesResource(evaluation_time="2025-07-01T00:00:00").now()


# --- large moves -----------------------------------------------------------------------------


def test_peers_falling_together_make_a_market_event(market: duckdb.DuckDBPyConnection) -> None:
    flags = _flags(market)
    for ticker in ("CHIP1", "CHIP2"):
        flag = flags[(ticker, D4)]
        assert (flag.check_name, flag.classification) == ("large_drop", "market_event")
        assert "2 Semiconductors peers moved with it" in flag.reason
    assert flags[("CHIP1", D4)].daily_return == pytest.approx(-0.17)


def test_a_small_move_is_not_flagged(market: duckdb.DuckDBPyConnection) -> None:
    flags = _flags(market)
    assert ("SOFT", D4) not in flags  # -2%, the Microsoft of the synthetic crash
    assert ("CHIP3", D4) not in flags  # -6%: a peer, not a large move


def test_a_move_nothing_else_shares_is_idiosyncratic(market: duckdb.DuckDBPyConnection) -> None:
    flag = _flags(market)[("LONER", D2)]
    assert (flag.check_name, flag.classification) == ("large_drop", "idiosyncratic")
    assert "0 peer(s) moved 5% or more the same way" in flag.reason


def test_a_spike_that_reverts_is_suspect_data_on_both_days(
    market: duckdb.DuckDBPyConnection,
) -> None:
    flags = _flags(market)
    spike, back = flags[("SPIKE", D2)], flags[("SPIKE", D3)]
    assert (spike.check_name, spike.classification) == ("large_rise", "suspect_data")
    assert "gave back 100% of it on 2025-01-24" in spike.reason
    assert (back.check_name, back.classification) == ("large_drop", "suspect_data")


def test_peers_an_order_of_magnitude_smaller_do_not_make_a_market_event() -> None:
    # a 100x tick that reverts, on a day two Software peers and the benchmark rose 5-6%
    software = ("equity", "Technology", "Software", "^IDX")
    con = _with_marts({
        "^IDX": Listing("index", None, None, None, (100, 100, 106, 106, 106, 106)),  # D2 +6%
        "TICK": Listing(*software, (150, 150, 15_000, 150, 150, 150)),  # D2 +9,900%
        "PEER1": Listing(*software, (50, 50, 53, 53, 53, 53)),  # D2 +6%
        "PEER2": Listing(*software, (20, 20, 21, 21, 21, 21)),  # D2 +5%
        "FAN": Listing(*software, (10, 10, 11.2, 11.2, 11.2, 11.2)),  # D2 +12%: 2x its peers
    })
    try:
        flags = _flags(con)
        spike, back = flags[("TICK", D2)], flags[("TICK", D3)]
        assert spike.daily_return == pytest.approx(99.0)
        assert (spike.check_name, spike.classification) == ("large_rise", "suspect_data")
        assert "gave back 100% of it on 2025-01-24" in spike.reason
        assert (back.check_name, back.classification) == ("large_drop", "suspect_data")
        # a move within peer_move_ratio of its peers' stays their market event
        assert flags[("FAN", D2)].classification == "market_event"
        assert "3 Software peers moved with it: TICK +9900.0%, PEER1 +6.0%" in flags[
            ("FAN", D2)].reason
        # the ratio is a rule: at 200x, 9,900% is within the benchmark's 6% again
        assert _flags(con, MoveRules(peer_move_ratio=2000))[("TICK", D2)].classification == (
            "market_event")
    finally:
        con.close()


@pytest.mark.parametrize("ticker", ["SPLIT", "SPLITB"])
def test_a_four_for_one_split_is_a_corporate_action_not_a_drop(
    market: duckdb.DuckDBPyConnection, ticker: str
) -> None:
    flag = _flags(market)[(ticker, D3)]
    assert (flag.check_name, flag.classification) == ("corporate_action_move", "corporate_action")
    assert flag.daily_return == pytest.approx(-0.75)
    assert "4-for-1 split" in flag.reason and "+0.0% with the action undone" in flag.reason


def test_a_raw_close_the_adjusted_close_contradicts_is_suspect_data(
    market: duckdb.DuckDBPyConnection,
) -> None:
    flag = _flags(market)[("GLITCH", D2)]
    assert (flag.check_name, flag.classification) == ("large_drop", "suspect_data")
    assert "close and adj_close disagree" in flag.reason


def test_a_benchmark_move_or_an_index_of_its_own_is_a_market_event(
    market: duckdb.DuckDBPyConnection,
) -> None:
    flags = _flags(market)
    assert flags[("SECF", D4)].classification == "market_event"
    assert "benchmark ^SEC -11.0%" in flags[("SECF", D4)].reason
    assert flags[("^SEC", D4)].classification == "market_event"


def test_thresholds_are_configurable(market: duckdb.DuckDBPyConnection) -> None:
    flags = _flags(market, MoveRules(drop_threshold=-0.16, rise_threshold=0.5))
    assert ("CHIP1", D4) in flags and ("CHIP2", D4) not in flags
    assert flags[("CHIP1", D4)].classification == "idiosyncratic"  # only CHIP2 is 8% down with it
    assert ("SPIKE", D2) in flags and ("LONER", D2) not in flags
    assert len(_flags(market, MoveRules(min_peers=3))) == len(_flags(market))
    assert _flags(market, MoveRules(min_peers=3))[("CHIP1", D4)].classification == "idiosyncratic"


def test_market_events_aggregate_the_market_event_flags(market: duckdb.DuckDBPyConnection) -> None:
    events = market.execute(moves.DETECTED_EVENTS_SQL,
                            {**moves.move_parameters(market, MoveRules()), "run_id": RUN}).df()
    by_scope = events.set_index(["event_date", "scope", "direction"])
    whole_market = by_scope.loc[(pd.Timestamp(D4), "market", "drop")]
    # in scope: the ten equities and ETFs; moving 5%+ down: CHIP1, CHIP2, CHIP3, SECF
    assert (whole_market.securities_flagged, whole_market.securities_moving,
            whole_market.securities_in_scope) == (3, 4, 10)
    assert whole_market.breadth == pytest.approx(0.4)
    assert whole_market.value_change_usd == pytest.approx(-SHARES * (17 + 6.1 + 1.2 + 3.15))
    assert whole_market.tickers_moving.startswith("CHIP1 -17.0%, CHIP2 -12.0%")
    technology = by_scope.loc[(pd.Timestamp(D4), "Technology", "drop")]
    assert (technology.securities_flagged, technology.securities_moving,
            technology.securities_in_scope) == (2, 3, 4)
    # idiosyncratic, suspect and corporate-action moves make no event
    assert set(events["event_date"]) == {pd.Timestamp(D4)}


def test_the_record_keeps_first_seen_and_never_duplicates(
    market: duckdb.DuckDBPyConnection,
) -> None:
    def record(run_id: str, now: datetime) -> anomalies.AnomalyReport:
        return anomalies.record_anomalies(market, moves=MoveRules(), staleness=StalenessRules(),
                                          run_id=run_id, now=now)

    first = record("run-a", datetime(2025, 7, 1))
    second = record("run-b", datetime(2025, 7, 2))
    assert first.anomalies.new == first.anomalies.found == len(_flags(market))
    assert (second.anomalies.found, second.anomalies.new) == (first.anomalies.found, 0)
    stored = market.sql("select * from quality.price_anomalies").df()
    assert len(stored) == first.anomalies.found
    assert set(stored["first_seen"]) == {pd.Timestamp(2025, 7, 1)}
    assert set(stored["last_seen"]) == {pd.Timestamp(2025, 7, 2)}
    assert set(stored["run_id"]) == {"run-b"}
    assert second.market_events == 2  # the D4 drop, market-wide and in Technology


# --- integrity -------------------------------------------------------------------------------


def _bar(ticker: str, day: date, open_: float, high: float, low: float, close: float,
         volume: int | None = 1_000) -> dict:
    return {"ticker": ticker, "trade_date": day, "open": open_, "high": high, "low": low,
            "close": close, "adj_close": None, "volume": volume}


def _prices(*bars: dict) -> pd.DataFrame:
    return pd.DataFrame(list(bars)).astype({"adj_close": "float64", "volume": "Int64"})


def _fx(ticker: str, day: date, open_: float, high: float, low: float, close: float) -> dict:
    return {"ticker": ticker, "rate_date": day, "base_currency": "USD", "quote_currency": "JPY",
            "open": open_, "high": high, "low": low, "close": close}


def _quarantined(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, date]]:
    rows = con.sql("select ticker, reason, trade_date from quality.quarantined_prices").fetchall()
    return set(rows)


def test_impossible_bars_are_quarantined_and_fx_range_quirks_are_kept() -> None:
    con = _warehouse()
    storage.upsert(con, "daily_prices", _prices(
        _bar("GOOD", D0, 10, 11, 9, 10.5),
        _bar("ZERO", D0, 10, 11, 9, 0),
        _bar("CROSSED", D0, 10, 9, 11, 10),
        _bar("HIGHCLOSE", D0, 10, 11, 9, 12),
        _bar("LOWOPEN", D0, 8, 11, 9, 10),
        _bar("SOLDNEG", D0, 10, 11, 9, 10, volume=-5),
    ), run_id=RUN, source="test")
    storage.upsert(con, "fx_rates", pd.DataFrame([
        _fx("JPY=X", D0, 150.05, 150.0, 149.0, 150.05),  # Yahoo's quirk: kept
        _fx("JPY=X", D1, 150.0, 149.0, 151.0, 150.0),  # high below low: impossible anywhere
    ]), run_id=RUN, source="test")
    stats = integrity.quarantine(con, run_id=RUN, now=NOW)
    assert _quarantined(con) == {
        ("ZERO", "non_positive_price", D0), ("ZERO", "close_outside_range", D0),
        ("CROSSED", "high_below_low", D0), ("CROSSED", "open_outside_range", D0),
        ("CROSSED", "close_outside_range", D0), ("HIGHCLOSE", "close_outside_range", D0),
        ("LOWOPEN", "open_outside_range", D0), ("SOLDNEG", "negative_volume", D0),
        ("JPY=X", "high_below_low", D1),
    }
    assert stats.found == stats.new == 9
    quirks = integrity.fx_range_quirks_found(con)
    assert quirks[["ticker", "trade_date"]].values.tolist() == [["JPY=X", pd.Timestamp(D0)]]
    assert quirks["check_name"].item() == "fx_range_quirk"


def test_a_one_day_spike_no_market_makes_is_quarantined() -> None:
    con = _warehouse()
    closes = {
        "TICK": (150, 150, 15_000, 150, 151, 150),  # D2: 100x both neighbours, then back
        "DIP": (150, 150, 150, 1.5, 150, 150),  # D3: a hundredth of both neighbours
        "WHIPSAW": (10, 10, 16, 10, 10, 10),  # D2 +60% and back: suspect_data, stays in
        "JUMP": (10, 10, 40, 41, 40, 40),  # D2 4x and it stays: no spike
        "SPLIT": (400, 400, 400, 100, 400, 100),  # 4-for-1 on D3, a bad D4 tick in between
        "LAST": (10, 10, 10, 10, 10, 1000),  # D5 has no next bar yet: judged by the next run
    }
    storage.upsert(con, "daily_prices", _prices(*(
        _bar(ticker, day, close, close, close, close)
        for ticker, series in closes.items() for day, close in zip(SESSIONS, series, strict=True)
    )), run_id=RUN, source="test")
    storage.upsert(con, "corporate_actions", pd.DataFrame(
        {"ticker": ["SPLIT"], "action_date": [D3], "action_type": "split", "value": 4.0}),
        run_id=RUN, source="test")
    integrity.quarantine(con, run_id=RUN, now=NOW)
    spikes = con.sql("select ticker, trade_date, detail from quality.quarantined_prices "
                     "where reason = 'suspect_spike' order by ticker").fetchall()
    # SPLIT's D4 is 4x both neighbours, but its next bar's date has no split: it is a spike
    assert [(ticker, day) for ticker, day, _ in spikes] == [("DIP", D3), ("SPLIT", D4),
                                                             ("TICK", D2)]
    assert spikes[2][2] == ("price 15000 between 150 on 2025-01-22 and 150 on 2025-01-24: "
                            "100.0x off both, a one-day spike")
    assert "100.0x off both" in spikes[0][2]
    # the window's bars only need their neighbours: judged from D3 on, the same D3 and D4 spikes
    integrity.quarantine(con, run_id="run-2", now=NOW, since=D3)
    assert con.sql("select ticker, trade_date, run_id from quality.quarantined_prices "
                   "order by ticker").fetchall() == [("DIP", D3, "run-2"), ("SPLIT", D4, "run-2"),
                                                     ("TICK", D2, RUN)]
    # the factor is a rule: above 100x, none of these is a spike; at 1.5x, WHIPSAW is one
    integrity.quarantine(con, run_id=RUN, now=NOW, rules=IntegrityRules(spike_factor=101))
    assert con.sql("select count(*) from quality.quarantined_prices").fetchall() == [(0,)]
    integrity.quarantine(con, run_id=RUN, now=NOW, rules=IntegrityRules(spike_factor=1.5))
    assert {ticker for ticker, *_ in _quarantined(con)} == {"TICK", "DIP", "WHIPSAW", "SPLIT"}
    with pytest.raises(ValueError, match="spike_factor"):
        IntegrityRules(spike_factor=1)


def test_a_corrected_bar_is_released_and_a_known_one_keeps_first_seen() -> None:
    con = _warehouse()
    storage.upsert(con, "daily_prices", _prices(_bar("AAA", D0, 10, 11, 9, 12),
                                                _bar("BBB", D0, 10, 11, 9, 0)),
                   run_id=RUN, source="test")
    integrity.quarantine(con, run_id="run-a", now=datetime(2025, 7, 1))
    storage.upsert(con, "daily_prices", _prices(_bar("AAA", D0, 10, 12, 9, 12)),
                   run_id=RUN, source="test")
    stats = integrity.quarantine(con, run_id="run-b", now=datetime(2025, 7, 2))
    assert stats.released == 1 and stats.new == 0
    assert con.sql("select ticker, first_seen, last_seen, run_id from quality.quarantined_prices "
                   "where reason = 'non_positive_price'").fetchall() == [
        ("BBB", datetime(2025, 7, 1), datetime(2025, 7, 2), "run-b")]
    assert "AAA" not in {ticker for ticker, *_ in _quarantined(con)}


def _load(con: duckdb.DuckDBPyConnection, window: tuple[date, date], *bars: dict,
          failures: tuple[tuple[str, str], ...] = (), run_id: str = RUN) -> None:
    storage.write_load(
        con, run_id=run_id, asset_key="raw/corporate_actions+raw/daily_prices", source="test",
        partition_start=window[0], partition_end=window[1], tables={"daily_prices": _prices(*bars)},
        failures=failures, tickers_requested=25, started_at=datetime.now(UTC),
    )


def _day_of_bars(day: date, bad: int, good: int = 25) -> list[dict]:
    """good bars on a day, the first ``bad`` of them with a close above their high."""
    return [_bar(f"T{i:02}", day, 10, 11, 9, 12 if i < bad else 10) for i in range(good)]


def _prices_health(con: duckdb.DuckDBPyConnection) -> integrity.LoadHealth:
    integrity.quarantine(con, run_id=RUN, now=NOW)
    return next(h for h in integrity.load_health(con) if h.table_name == "raw.daily_prices")


def test_one_bad_tick_is_not_systemic_but_a_broken_load_is() -> None:
    rules = IntegrityRules()
    con = _warehouse()
    # an old broken day, outside the latest load's window, no longer counts
    _load(con, (D0, D0), *_day_of_bars(D0, bad=10))
    _load(con, (D1, D1), *_day_of_bars(D1, bad=1), run_id="run-2")
    health = _prices_health(con)
    assert (health.window_start, health.bars, health.quarantined_bars) == (D1, 25, 1)
    assert not health.is_systemic(rules)
    _load(con, (D2, D2), *_day_of_bars(D2, bad=2), run_id="run-3")
    health = _prices_health(con)
    assert health.quarantined_share == pytest.approx(0.08)
    assert health.is_systemic(rules)
    assert not health.is_systemic(IntegrityRules(max_quarantined_share=0.10))


def test_a_ticker_spelt_twice_is_a_duplicated_key_and_always_systemic() -> None:
    con = _warehouse()
    _load(con, (D0, D0), *_day_of_bars(D0, bad=0),
          _bar("nvda ", D0, 10, 11, 9, 10), _bar("NVDA", D0, 10, 11, 9, 10))
    health = _prices_health(con)
    assert _quarantined(con) == {("nvda ", "duplicate_key", D0)}
    assert health.duplicated_keys == 1 and health.quarantined_share < 0.05
    assert health.is_systemic(IntegrityRules(max_quarantined_share=0.5))


# --- coverage --------------------------------------------------------------------------------

WINDOW = (date.min, date.max)
# XNYS sessions around MLK Day: 16, 17, (20 closed), 21, 22, 23, 24
JAN = {day: date(2025, 1, day) for day in (16, 17, 21, 22, 23, 24)}


def _with_sessions(*tickers: str) -> duckdb.DuckDBPyConnection:
    con = _warehouse()
    securities = pd.DataFrame({"ticker": list(tickers), "name": list(tickers), "role": "equity",
                               "exchange": "XNYS", "currency": "USD", "benchmark": None})
    storage.replace_reference_rows(con, "securities", securities, run_id=RUN, source="test")
    storage.replace_reference_rows(con, "exchange_sessions",
                                   sessions_frame(["XNYS"], date(2025, 1, 1), date(2025, 1, 31)),
                                   run_id=RUN, source="test")
    return con


def _closes(ticker: str, closes: dict[int, float]) -> list[dict]:
    return [_bar(ticker, JAN[day], close, close, close, close) for day, close in closes.items()]


def test_a_close_unchanged_for_five_sessions_is_stale_across_a_holiday() -> None:
    con = _with_sessions("FLAT", "QUIET", "GAPPY")
    storage.upsert(con, "daily_prices", _prices(
        # the same close on 16, 17, 21, 22, 23: five sessions, MLK Day in between is no gap
        *_closes("FLAT", {16: 5, 17: 5, 21: 5, 22: 5, 23: 5, 24: 6}),
        # four sessions only
        *_closes("QUIET", {16: 5, 17: 5, 21: 5, 22: 5, 23: 6, 24: 6}),
        # five bars, but session 21 is missing: two runs, neither of five sessions
        *_closes("GAPPY", {16: 5, 17: 5, 22: 5, 23: 5, 24: 5}),
    ), run_id=RUN, source="test")
    stale = coverage.stale_closes(con, StalenessRules(), "raw.daily_prices", WINDOW)
    assert stale[["ticker", "trade_date"]].values.tolist() == [["FLAT", pd.Timestamp(JAN[16])]]
    assert "on 5 consecutive XNYS sessions, 2025-01-16..2025-01-23" in stale["reason"].item()
    assert len(coverage.stale_closes(con, StalenessRules(stale_sessions=4), "raw.daily_prices",
                                     WINDOW)) == 2
    # a run that ended before the latest load's window is not this load's finding
    assert coverage.stale_closes(con, StalenessRules(), "raw.daily_prices",
                                 (JAN[24], JAN[24])).empty


def test_a_missing_session_is_reported_and_a_holiday_is_not() -> None:
    con = _with_sessions("GAPPY")
    storage.upsert(con, "daily_prices", _prices(*_closes("GAPPY", {16: 5, 17: 6, 22: 7, 23: 8})),
                   run_id=RUN, source="test")
    missing = coverage.missing_sessions(con, "raw.daily_prices", WINDOW)
    assert missing[["ticker", "trade_date"]].values.tolist() == [["GAPPY", pd.Timestamp(JAN[21])]]
    assert missing["classification"].item() == "missing_data"
    assert coverage.missing_sessions(con, "raw.daily_prices", (JAN[22], JAN[24])).empty


def test_freshness_judges_the_latest_completed_session_at_an_injected_now() -> None:
    exchanges = {"AAA": "XNYS", "NEVER": "XNYS", "JPY=X": "FX"}
    loaded = {"AAA": date(2025, 6, 27), "JPY=X": date(2025, 6, 30)}
    # 2025-07-01 00:00 UTC: New York closed Monday 2025-06-30 at 20:00 UTC, London's Monday is over
    after = {r.exchange: r for r in coverage.freshness(exchanges, loaded,
                                                       datetime(2025, 7, 1, tzinfo=UTC))}
    assert after["XNYS"].latest_completed_session == date(2025, 6, 30)
    assert after["XNYS"].tickers_behind == (("AAA", date(2025, 6, 27)), ("NEVER", None))
    assert after["FX"].is_fresh
    # 2025-06-30 19:00 UTC, before New York's close: Friday's session is the latest completed
    before = {r.exchange: r for r in coverage.freshness({"AAA": "XNYS"}, loaded,
                                                        datetime(2025, 6, 30, 19, tzinfo=UTC))}
    assert before["XNYS"].latest_completed_session == date(2025, 6, 27)
    assert before["XNYS"].is_fresh


def test_source_failures_are_those_of_the_latest_load() -> None:
    con = _warehouse()
    _load(con, (D0, D0), _bar("AAA", D0, 10, 11, 9, 10), failures=(("OLD", "timeout"),))
    _load(con, (D1, D1), _bar("AAA", D1, 10, 11, 9, 10),
          failures=(("ZZZ", "delisted"), ("BBB", "no data")), run_id="run-2")
    latest = coverage.latest_load_failures(con, "raw/daily_prices")
    assert latest is not None
    assert (latest.run_id, latest.window) == ("run-2", (D1, D1))
    assert latest.failures == (("BBB", "no data"), ("ZZZ", "delisted"))
    assert coverage.latest_load_failures(con, "raw/fx_rates") is None
