"""Bad data re-delivered over good stored bars. On a copy of the nightly build of the bundled
snapshot, the nightly job reloads 2025-02-03..2025-02-07 from a source that re-delivers stored
bars: NVDA's 2025-02-03 with a negative close (impossible), ORCL's 2025-02-05 at 100x (possible
values, a one-day spike) and AAPL's 2025-02-04 with a late correction that is fine. MSFT's
2025-02-06, removed from the copy before the run, arrives new, at 100x.

The bad corrections must not replace the good bars (kept, the rejections recorded, the days still
in the marts); the new spike, with no good bar to keep, is written but quarantined as
suspect_spike, so no mart shows it; the good correction is applied and counted as today."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.resources import MarketDataResource
from tests.nightly_helpers import nightly_run_in_process, query
from warehouse import settings
from warehouse.sources.base import PriceBatch

pytestmark = pytest.mark.e2e

WINDOW = (date(2025, 2, 3), date(2025, 2, 7))
NEGATIVE = ("NVDA", date(2025, 2, 3))
SPIKE = ("ORCL", date(2025, 2, 5))
NEW_SPIKE = ("MSFT", date(2025, 2, 6))
CORRECTED = ("AAPL", date(2025, 2, 4))
PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close"]


def _bad_source(monkeypatch: pytest.MonkeyPatch) -> None:
    build = MarketDataResource.build

    def source_with_bad_corrections(self: MarketDataResource):
        source = build(self)
        fetch_prices = source.fetch_prices

        def fetch_with_corrections(securities, start, end) -> PriceBatch:
            batch = fetch_prices(securities, start, end)
            prices = batch.prices.copy()

            def bar(key: tuple[str, date]) -> pd.Series:
                return (prices["ticker"] == key[0]) & (prices["trade_date"] == pd.Timestamp(key[1]))

            prices.loc[bar(NEGATIVE), "close"] = -prices.loc[bar(NEGATIVE), "close"]
            for spike in (SPIKE, NEW_SPIKE):
                prices.loc[bar(spike), PRICE_COLUMNS] = prices.loc[bar(spike), PRICE_COLUMNS] * 100
            # the close corrected to the open, inside the day's range; adj_close with it
            corrected = bar(CORRECTED)
            factor = prices.loc[corrected, "open"] / prices.loc[corrected, "close"]
            prices.loc[corrected, ["close", "adj_close"]] = prices.loc[
                corrected, ["close", "adj_close"]
            ].mul(factor, axis=0)
            return PriceBatch(prices, batch.actions, batch.failures)

        source.fetch_prices = fetch_with_corrections
        return source

    monkeypatch.setattr(MarketDataResource, "build", source_with_bad_corrections)


@pytest.fixture(scope="module")
def reloaded(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    after = tmp_path_factory.mktemp("bad_corrections") / "after.duckdb"
    shutil.copyfile(built_warehouse, after)
    with duckdb.connect(str(after)) as connection:
        connection.execute(
            "delete from raw.daily_prices where ticker = ? and trade_date = ?", list(NEW_SPIKE)
        )
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        settings.environment(
            {settings.WAREHOUSE_PATH_ENV: str(after), settings.SOURCE_ENV: "snapshot"}
        ),
    ):
        _bad_source(monkeypatch)
        result = nightly_run_in_process(*WINDOW)
    assert result.success, "the nightly run failed"
    yield {"before": built_warehouse, "after": after, "run_id": result.run_id}


def _bar(path: Path, key: tuple[str, date], table: str = "raw.daily_prices") -> pd.Series:
    frame = query(path, f"select * from {table} where ticker = ? and trade_date = ?", list(key))
    assert len(frame) == 1, (table, key)
    return frame.iloc[0]


def test_bad_corrections_keep_the_good_bars_and_are_recorded(reloaded: dict) -> None:
    kept = PRICE_COLUMNS + ["volume", "run_id"]
    for key in (NEGATIVE, SPIKE):
        assert _bar(reloaded["after"], key)[kept].equals(_bar(reloaded["before"], key)[kept]), key
    rejected = query(reloaded["after"], "select * from raw.rejected_corrections order by ticker")
    assert rejected[["run_id", "table_name", "ticker"]].values.tolist() == [
        [reloaded["run_id"], "raw.daily_prices", NEGATIVE[0]],
        [reloaded["run_id"], "raw.daily_prices", SPIKE[0]],
    ]
    assert rejected["trade_date"].dt.date.tolist() == [NEGATIVE[1], SPIKE[1]]
    negative, spike = rejected.iloc[0], rejected.iloc[1]
    assert negative["reason"].startswith("close_outside_range: ")
    assert "non_positive_price: " in negative["reason"]
    good = _bar(reloaded["before"], NEGATIVE)
    assert json.loads(negative["rejected"])["close"] == -good["close"]
    assert json.loads(negative["kept"])["close"] == good["close"]
    # the spike judged against ORCL's neighbouring bars, as the quarantine judges it
    adjusted = query(
        reloaded["before"],
        "select coalesce(adj_close, close) as price "
        "from raw.daily_prices where ticker = 'ORCL' "
        "and trade_date between '2025-02-04' and '2025-02-06' "
        "order by trade_date",
    )["price"].tolist()
    off_both = min(100 * adjusted[1] / adjusted[0], 100 * adjusted[1] / adjusted[2])  # 99.6x
    assert spike["reason"].startswith("suspect_spike: price ")
    assert spike["reason"].endswith(f": {off_both:.1f}x off both, a one-day spike")


def test_the_days_of_the_rejected_corrections_stay_in_the_marts(reloaded: dict) -> None:
    for key in (NEGATIVE, SPIKE):
        before = _bar(reloaded["before"], key, "marts.fct_daily_returns")
        after = _bar(reloaded["after"], key, "marts.fct_daily_returns")
        for column in ("close_price", "simple_return", "market_value_usd"):
            assert after[column] == pytest.approx(before[column], rel=1e-12), (key, column)
    flagged = query(
        reloaded["after"],
        "select count(*) as n from quality.price_anomalies "
        "where trade_date between '2025-02-03' and '2025-02-07' "
        "and check_name like 'large_%'",
    )
    assert flagged["n"].item() == 0


def test_a_new_spike_is_written_but_quarantined_out_of_the_marts(reloaded: dict) -> None:
    before = _bar(reloaded["before"], NEW_SPIKE)
    assert _bar(reloaded["after"], NEW_SPIKE)["close"] == pytest.approx(before["close"] * 100)
    quarantined = query(
        reloaded["after"],
        "select ticker, trade_date, reason from quality.quarantined_prices order by all",
    )
    assert quarantined.values.tolist() == [
        [NEW_SPIKE[0], pd.Timestamp(NEW_SPIKE[1]), "suspect_spike"]
    ]
    returns = query(
        reloaded["after"],
        "select trade_date, previous_trade_date, simple_return, "
        "spans_missing_session from marts.fct_daily_returns where ticker = 'MSFT' "
        "and trade_date between '2025-02-05' and '2025-02-07' order by trade_date",
    )
    assert returns["trade_date"].dt.date.tolist() == [date(2025, 2, 5), date(2025, 2, 7)]
    following = returns.iloc[1]
    assert following["previous_trade_date"].date() == date(2025, 2, 5)
    assert bool(following["spans_missing_session"])
    # the return across the gap is the two sessions' compounded return of the build
    build = query(
        reloaded["before"],
        "select simple_return from marts.fct_daily_returns "
        "where ticker = 'MSFT' and trade_date in ('2025-02-06', '2025-02-07')",
    )
    assert 1 + following["simple_return"] == pytest.approx(
        (1 + build["simple_return"]).prod(), rel=1e-12
    )


def test_a_good_correction_is_applied_and_counted(reloaded: dict) -> None:
    before, after = _bar(reloaded["before"], CORRECTED), _bar(reloaded["after"], CORRECTED)
    assert after["close"] == before["open"]
    expected = before["adj_close"] * before["open"] / before["close"]
    assert after["adj_close"] == pytest.approx(expected, rel=1e-15)
    assert (
        _bar(reloaded["after"], CORRECTED, "marts.fct_daily_returns")["close_price"]
        == (before["open"])
    )
    logged = query(
        reloaded["after"],
        "select rows_inserted, rows_changed, rows_rejected "
        "from raw.load_log where run_id = ? and asset_key like '%daily_prices%'",
        [reloaded["run_id"]],
    )
    # AAPL's correction is written, MSFT's new bar inserted; NVDA's and ORCL's are not
    assert logged.iloc[0].tolist() == [1, 1, 2]
