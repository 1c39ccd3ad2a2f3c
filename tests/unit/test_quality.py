"""The quality rules on small hand-built warehouses: raw tables written through
warehouse.storage, marts built by hand from a synthetic market of six sessions, and the dbt
quality models (models/quality, models/findings) run over them with `dbt run`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd
import pytest

from orchestration.defs.checks.resources import QualityRulesResource
from tests.dbt_helpers import run_dbt
from warehouse import storage
from warehouse.calendars import sessions_frame
from warehouse.quality import coverage
from warehouse.quality.rules import IntegrityRules, MoveRules, StalenessRules

RUN = "run-1"
# Six XNYS sessions around the Martin Luther King Day holiday (2025-01-20 is not one).
D0, D1, D2, D3, D4, D5 = (date(2025, 1, day) for day in (21, 22, 23, 24, 27, 28))
SESSIONS = (D0, D1, D2, D3, D4, D5)
SHARES = 1e9
# The dbt models these tests run: the staging views they read, the quarantine and the findings.
QUALITY_SELECTION = ("staging", "quality", "findings")


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
    "SPLITB": Listing(
        "equity",
        "Utilities",
        "Utilities",
        "^IDX",
        (400, 400, 400, 100, 100, 100),
        adj_closes=(100, 100, 100, 100, 100, 100),
    ),
    # the close drops 30% for one session while adj_close does not move: one of them is wrong
    "GLITCH": Listing(
        "equity",
        "Energy",
        "Oil",
        "^IDX",
        (50, 50, 35, 50, 50, 50),
        adj_closes=(50, 50, 50, 50, 50, 50),
    ),
}


def _marts(market: dict[str, Listing]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """marts.fct_daily_returns and marts.dim_security as dbt builds them, for the columns the
    quality models read."""
    rows = []
    for ticker, listing in market.items():
        adjusted = listing.adj_closes or listing.closes
        bench = market[listing.benchmark].closes if listing.benchmark else None
        for i, day in enumerate(SESSIONS):
            first = i == 0
            rows.append(
                {
                    "ticker": ticker,
                    "trade_date": day,
                    "role": listing.role,
                    "exchange": "XNYS",
                    "close_price": listing.closes[i],
                    "previous_trade_date": None if first else SESSIONS[i - 1],
                    "simple_return": None if first else adjusted[i] / adjusted[i - 1] - 1,
                    "raw_close_return": None
                    if first
                    else listing.closes[i] / listing.closes[i - 1] - 1,
                    "benchmark_ticker": listing.benchmark,
                    "benchmark_return": None
                    if first or bench is None
                    else bench[i] / bench[i - 1] - 1,
                    "is_exchange_session": True,
                    "sessions_spanned": None if first else 1,
                    "market_value_change_usd": None
                    if first or listing.role == "index"
                    else SHARES * (listing.closes[i] - listing.closes[i - 1]),
                }
            )
    securities = pd.DataFrame(
        [
            {"ticker": ticker, "sector": listing.sector, "industry": listing.industry}
            for ticker, listing in market.items()
        ]
    )
    frame = pd.DataFrame(rows).astype({"previous_trade_date": "datetime64[us]"})
    return frame, securities


@pytest.fixture(scope="module")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dbt target folder for the module, so the runs after the first parse only what changed."""
    return tmp_path_factory.mktemp("dbt")


