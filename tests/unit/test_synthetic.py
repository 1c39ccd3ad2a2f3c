"""The synthetic snapshot generator writes files the snapshot source can replay, with the market
structure (calendars, splits, dividends, shocks) the warehouse's checks rely on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import exchange_calendars
import numpy as np
import pandas as pd
import pytest

from bench.synthetic import OUTPUT_FILES, SnapshotSummary, generate_snapshot
from warehouse.universe import load_universe

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_SNAPSHOT = REPO_ROOT / "warehouse" / "snapshot"
# Two years to 2025-06-30 cover the yen carry unwind, DeepSeek and the April 2025 tariff days.
END = date(2025, 6, 30)
TICKS = {"USD": 0.01, "EUR": 0.01, "JPY": 1.0}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SnapshotSummary]:
    out_dir = tmp_path_factory.mktemp("synthetic")
    # A high split rate so a universe this small has several splits to check.
    summary = generate_snapshot(out_dir, n_tickers=60, years=2, end=END, seed=7, splits_per_1000_ticker_years=150)
    return out_dir, summary


@pytest.fixture(scope="module")
def universe(snapshot: tuple[Path, SnapshotSummary]) -> pd.DataFrame:
    return pd.read_csv(snapshot[0] / "universe.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def prices(snapshot: tuple[Path, SnapshotSummary], universe: pd.DataFrame) -> pd.DataFrame:
    frame = pd.read_csv(snapshot[0] / "prices.csv", parse_dates=["date"])
    return frame.merge(universe[["ticker", "role", "exchange", "currency"]], on="ticker", how="left")


@pytest.fixture(scope="module")
def actions(snapshot: tuple[Path, SnapshotSummary]) -> pd.DataFrame:
    return pd.read_csv(snapshot[0] / "actions.csv", parse_dates=["date"])


def _file_bytes(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in OUTPUT_FILES}


def _series(prices: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return prices[prices["ticker"] == ticker].set_index("date").sort_index()


def test_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("first", 3), ("again", 3), ("other", 4)):
        generate_snapshot(tmp_path / name, n_tickers=8, years=1, end=END, seed=seed)

    first, again, other = (_file_bytes(tmp_path / name) for name in ("first", "again", "other"))
    assert first == again
    assert first["prices.csv"] != other["prices.csv"]
    assert first["universe.csv"] != other["universe.csv"]


def test_headers_match_the_bundled_snapshot(snapshot: tuple[Path, SnapshotSummary]) -> None:
    out_dir, _ = snapshot
    for name in ("prices.csv", "fundamentals.csv", "shares_outstanding.csv", "actions.csv"):
        assert (out_dir / name).read_text().splitlines()[0] == (BUNDLED_SNAPSHOT / name).read_text().splitlines()[0], name
    universe_header = (REPO_ROOT / "warehouse" / "universe.csv").read_text().splitlines()[0]
    assert (out_dir / "universe.csv").read_text().splitlines()[0] == universe_header
    assert "synthetic" in (out_dir / "SOURCES.md").read_text().lower()


def test_summary_counts_what_was_written(snapshot: tuple[Path, SnapshotSummary], prices: pd.DataFrame, actions: pd.DataFrame) -> None:
    out_dir, summary = snapshot
    assert summary.price_rows == len(prices)
    assert summary.splits == (actions["action"] == "split").sum() > 0
    assert summary.dividends == (actions["action"] == "dividend").sum() > 0
    assert summary.file_bytes == {name: (out_dir / name).stat().st_size for name in OUTPUT_FILES}


def test_universe_passes_the_warehouse_validation(snapshot: tuple[Path, SnapshotSummary], universe: pd.DataFrame, prices: pd.DataFrame) -> None:
    loaded = load_universe(snapshot[0] / "universe.csv")

    assert len(loaded.equities()) == 60
    assert {security.exchange for security in loaded.equities()} == {"XNYS", "XNAS", "XTKS", "XETR"}
    assert {security.ticker for security in loaded.by_role("index")} == {"^SYNUS", "^SYNJP", "^SYNDE"}
    assert {security.ticker for security in loaded.fx_pairs()} == {"JPY=X", "EURUSD=X"}
    assert set(prices["ticker"]) == set(universe["ticker"])


def test_no_duplicated_ticker_dates(prices: pd.DataFrame) -> None:
    assert not prices.duplicated(["ticker", "date"]).any()


def test_bars_are_consistent(prices: pd.DataFrame) -> None:
    assert (prices["low"] > 0).all()
    assert (prices["low"] <= prices[["open", "close"]].min(axis=1)).all()
    assert (prices["high"] >= prices[["open", "close"]].max(axis=1)).all()

    equities = prices[prices["role"] == "equity"]
    assert equities["adj_close"].notna().all() and (equities["volume"] > 0).all()
    assert prices.loc[prices["role"] != "equity", "adj_close"].isna().all()
    assert prices.loc[prices["role"] == "fx", "volume"].isna().all()


def test_every_row_is_a_session_of_the_tickers_exchange_with_no_gap_after_listing(prices: pd.DataFrame) -> None:
    for exchange, rows in prices.groupby("exchange"):
        first_day = rows["date"].min().date()
        if exchange == "FX":
            sessions = pd.bdate_range(first_day, END)
        else:
            sessions = exchange_calendars.get_calendar(exchange, start=first_day, end=END).sessions_in_range(first_day, END)
        for ticker, dates in rows.groupby("ticker")["date"]:
            expected = sessions[sessions >= dates.min()]
            assert pd.DatetimeIndex(dates.sort_values()).equals(pd.DatetimeIndex(expected)), ticker


def test_some_tickers_list_inside_the_window(prices: pd.DataFrame) -> None:
    first_dates = prices[prices["role"] == "equity"].groupby("ticker")["date"].min()
    window_start = first_dates.min()
    assert (first_dates > window_start + pd.Timedelta(days=30)).any()


def test_splits_are_back_adjusted_like_yahoo(prices: pd.DataFrame, actions: pd.DataFrame, snapshot: tuple[Path, SnapshotSummary]) -> None:
    counts = pd.read_csv(snapshot[0] / "shares_outstanding.csv", parse_dates=["as_of"])
    splits = actions[actions["action"] == "split"]
    assert set(splits["value"]) <= {2.0, 3.0, 4.0, 10.0}
    for split in splits.itertuples():
        series = _series(prices, split.ticker)
        later_splits = splits[(splits["ticker"] == split.ticker) & (splits["date"] > split.date)]["value"].prod()
        before, on = series.loc[:split.date].iloc[-2], series.loc[split.date]

        # No -50%/-75% jump: prices before the split are divided by the ratio.
        assert -0.3 < on["close"] / before["close"] - 1 < 0.4
        # Undoing the adjustment gives a traded price on the exchange's tick.
        traded = before["close"] * split.value * later_splits
        tick = TICKS[before["currency"]] if traded >= 1 else 0.0001
        assert traded / tick == pytest.approx(round(traded / tick), abs=1e-6)

        # Share counts stay as reported: the one after the split is about ratio x the one before.
        ticker_counts = counts[counts["ticker"] == split.ticker].set_index("as_of")["shares_outstanding"]
        count_before, count_after = ticker_counts.loc[:split.date - pd.Timedelta(days=1)], ticker_counts.loc[split.date:]
        if len(count_before) and len(count_after):
            assert count_after.iloc[0] / count_before.iloc[-1] == pytest.approx(split.value * 1.0, rel=0.1)


def test_adj_close_steps_by_each_dividend(prices: pd.DataFrame, actions: pd.DataFrame) -> None:
    dividends = actions[actions["action"] == "dividend"]
    for dividend in dividends.itertuples():
        series = _series(prices, dividend.ticker)
        factor = series["adj_close"] / series["close"]
        position = series.index.get_loc(dividend.date)
        step = factor.iloc[position - 1] / factor.iloc[position]
        assert step == pytest.approx(1 - dividend.value / series["close"].iloc[position - 1], rel=1e-9)
    last_ex_dates = dividends.groupby("ticker")["date"].max()
    for ticker, last_ex in last_ex_dates.items():
        series = _series(prices, ticker)
        assert (series.loc[last_ex:, "adj_close"] == series.loc[last_ex:, "close"]).all()


def test_deepseek_shock_hits_semiconductor_names(prices: pd.DataFrame, snapshot: tuple[Path, SnapshotSummary]) -> None:
    fundamentals = pd.read_csv(snapshot[0] / "fundamentals.csv")
    semiconductors = set(fundamentals.loc[fundamentals["industry"] == "Semiconductors", "ticker"])
    returns = prices.sort_values("date").groupby("ticker")["adj_close"].pct_change().rename("return")
    deepseek = prices.join(returns)[lambda frame: (frame["date"] == "2025-01-27") & (frame["role"] == "equity")]

    semis = deepseek[deepseek["ticker"].isin(semiconductors)]["return"]
    others = deepseek[~deepseek["ticker"].isin(semiconductors)]["return"]
    assert len(semis) >= 2
    assert semis.median() < -0.12
    assert others.median() > -0.05
    us_index = _series(prices, "^SYNUS")["close"].pct_change().loc["2025-01-27"]
    assert -0.05 < us_index < -0.015


def test_fundamentals_market_cap_is_reported_shares_times_traded_close(prices: pd.DataFrame, actions: pd.DataFrame, snapshot: tuple[Path, SnapshotSummary]) -> None:
    fundamentals = pd.read_csv(snapshot[0] / "fundamentals.csv", parse_dates=["as_of"])
    split_tickers = set(actions.loc[actions["action"] == "split", "ticker"])
    unsplit = fundamentals[~fundamentals["ticker"].isin(split_tickers)]
    closes = prices.set_index(["ticker", "date"])["close"]
    traded_close = closes.loc[list(zip(unsplit["ticker"], unsplit["as_of"]))].to_numpy()
    assert len(unsplit) > 0
    assert np.allclose(unsplit["market_cap"], unsplit["shares_outstanding"] * traded_close, rtol=1e-9, atol=1)
    assert (fundamentals["as_of"].dt.month == 12).all()
