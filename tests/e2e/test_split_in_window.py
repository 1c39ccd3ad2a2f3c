"""A split arriving in a nightly window. On a copy of the nightly build of the bundled snapshot, the
nightly job loads 2025-05-12..2025-05-16 from a source that has seen a 4-for-1 AMD split on
2025-05-12: as Yahoo does after a split, every AMD bar it delivers is restated (prices / 4, volume
x 4) and the window brings the split row. The bars stored before the window are on the old basis;
a five-session reload alone would leave the marts with a -74% split day and every earlier market
value four times too high. The load must re-fetch AMD's history, so prices, share counts and
returns end on one basis: the returns and market values the build had, day for day."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.resources import MarketDataResource
from tests.nightly_helpers import nightly_run_in_process, query
from warehouse import settings, storage
from warehouse.loading import with_restated_history
from warehouse.sources.base import PriceBatch, TickerFailure
from warehouse.universe import Security

pytestmark = pytest.mark.e2e

SPLIT_DAY = date(2025, 5, 12)
WINDOW = (SPLIT_DAY, date(2025, 5, 16))
RATIO = 4.0
PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close"]
SNAPSHOT_PRICES = settings.DEFAULT_SNAPSHOT_DIR / "prices.csv"


def _split_source(
    monkeypatch: pytest.MonkeyPatch, calls: list[tuple[tuple[str, ...], date, date]]
) -> None:
    """The snapshot source as Yahoo answers after AMD's split: restated bars and the split row.
    Its share counts need no change: the snapshot has none for AMD filed after the split."""
    build = MarketDataResource.build

    def source_after_the_split(self: MarketDataResource):
        source = build(self)
        fetch_prices = source.fetch_prices

        def fetch_restated(securities, start, end) -> PriceBatch:
            calls.append((tuple(security.ticker for security in securities), start, end))
            batch = fetch_prices(securities, start, end)
            prices = batch.prices.copy()
            amd = prices["ticker"] == "AMD"
            prices.loc[amd, PRICE_COLUMNS] = prices.loc[amd, PRICE_COLUMNS] / RATIO
            prices.loc[amd, "volume"] = prices.loc[amd, "volume"] * int(RATIO)
            actions = batch.actions
            if amd.any() and start <= SPLIT_DAY <= end:
                split = pd.DataFrame(
                    {
                        "ticker": ["AMD"],
                        "action_date": [pd.Timestamp(SPLIT_DAY)],
                        "action_type": ["split"],
                        "value": [RATIO],
                    }
                )
                actions = pd.concat([actions, split.astype(actions.dtypes)], ignore_index=True)
            return PriceBatch(prices, actions, batch.failures)

        source.fetch_prices = fetch_restated
        return source

    monkeypatch.setattr(MarketDataResource, "build", source_after_the_split)


@pytest.fixture(scope="module")
def split_run(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("split_in_window")
    after = folder / "after.duckdb"
    shutil.copyfile(built_warehouse, after)
    calls: list[tuple[tuple[str, ...], date, date]] = []
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        settings.environment(
            {settings.WAREHOUSE_PATH_ENV: str(after), settings.SOURCE_ENV: "snapshot"}
        ),
    ):
        _split_source(monkeypatch, calls)
        result = nightly_run_in_process(*WINDOW)
    assert result.success, "the nightly run failed"
    yield {"before": built_warehouse, "after": after, "calls": calls, "run_id": result.run_id}


def _amd(path: Path, columns: str, table: str = "marts.fct_daily_returns") -> pd.DataFrame:
    return query(
        path, f"select trade_date, {columns} from {table} where ticker = 'AMD' order by trade_date"
    ).set_index("trade_date")


def test_the_split_refetches_amds_whole_stored_history_in_the_same_run(split_run: dict) -> None:
    first_bar = _amd(split_run["before"], "close", "raw.daily_prices").index.min().date()
    refetched = [(start, end) for tickers, start, end in split_run["calls"] if tickers == ("AMD",)]
    # from the first stored bar to the last, 2025-06-30: the build holds days after the window
    assert refetched == [(first_bar, date(2025, 6, 30))]
    before = _amd(
        split_run["before"], "open, high, low, close, adj_close, volume", "raw.daily_prices"
    )
    after = _amd(
        split_run["after"], "open, high, low, close, adj_close, volume", "raw.daily_prices"
    )
    assert after.index.equals(before.index)
    pd.testing.assert_frame_equal(after[PRICE_COLUMNS] * RATIO, before[PRICE_COLUMNS])
    assert (after["volume"] == before["volume"] * int(RATIO)).all()
    logged = query(
        split_run["after"],
        "select rows_changed, rows_rejected from raw.load_log "
        "where run_id = ? and asset_key like '%daily_prices%'",
        [split_run["run_id"]],
    )
    # every stored AMD bar restated; the other tickers' five sessions are unchanged
    assert logged.iloc[0].tolist() == [len(before), 0]


def test_the_split_day_return_is_the_economic_one(split_run: dict) -> None:
    snapshot = pd.read_csv(SNAPSHOT_PRICES, parse_dates=["date"])
    amd = snapshot[snapshot["ticker"] == "AMD"].set_index("date")["adj_close"]
    expected = amd[pd.Timestamp(SPLIT_DAY)] / amd[pd.Timestamp(2025, 5, 9)] - 1  # +5.1%
    row = _amd(split_run["after"], "simple_return, raw_close_return, previous_trade_date").loc[
        pd.Timestamp(SPLIT_DAY)
    ]
    assert row["previous_trade_date"] == pd.Timestamp(2025, 5, 9)
    assert row["simple_return"] == pytest.approx(expected, rel=1e-12)
    assert row["raw_close_return"] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.0513, abs=1e-4)


def test_returns_and_market_values_stay_on_one_basis_over_the_whole_history(
    split_run: dict,
) -> None:
    columns = "simple_return, market_value_usd, market_value_change_usd, shares_outstanding"
    before, after = _amd(split_run["before"], columns), _amd(split_run["after"], columns)
    assert after.index.equals(before.index) and len(after) > 300
    for column in ("simple_return", "market_value_usd", "market_value_change_usd"):
        pd.testing.assert_series_equal(
            after[column], before[column], check_exact=False, rtol=1e-12, obj=column
        )
    # the filings before the split count old shares: on the new basis, four times as many
    assert (after["shares_outstanding"] == before["shares_outstanding"] * RATIO).all()


def test_the_deepseek_day_loss_and_the_quality_record_are_unchanged(split_run: dict) -> None:
    sql = (
        "select day0_return, day0_usd_value_change from marts.fct_event_impact "
        "where event_id = 'deepseek_selloff' and ticker = 'AMD'"
    )
    before, after = query(split_run["before"], sql), query(split_run["after"], sql)
    assert after["day0_usd_value_change"].item() == pytest.approx(-12.7e9, abs=0.05e9)
    assert after["day0_usd_value_change"].item() == pytest.approx(
        before["day0_usd_value_change"].item(), rel=1e-12
    )
    assert after["day0_return"].item() == pytest.approx(before["day0_return"].item(), rel=1e-12)
    # no large move, no quarantine, no rejected correction for AMD
    found = query(
        split_run["after"],
        """
        select (select count(*) from quality.price_anomalies
                where ticker = 'AMD' and check_name in ('large_drop', 'large_rise',
                                                        'corporate_action_move')
                    and trade_date >= '2025-05-01') as moves,
               (select count(*) from quality.quarantined_prices) as quarantined,
               (select count(*) from raw.rejected_corrections) as rejected""",
    )
    assert found.iloc[0].tolist() == [0, 0, 0]


# --- the re-fetch on its own, on a small warehouse ---------------------------------------------

XYZ = Security(
    ticker="XYZ", name="XYZ", role="equity", exchange="XNYS", currency="USD", benchmark=None
)


def _bars(*days_and_closes: tuple[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": "XYZ",
            "trade_date": pd.to_datetime([day for day, _ in days_and_closes]),
            **{column: [close for _, close in days_and_closes] for column in PRICE_COLUMNS},
            "volume": pd.array([100] * len(days_and_closes), dtype="Int64"),
        }
    )


def _split(day: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": ["XYZ"],
            "action_date": pd.to_datetime([day]),
            "action_type": ["split"],
            "value": [RATIO],
        }
    )


class _History:
    """A source that answers the history request with ``history`` (or fails the ticker)."""

    name = "fake"

    def __init__(self, history: PriceBatch) -> None:
        self.history = history
        self.calls: list[tuple[date, date]] = []

    def fetch_prices(self, securities, start: date, end: date) -> PriceBatch:
        self.calls.append((start, end))
        return self.history


@pytest.fixture
def stored() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    storage.ensure_schema(con)
    storage.upsert(
        con,
        "daily_prices",
        _bars(("2025-05-08", 100.0), ("2025-05-09", 102.0)),
        run_id="build",
        source="fake",
    )
    yield con
    con.close()


def test_a_window_without_a_new_split_fetches_nothing_more(
    stored: duckdb.DuckDBPyConnection,
) -> None:
    storage.upsert(stored, "corporate_actions", _split("2025-05-12"), run_id="x", source="fake")
    window = PriceBatch(_bars(("2025-05-12", 27.0)), _split("2025-05-12"))
    source = _History(window)
    assert with_restated_history(stored, source, [XYZ], window, WINDOW[1]) is window
    assert source.calls == []


def test_a_history_that_cannot_be_fetched_again_leaves_the_ticker_out(
    stored: duckdb.DuckDBPyConnection,
) -> None:
    window = PriceBatch(_bars(("2025-05-12", 27.0)), _split("2025-05-12"))
    source = _History(
        PriceBatch(
            _bars().iloc[:0], _split("2025-05-12").iloc[:0], [TickerFailure("XYZ", "HTTP 404")]
        )
    )
    batch = with_restated_history(stored, source, [XYZ], window, WINDOW[1])
    assert source.calls == [(date(2025, 5, 8), WINDOW[1])]
    assert batch.prices.empty and batch.actions.empty
    assert [(failure.ticker, failure.reason) for failure in batch.failures] == [
        (
            "XYZ",
            "split on 2025-05-12 changed its price basis and its history could not be fetched "
            "again (HTTP 404): not loaded, the next run tries again",
        )
    ]