class Warehouse:
    """A DuckDB file with the raw schema, written through warehouse.storage, and the dbt quality
    models run over it."""

    def __init__(self, path: Path, target: Path) -> None:
        self.path, self.target = path, target
        self.has_marts = False
        with self.connect(write=True) as con:
            storage.ensure_schema(con)

    def connect(self, write: bool = False) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.path), read_only=not write)

    def with_marts(self, market: dict[str, Listing]) -> Warehouse:
        with self.connect(write=True) as con:
            con.execute("create schema if not exists marts")
            for name, frame in zip(
                ("fct_daily_returns", "dim_security"), _marts(market), strict=True
            ):
                con.register("frame", frame)
                con.execute(f"create or replace table marts.{name} as select * from frame")
                con.unregister("frame")
        self.has_marts = True
        return self

    def run(self, *, refresh_start: date | None = None, **rules: float) -> Warehouse:
        """dbt run of the quality models, with these rules (QualityRulesResource fields), over
        the window from refresh_start on (the whole history without one)."""
        variables: dict[str, object] = dict(QualityRulesResource(**rules).quality_rules_vars())
        if refresh_start is not None:
            variables["refresh_start"] = refresh_start.isoformat()
        # without marts, the models that classify their moves are left out
        excluded = () if self.has_marts else ("--exclude", "large_moves+")
        run_dbt(
            self.path,
            "run",
            "--select",
            *QUALITY_SELECTION,
            *excluded,
            dbt_vars=variables,
            target_dir=self.target,
        )
        return self

    def rows(self, sql: str) -> pd.DataFrame:
        with self.connect() as con:
            return con.sql(sql).df()

    def flags(self) -> dict:
        found = self.rows("select * from quality.large_moves")
        return {(row.ticker, row.trade_date.date()): row for row in found.itertuples()}


def _warehouse(tmp_path: Path, dbt_target: Path, name: str = "warehouse") -> Warehouse:
    return Warehouse(tmp_path / f"{name}.duckdb", dbt_target)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, dbt_target: Path) -> Iterator[Warehouse]:
    warehouse = _warehouse(tmp_path_factory.mktemp("market"), dbt_target).with_marts(MARKET)
    splits = pd.DataFrame(
        {
            "ticker": ["SPLIT", "SPLITB"],
            "action_date": [D3, D3],
            "action_type": "split",
            "value": 4.0,
        }
    )
    with warehouse.connect(write=True) as con:
        storage.upsert(con, "corporate_actions", splits, run_id=RUN, source="test")
    yield warehouse.run()


@pytest.fixture(scope="module")
def flags(market: Warehouse) -> dict:
    return market.flags()


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


def test_the_resource_defaults_are_the_rules_defaults_and_now_is_injectable() -> None:
    resource = QualityRulesResource()
    for rules in (MoveRules(), IntegrityRules(), StalenessRules()):
        for name, value in vars(rules).items():
            assert getattr(resource, name) == value, name
    with pytest.raises(ValueError, match="min_peers"):
        QualityRulesResource(min_peers=0).quality_rules_vars()
    assert resource.now().tzinfo is not None
    fixed = QualityRulesResource(evaluation_time="2025-07-01T00:00:00+00:00")
    assert fixed.now() == datetime(2025, 7, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="UTC offset"):
        QualityRulesResource(evaluation_time="2025-07-01T00:00:00").now()


# --- large moves -----------------------------------------------------------------------------


def test_peers_falling_together_make_a_market_event(flags: dict) -> None:
    for ticker in ("CHIP1", "CHIP2"):
        flag = flags[(ticker, D4)]
        assert (flag.check_name, flag.classification) == ("large_drop", "market_event")
        assert "2 Semiconductors peers moved with it" in flag.reason
    assert flags[("CHIP1", D4)].daily_return == pytest.approx(-0.17)


def test_a_small_move_is_not_flagged(flags: dict) -> None:
    assert ("SOFT", D4) not in flags  # -2%, the Microsoft of the synthetic crash
    assert ("CHIP3", D4) not in flags  # -6%: a peer, not a large move


def test_a_move_nothing_else_shares_is_idiosyncratic(flags: dict) -> None:
    flag = flags[("LONER", D2)]
    assert (flag.check_name, flag.classification) == ("large_drop", "idiosyncratic")
    assert "0 peer(s) moved 5% or more the same way" in flag.reason


