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
# Two years to 2025-06-30 hold the yen carry unwind, DeepSeek and the April 2025 tariff days.
END = date(2025, 6, 30)
TICKS = {"USD": 0.01, "EUR": 0.01, "JPY": 1.0}
SUB_UNIT_TICK = 0.0001  # divides every tick used under one currency unit


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> SnapshotSummary:
    # A high split rate so that a universe this small has several splits to check.
    out_dir = tmp_path_factory.mktemp("synthetic")
    return generate_snapshot(
        out_dir, n_tickers=60, years=2, end=END, seed=7, splits_per_1000_ticker_years=150
    )


def _read(summary: SnapshotSummary, name: str, **options: object) -> pd.DataFrame:
    return pd.read_csv(summary.out_dir / name, **options)


@pytest.fixture(scope="module")
def universe(summary: SnapshotSummary) -> pd.DataFrame:
    return _read(summary, "universe.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def prices(summary: SnapshotSummary, universe: pd.DataFrame) -> pd.DataFrame:
    frame = _read(summary, "prices.csv", parse_dates=["date"])
    return frame.merge(
        universe[["ticker", "role", "exchange", "currency"]], on="ticker", how="left"
    )


@pytest.fixture(scope="module")
def actions(summary: SnapshotSummary) -> pd.DataFrame:
    return _read(summary, "actions.csv", parse_dates=["date"])


def _series(prices: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return prices[prices["ticker"] == ticker].set_index("date").sort_index()


def _header(path: Path) -> str:
    return path.read_text().splitlines()[0]


def test_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("first", 3), ("again", 3), ("other", 4)):
        generate_snapshot(tmp_path / name, n_tickers=8, years=1, end=END, seed=seed)

    first, again, other = (
        {name: (tmp_path / run / name).read_bytes() for name in OUTPUT_FILES}
        for run in ("first", "again", "other")
    )
    assert first == again
    assert first["prices.csv"] != other["prices.csv"]
    assert first["universe.csv"] != other["universe.csv"]


def test_headers_match_the_bundled_snapshot(summary: SnapshotSummary) -> None:
    for name in ("prices.csv", "fundamentals.csv", "shares_outstanding.csv", "actions.csv"):
        assert _header(summary.out_dir / name) == _header(BUNDLED_SNAPSHOT / name), name
    assert _header(summary.out_dir / "universe.csv") == _header(
        REPO_ROOT / "warehouse" / "universe.csv"
    )
    assert "synthetic" in (summary.out_dir / "SOURCES.md").read_text().lower()


def test_summary_counts_what_was_written(
    summary: SnapshotSummary, prices: pd.DataFrame, actions: pd.DataFrame
) -> None:
    assert summary.price_rows == len(prices)
    assert summary.splits == (actions["action"] == "split").sum() > 0
    assert summary.dividends == (actions["action"] == "dividend").sum() > 0
    assert summary.file_bytes == {
        name: (summary.out_dir / name).stat().st_size for name in OUTPUT_FILES
    }


def test_universe_passes_the_warehouse_validation(
    summary: SnapshotSummary, universe: pd.DataFrame, prices: pd.DataFrame
) -> None:
    loaded = load_universe(summary.out_dir / "universe.csv")

    assert len(loaded.equities()) == 60
    assert {security.exchange for security in loaded.equities()} == {"XNYS", "XNAS", "XTKS", "XETR"}
    assert {security.ticker for security in loaded.by_role("index")} == {
        "^SYNUS",
        "^SYNJP",
        "^SYNDE",
    }
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


def test_rows_are_every_session_of_the_exchange_from_listing_on(prices: pd.DataFrame) -> None:
    for exchange, rows in prices.groupby("exchange"):
        first_day = rows["date"].min().date()
        if exchange == "FX":
            sessions = pd.bdate_range(first_day, END)
        else:
            calendar = exchange_calendars.get_calendar(exchange, start=first_day, end=END)
            sessions = calendar.sessions_in_range(first_day, END)
        for ticker, dates in rows.groupby("ticker")["date"]:
            expected = sessions[sessions >= dates.min()]
            assert pd.DatetimeIndex(dates.sort_values()).equals(pd.DatetimeIndex(expected)), ticker


def test_some_tickers_list_inside_the_window(prices: pd.DataFrame) -> None:
    first_dates = prices[prices["role"] == "equity"].groupby("ticker")["date"].min()
    assert (first_dates > first_dates.min() + pd.Timedelta(days=30)).any()


def test_splits_are_back_adjusted_like_yahoo_and_share_counts_are_not(
    summary: SnapshotSummary, prices: pd.DataFrame, actions: pd.DataFrame
) -> None:
    counts = _read(summary, "shares_outstanding.csv", parse_dates=["as_of"])
    splits = actions[actions["action"] == "split"]
    assert set(splits["value"]) <= {2.0, 3.0, 4.0, 10.0}
    for split in splits.itertuples():
        series = _series(prices, split.ticker)
        later = splits[(splits["ticker"] == split.ticker) & (splits["date"] > split.date)][
            "value"
        ].prod()
        before, on = series.loc[: split.date].iloc[-2], series.loc[split.date]

        # No -50%/-75% jump: prices before the split are divided by the ratio.
        assert -0.3 < on["close"] / before["close"] - 1 < 0.4
        # Undoing the adjustment gives a traded price on the exchange's tick.
        traded = before["close"] * split.value * later
        tick = TICKS[before["currency"]] if traded >= 1 else SUB_UNIT_TICK
        assert traded / tick == pytest.approx(round(traded / tick), abs=1e-6)

        # Share counts stay as reported: the first after the split is about ratio x the last before.
        ticker_counts = counts[counts["ticker"] == split.ticker].set_index("as_of")[
            "shares_outstanding"
        ]
        count_before = ticker_counts.loc[: split.date - pd.Timedelta(days=1)]
        count_after = ticker_counts.loc[split.date :]
        if len(count_before) and len(count_after):
            assert count_after.iloc[0] / count_before.iloc[-1] == pytest.approx(
                split.value, rel=0.1
            )


def test_adj_close_steps_by_each_dividend(prices: pd.DataFrame, actions: pd.DataFrame) -> None:
    dividends = actions[actions["action"] == "dividend"]
    for dividend in dividends.itertuples():
        series = _series(prices, dividend.ticker)
        factor = series["adj_close"] / series["close"]
        position = series.index.get_loc(dividend.date)
        step = factor.iloc[position - 1] / factor.iloc[position]
        assert step == pytest.approx(
            1 - dividend.value / series["close"].iloc[position - 1], rel=1e-9
        )
    for ticker, last_ex_date in dividends.groupby("ticker")["date"].max().items():
        after = _series(prices, ticker).loc[last_ex_date:]
        assert (after["adj_close"] == after["close"]).all()


def test_deepseek_shock_hits_semiconductor_names(
    summary: SnapshotSummary, prices: pd.DataFrame
) -> None:
    fundamentals = _read(summary, "fundamentals.csv")
    semiconductors = set(fundamentals.loc[fundamentals["industry"] == "Semiconductors", "ticker"])
    returns = (
        prices.sort_values("date").groupby("ticker")["adj_close"].pct_change().rename("return")
    )
    on_the_day = prices.join(returns)
    on_the_day = on_the_day[(on_the_day["date"] == "2025-01-27") & (on_the_day["role"] == "equity")]

    is_semiconductor = on_the_day["ticker"].isin(semiconductors)
    assert is_semiconductor.sum() >= 2
    assert on_the_day.loc[is_semiconductor, "return"].median() < -0.12
    assert on_the_day.loc[~is_semiconductor, "return"].median() > -0.05
    assert -0.05 < _series(prices, "^SYNUS")["close"].pct_change().loc["2025-01-27"] < -0.015


def test_market_cap_is_reported_shares_times_traded_close(
    summary: SnapshotSummary, prices: pd.DataFrame, actions: pd.DataFrame
) -> None:
    fundamentals = _read(summary, "fundamentals.csv", parse_dates=["as_of"])
    assert (fundamentals["as_of"].dt.month == 12).all()
    # Without a later split, the close in prices.csv is the traded close.
    unsplit = fundamentals[
        ~fundamentals["ticker"].isin(actions.loc[actions["action"] == "split", "ticker"])
    ]
    closes = prices.set_index(["ticker", "date"])["close"]
    traded_close = closes.loc[
        list(zip(unsplit["ticker"], unsplit["as_of"], strict=True))
    ].to_numpy()
    assert len(unsplit) > 0
    assert np.allclose(
        unsplit["market_cap"], unsplit["shares_outstanding"] * traded_close, rtol=1e-9, atol=1
    )