def test_a_spike_that_reverts_is_suspect_data_on_both_days(flags: dict) -> None:
    spike, back = flags[("SPIKE", D2)], flags[("SPIKE", D3)]
    assert (spike.check_name, spike.classification) == ("large_rise", "suspect_data")
    assert "gave back 100% of it on 2025-01-24" in spike.reason
    assert (back.check_name, back.classification) == ("large_drop", "suspect_data")


def test_peers_an_order_of_magnitude_smaller_do_not_make_a_market_event(
    tmp_path: Path, dbt_target: Path
) -> None:
    # a 100x tick that reverts, on a day two Software peers and the benchmark rose 5-6%
    software = ("equity", "Technology", "Software", "^IDX")
    warehouse = _warehouse(tmp_path, dbt_target).with_marts(
        {
            "^IDX": Listing("index", None, None, None, (100, 100, 106, 106, 106, 106)),  # D2 +6%
            "TICK": Listing(*software, (150, 150, 15_000, 150, 150, 150)),  # D2 +9,900%
            "PEER1": Listing(*software, (50, 50, 53, 53, 53, 53)),  # D2 +6%
            "PEER2": Listing(*software, (20, 20, 21, 21, 21, 21)),  # D2 +5%
            "FAN": Listing(*software, (10, 10, 11.2, 11.2, 11.2, 11.2)),  # D2 +12%: 2x its peers
        }
    )
    flags = warehouse.run().flags()
    spike, back = flags[("TICK", D2)], flags[("TICK", D3)]
    assert spike.daily_return == pytest.approx(99.0)
    assert (spike.check_name, spike.classification) == ("large_rise", "suspect_data")
    assert "gave back 100% of it on 2025-01-24" in spike.reason
    assert (back.check_name, back.classification) == ("large_drop", "suspect_data")
    # a move within peer_move_ratio of its peers' stays their market event
    assert flags[("FAN", D2)].classification == "market_event"
    assert "3 Software peers moved with it: TICK +9900.0%, PEER1 +6.0%" in flags[("FAN", D2)].reason
    # the ratio is a rule: at 2000x, 9,900% is within the benchmark's 6% again
    assert warehouse.run(peer_move_ratio=2000).flags()[("TICK", D2)].classification == (
        "market_event"
    )


@pytest.mark.parametrize("ticker", ["SPLIT", "SPLITB"])
def test_a_four_for_one_split_is_a_corporate_action_not_a_drop(flags: dict, ticker: str) -> None:
    flag = flags[(ticker, D3)]
    assert (flag.check_name, flag.classification) == ("corporate_action_move", "corporate_action")
    assert flag.daily_return == pytest.approx(-0.75)
    assert "4-for-1 split" in flag.reason and "+0.0% with the action undone" in flag.reason


def test_a_raw_close_the_adjusted_close_contradicts_is_suspect_data(flags: dict) -> None:
    flag = flags[("GLITCH", D2)]
    assert (flag.check_name, flag.classification) == ("large_drop", "suspect_data")
    assert "close and adj_close disagree" in flag.reason


def test_a_benchmark_move_or_an_index_of_its_own_is_a_market_event(flags: dict) -> None:
    assert flags[("SECF", D4)].classification == "market_event"
    assert "benchmark ^SEC -11.0%" in flags[("SECF", D4)].reason
    assert flags[("^SEC", D4)].classification == "market_event"


def test_thresholds_are_configurable(
    market: Warehouse, flags: dict, tmp_path: Path, dbt_target: Path
) -> None:
    warehouse = _warehouse(tmp_path, dbt_target).with_marts(MARKET)
    strict = warehouse.run(drop_threshold=-0.16, rise_threshold=0.5).flags()
    assert ("CHIP1", D4) in strict and ("CHIP2", D4) not in strict
    assert strict[("CHIP1", D4)].classification == "idiosyncratic"  # only CHIP2 is 8% down too
    assert ("SPIKE", D2) in strict and ("LONER", D2) not in strict
    more_peers = warehouse.run(min_peers=3).flags()
    assert more_peers.keys() == flags.keys()
    assert more_peers[("CHIP1", D4)].classification == "idiosyncratic"


def test_market_events_aggregate_the_market_event_flags(market: Warehouse) -> None:
    events = market.rows("select * from quality.detected_market_events")
    by_scope = events.set_index(["event_date", "scope", "direction"])
    whole_market = by_scope.loc[(pd.Timestamp(D4), "market", "drop")]
    # in scope: the ten equities and ETFs; moving 5%+ down: CHIP1, CHIP2, CHIP3, SECF
    assert (
        whole_market.securities_flagged,
        whole_market.securities_moving,
        whole_market.securities_in_scope,
    ) == (3, 4, 10)
    assert whole_market.breadth == pytest.approx(0.4)
    assert whole_market.value_change_usd == pytest.approx(-SHARES * (17 + 6.1 + 1.2 + 3.15))
    assert whole_market.tickers_moving.startswith("CHIP1 -17.0%, CHIP2 -12.0%")
    technology = by_scope.loc[(pd.Timestamp(D4), "Technology", "drop")]
    assert (
        technology.securities_flagged,
        technology.securities_moving,
        technology.securities_in_scope,
    ) == (2, 3, 4)
    # idiosyncratic, suspect and corporate-action moves make no event
    assert set(events["event_date"]) == {pd.Timestamp(D4)}


def test_the_record_keeps_first_seen_and_never_duplicates(market: Warehouse, flags: dict) -> None:
    first = market.rows("select * from quality.price_anomalies")
    second = market.run().rows("select * from quality.price_anomalies")
    assert len(first) == len(second) == len(flags)
    assert second["first_seen"].nunique() == 1 and second["last_seen"].nunique() == 1
    assert set(second["first_seen"]) == set(first["first_seen"])
    assert second["last_seen"].max() > first["last_seen"].max()
    # the D4 drop, market-wide and in Technology, detected again and not duplicated
    assert len(market.rows("select * from quality.detected_market_events")) == 2


# --- integrity -------------------------------------------------------------------------------


def _bar(
    ticker: str,
    day: date,
    open_: float,
    high: float,
    low: float,
    close: float,
    volume: int | None = 1_000,
) -> dict:
    return {
        "ticker": ticker,
        "trade_date": day,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "adj_close": None,
        "volume": volume,
    }


def _prices(*bars: dict) -> pd.DataFrame:
    return pd.DataFrame(list(bars)).astype({"adj_close": "float64", "volume": "Int64"})


def _fx(ticker: str, day: date, open_: float, high: float, low: float, close: float) -> dict:
    return {
        "ticker": ticker,
        "rate_date": day,
        "base_currency": "USD",
        "quote_currency": "JPY",
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
    }


def _quarantined(warehouse: Warehouse) -> set[tuple[str, str, date]]:
    rows = warehouse.rows("select ticker, reason, trade_date from quality.quarantined_prices")
    return {(ticker, reason, day.date()) for ticker, reason, day in rows.itertuples(index=False)}


def test_impossible_bars_are_quarantined_and_fx_range_quirks_are_kept(
    tmp_path: Path, dbt_target: Path
) -> None:
    warehouse = _warehouse(tmp_path, dbt_target)
    with warehouse.connect(write=True) as con:
        storage.upsert(
            con,
            "daily_prices",
            _prices(
                _bar("GOOD", D0, 10, 11, 9, 10.5),
                _bar("ZERO", D0, 10, 11, 9, 0),
                _bar("CROSSED", D0, 10, 9, 11, 10),
                _bar("HIGHCLOSE", D0, 10, 11, 9, 12),
                _bar("LOWOPEN", D0, 8, 11, 9, 10),
                _bar("SOLDNEG", D0, 10, 11, 9, 10, volume=-5),
            ),
            run_id=RUN,
            source="test",
        )
        storage.upsert(
            con,
            "fx_rates",
            pd.DataFrame(
                [
                    _fx("JPY=X", D0, 150.05, 150.0, 149.0, 150.05),  # Yahoo's quirk: kept
                    _fx(
                        "JPY=X", D1, 150.0, 149.0, 151.0, 150.0
                    ),  # high below low: impossible anywhere
                ]
            ),
            run_id=RUN,
            source="test",
        )
    warehouse.run()
    assert _quarantined(warehouse) == {
        ("ZERO", "non_positive_price", D0),
        ("ZERO", "close_outside_range", D0),
        ("CROSSED", "high_below_low", D0),
        ("CROSSED", "open_outside_range", D0),
        ("CROSSED", "close_outside_range", D0),
        ("HIGHCLOSE", "close_outside_range", D0),
        ("LOWOPEN", "open_outside_range", D0),
        ("SOLDNEG", "negative_volume", D0),
        ("JPY=X", "high_below_low", D1),
    }
    quirks = warehouse.rows("select * from quality.fx_range_quirks")
    assert quirks[["ticker", "trade_date"]].values.tolist() == [["JPY=X", pd.Timestamp(D0)]]
    assert quirks["check_name"].item() == "fx_range_quirk"
    staged = warehouse.rows("select ticker from staging.stg_daily_prices")
    assert staged["ticker"].tolist() == ["GOOD"]


def test_a_one_day_spike_no_market_makes_is_quarantined(tmp_path: Path, dbt_target: Path) -> None:
    warehouse = _warehouse(tmp_path, dbt_target)
    closes = {
        "TICK": (150, 150, 15_000, 150, 151, 150),  # D2: 100x both neighbours, then back
        "DIP": (150, 150, 150, 1.5, 150, 150),  # D3: a hundredth of both neighbours
        "WHIPSAW": (10, 10, 16, 10, 10, 10),  # D2 +60% and back: suspect_data, stays in
        "JUMP": (10, 10, 40, 41, 40, 40),  # D2 4x and it stays: no spike
        "SPLIT": (400, 400, 400, 100, 400, 100),  # 4-for-1 on D3, a bad D4 tick in between
        "LAST": (10, 10, 10, 10, 10, 1000),  # D5 has no next bar yet: judged by the next run
    }
    with warehouse.connect(write=True) as con:
        storage.upsert(
            con,
            "daily_prices",
            _prices(
                *(
                    _bar(ticker, day, close, close, close, close)
                    for ticker, series in closes.items()
                    for day, close in zip(SESSIONS, series, strict=True)
                )
            ),
            run_id=RUN,
            source="test",
        )
        storage.upsert(
            con,
            "corporate_actions",
            pd.DataFrame(
                {"ticker": ["SPLIT"], "action_date": [D3], "action_type": "split", "value": 4.0}
            ),
            run_id=RUN,
            source="test",
        )
    spikes_sql = (
        "select ticker, trade_date, detail, first_seen, last_seen "
        "from quality.quarantined_prices where reason = 'suspect_spike' order by ticker"
    )
    spikes = warehouse.run().rows(spikes_sql)
    # SPLIT's D4 is 4x both neighbours, but its next bar's date has no split: it is a spike
    assert [(ticker, day.date()) for ticker, day in spikes[["ticker", "trade_date"]].values] == [
        ("DIP", D3),
        ("SPLIT", D4),
        ("TICK", D2),
    ]
    assert spikes["detail"][2] == (
        "price 15000 between 150 on 2025-01-22 and 150 on "
        "2025-01-24: 100.0x off both, a one-day spike"
    )
    assert "100.0x off both" in spikes["detail"][0]
    # the window's bars only need their neighbours: judged from D3 on, the same D3 and D4
    # spikes, found again; TICK's D2 is before the window and kept as the first run judged it
    again = warehouse.run(refresh_start=D3).rows(spikes_sql).set_index("ticker")
    assert again.index.tolist() == ["DIP", "SPLIT", "TICK"]
    assert (again["first_seen"] == spikes.set_index("ticker")["first_seen"]).all()
    assert again.loc["DIP", "last_seen"] > again.loc["TICK", "last_seen"]
    # the factor is a rule: above 100x, none of these is a spike; at 1.5x, WHIPSAW is one
    assert warehouse.run(spike_factor=101).rows(spikes_sql).empty
    assert {ticker for ticker, *_ in _quarantined(warehouse.run(spike_factor=1.5))} == {
        "TICK",
        "DIP",
        "WHIPSAW",
        "SPLIT",
    }
    with pytest.raises(ValueError, match="spike_factor"):
        IntegrityRules(spike_factor=1)


def test_a_corrected_bar_is_released_and_a_known_one_keeps_first_seen(
    tmp_path: Path, dbt_target: Path
) -> None:
    warehouse = _warehouse(tmp_path, dbt_target)
    with warehouse.connect(write=True) as con:
        storage.upsert(
            con,
            "daily_prices",
            _prices(_bar("AAA", D0, 10, 11, 9, 12), _bar("BBB", D0, 10, 11, 9, 0)),
            run_id=RUN,
            source="test",
        )
    bad_sql = (
        "select ticker, first_seen, last_seen from quality.quarantined_prices "
        "where reason = 'non_positive_price'"
    )
    first = warehouse.run().rows(bad_sql)
    with warehouse.connect(write=True) as con:
        storage.upsert(
            con, "daily_prices", _prices(_bar("AAA", D0, 10, 12, 9, 12)), run_id=RUN, source="test"
        )
    second = warehouse.run().rows(bad_sql)
    assert second["ticker"].tolist() == ["BBB"]
    assert second["first_seen"].item() == first["first_seen"].item()
    assert second["last_seen"].item() > first["last_seen"].item()
    assert "AAA" not in {ticker for ticker, *_ in _quarantined(warehouse)}


def _load(
    warehouse: Warehouse,
    window: tuple[date, date],
    *bars: dict,
    failures: tuple[tuple[str, str], ...] = (),
    run_id: str = RUN,
) -> None:
    with warehouse.connect(write=True) as con:
        _write_load(con, window, *bars, failures=failures, run_id=run_id)


def _write_load(
    con: duckdb.DuckDBPyConnection,
    window: tuple[date, date],
    *bars: dict,
    failures: tuple[tuple[str, str], ...] = (),
    run_id: str = RUN,
) -> None:
    storage.write_load(
        con,
        run_id=run_id,
        asset_key="raw/corporate_actions+raw/daily_prices",
        source="test",
        partition_start=window[0],
        partition_end=window[1],
        tables={"daily_prices": _prices(*bars)},
        failures=failures,
        tickers_requested=25,
        started_at=datetime.now(UTC),
    )


def _day_of_bars(day: date, bad: int, good: int = 25) -> list[dict]:
    """good bars on a day, the first ``bad`` of them with a close above their high."""
    return [_bar(f"T{i:02}", day, 10, 11, 9, 12 if i < bad else 10) for i in range(good)]


def _prices_health(warehouse: Warehouse, **rules: float) -> pd.Series:
    health = warehouse.run(**rules).rows("select * from quality.quarantine_load_health")
    return health.set_index("table_name").loc["raw.daily_prices"]


def test_one_bad_tick_is_not_systemic_but_a_broken_load_is(
    tmp_path: Path, dbt_target: Path
) -> None:
    warehouse = _warehouse(tmp_path, dbt_target)
    # an old broken day, outside the latest load's window, no longer counts
    _load(warehouse, (D0, D0), *_day_of_bars(D0, bad=10))
    _load(warehouse, (D1, D1), *_day_of_bars(D1, bad=1), run_id="run-2")
    health = _prices_health(warehouse)
    assert (health.window_start.date(), health.bars, health.quarantined_bars) == (D1, 25, 1)
    assert not health.is_systemic
    _load(warehouse, (D2, D2), *_day_of_bars(D2, bad=2), run_id="run-3")
    health = _prices_health(warehouse)
    assert health.quarantined_share == pytest.approx(0.08)
    assert health.is_systemic
    assert not _prices_health(warehouse, max_quarantined_share=0.10).is_systemic


def test_a_ticker_spelt_twice_is_a_duplicated_key_and_always_systemic(
    tmp_path: Path, dbt_target: Path
) -> None:
    warehouse = _warehouse(tmp_path, dbt_target)
    _load(
        warehouse,
        (D0, D0),
        *_day_of_bars(D0, bad=0),
        _bar("nvda ", D0, 10, 11, 9, 10),
        _bar("NVDA", D0, 10, 11, 9, 10),
    )
    health = _prices_health(warehouse, max_quarantined_share=0.5)
    assert _quarantined(warehouse) == {("nvda ", "duplicate_key", D0)}
    assert health.duplicated_keys == 1 and health.quarantined_share < 0.05
    assert health.is_systemic


# --- coverage --------------------------------------------------------------------------------

# XNYS sessions around MLK Day: 16, 17, (20 closed), 21, 22, 23, 24
JAN = {day: date(2025, 1, day) for day in (16, 17, 21, 22, 23, 24)}


def _with_sessions(warehouse: Warehouse, *tickers: str) -> Warehouse:
    securities = pd.DataFrame(
        {
            "ticker": list(tickers),
            "name": list(tickers),
            "role": "equity",
            "exchange": "XNYS",
            "currency": "USD",
            "benchmark": None,
        }
    )
    with warehouse.connect(write=True) as con:
        storage.replace_reference_rows(con, "securities", securities, run_id=RUN, source="test")
        storage.replace_reference_rows(
            con,
            "exchange_sessions",
            sessions_frame(["XNYS"], date(2025, 1, 1), date(2025, 1, 31)),
            run_id=RUN,
            source="test",
        )
    return warehouse


def _closes(ticker: str, closes: dict[int, float]) -> list[dict]:
    return [_bar(ticker, JAN[day], close, close, close, close) for day, close in closes.items()]


def _upsert_prices(warehouse: Warehouse, *bars: dict) -> None:
    with warehouse.connect(write=True) as con:
        storage.upsert(con, "daily_prices", _prices(*bars), run_id=RUN, source="test")


def test_a_close_unchanged_for_five_sessions_is_stale_across_a_holiday(
    tmp_path: Path, dbt_target: Path
) -> None:
    warehouse = _with_sessions(_warehouse(tmp_path, dbt_target), "FLAT", "QUIET", "GAPPY")
    _upsert_prices(
        warehouse,
        # the same close on 16, 17, 21, 22, 23: five sessions, MLK Day in between is no gap
        *_closes("FLAT", {16: 5, 17: 5, 21: 5, 22: 5, 23: 5, 24: 6}),
        # four sessions only
        *_closes("QUIET", {16: 5, 17: 5, 21: 5, 22: 5, 23: 6, 24: 6}),
        # five bars, but session 21 is missing: two runs, neither of five sessions
        *_closes("GAPPY", {16: 5, 17: 5, 22: 5, 23: 5, 24: 5}),
    )
    stale_sql = "select * from quality.stale_closes order by ticker, trade_date"
    stale = warehouse.run().rows(stale_sql)
    assert stale[["ticker", "trade_date"]].values.tolist() == [["FLAT", pd.Timestamp(JAN[16])]]
    assert "on 5 consecutive XNYS sessions, 2025-01-16..2025-01-23" in stale["reason"].item()
    assert len(warehouse.run(stale_sessions=4).rows(stale_sql)) == 2
    # a run that ended before the window is not this run's finding
    assert warehouse.run(refresh_start=JAN[24]).rows(stale_sql).empty


def test_a_stale_run_is_read_back_to_its_start_whatever_the_window(
    tmp_path: Path, dbt_target: Path
) -> None:
    # the same close on every session of January from the 2nd: a run far longer than the
    # few weeks read before a window, still recorded under its first date
    warehouse = _with_sessions(_warehouse(tmp_path, dbt_target), "FROZEN")
    days = sessions_frame(["XNYS"], date(2025, 1, 2), date(2025, 1, 31))["session_date"]
    _upsert_prices(warehouse, *(_bar("FROZEN", day, 5, 5, 5, 5) for day in days))
    stale = warehouse.run(refresh_start=date(2025, 1, 30)).rows(
        "select * from quality.stale_closes"
    )
    assert stale[["ticker", "trade_date"]].values.tolist() == [["FROZEN", pd.Timestamp(2025, 1, 2)]]


def test_a_missing_session_is_reported_and_a_holiday_is_not(
    tmp_path: Path, dbt_target: Path
) -> None:
    warehouse = _with_sessions(_warehouse(tmp_path, dbt_target), "GAPPY")
    _upsert_prices(warehouse, *_closes("GAPPY", {16: 5, 17: 6, 22: 7, 23: 8}))
    missing_sql = "select * from quality.missing_sessions"
    missing = warehouse.run().rows(missing_sql)
    assert missing[["ticker", "trade_date"]].values.tolist() == [["GAPPY", pd.Timestamp(JAN[21])]]
    assert missing["classification"].item() == "missing_data"
    assert warehouse.run(refresh_start=JAN[22]).rows(missing_sql).empty


def test_freshness_judges_the_latest_completed_session_at_an_injected_now() -> None:
    exchanges = {"AAA": "XNYS", "NEVER": "XNYS", "JPY=X": "FX"}
    loaded = {"AAA": date(2025, 6, 27), "JPY=X": date(2025, 6, 30)}
    # 2025-07-01 00:00 UTC: New York closed Monday 2025-06-30 at 20:00 UTC, London's Monday is over
    after = {
        r.exchange: r
        for r in coverage.freshness(exchanges, loaded, datetime(2025, 7, 1, tzinfo=UTC))
    }
    assert after["XNYS"].latest_completed_session == date(2025, 6, 30)
    assert after["XNYS"].tickers_behind == (("AAA", date(2025, 6, 27)), ("NEVER", None))
    assert after["FX"].is_fresh
    # 2025-06-30 19:00 UTC, before New York's close: Friday's session is the latest completed
    before = {
        r.exchange: r
        for r in coverage.freshness({"AAA": "XNYS"}, loaded, datetime(2025, 6, 30, 19, tzinfo=UTC))
    }
    assert before["XNYS"].latest_completed_session == date(2025, 6, 27)
    assert before["XNYS"].is_fresh


def test_source_failures_are_those_of_the_latest_load() -> None:
    con = duckdb.connect()
    storage.ensure_schema(con)
    _write_load(con, (D0, D0), _bar("AAA", D0, 10, 11, 9, 10), failures=(("OLD", "timeout"),))
    _write_load(
        con,
        (D1, D1),
        _bar("AAA", D1, 10, 11, 9, 10),
        failures=(("ZZZ", "delisted"), ("BBB", "no data")),
        run_id="run-2",
    )
    latest = coverage.latest_load_failures(con, "raw/daily_prices")
    assert latest is not None
    assert (latest.run_id, latest.window) == ("run-2", (D1, D1))
    assert latest.failures == (("BBB", "no data"), ("ZZZ", "delisted"))
    assert coverage.latest_load_failures(con, "raw/fx_rates") is None
