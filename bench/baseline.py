"""The pandas baseline: the warehouse's marts computed the straightforward way, in memory.

``bench.run`` times it against the SQL models that build the same tables. It reads the raw tables
of a built warehouse (and the dbt seeds) and computes, with the definitions of the dbt models:

* daily returns (``fct_daily_returns``): total returns against each security's previous trading
  row, session ordinals, the benchmark's return over the same interval, shares outstanding on the
  current split basis, market values in local currency and USD;
* the event study (``fct_event_impact``): day 0 on each exchange, the market model estimated over
  relative days [-260, -11], abnormal returns, CARs and their t-statistics for every window and
  expected-return model, day-0 USD value change, ranks;
* the average pairwise residual correlation of each event and sector / industry group
  (``int_event_residual_correlation_groups``);
* sector daily returns (``agg_sector_daily``): cap-weighted (previous USD market value) and
  equal-weighted, market value, breadth.

Then it checks its numbers against the marts (outside the timed part), so the comparison is between
two implementations of the same tables.

    python -m bench.baseline --warehouse W.duckdb [--result out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO_ROOT / "dbt_project" / "seeds"
# dbt_project.yml vars and macros/event_study/
ESTIMATION_FIRST_DAY, ESTIMATION_LAST_DAY, MIN_ESTIMATION_OBS = -260, -11, 120
WINDOWS = (("0_0", 0, 0), ("m1_p1", -1, 1), ("0_p1", 0, 1), ("0_p5", 0, 5), ("m5_p5", -5, 5))
MODELS = (("market_model", "mm"), ("market_adjusted", "mktadj"), ("mean_adjusted", "meanadj"))
RELATIVE_DAYS = range(
    min(ESTIMATION_FIRST_DAY, *(w[1] for w in WINDOWS)), max(w[2] for w in WINDOWS) + 1
)


# ------------------------------------------------------------------------------------- inputs


def load_inputs(warehouse: Path, seeds: Path = SEEDS_DIR) -> dict[str, pd.DataFrame]:
    """The raw tables the marts are computed from, and the seeds."""
    import duckdb

    queries = {
        "securities": "SELECT ticker, role, exchange, currency, benchmark FROM raw.securities",
        "prices": "SELECT ticker, trade_date, close, adj_close FROM raw.daily_prices",
        "actions": "SELECT ticker, action_date, action_type, value FROM raw.corporate_actions",
        "fx": "SELECT ticker, rate_date, base_currency, quote_currency, close FROM raw.fx_rates",
        "shares": "SELECT ticker, as_of_date, shares_outstanding FROM raw.shares_outstanding",
        "fundamentals": "SELECT ticker, as_of_date, sector, industry, shares_outstanding, market_cap "
        "FROM raw.fundamentals",
        "sessions": "SELECT exchange, session_date FROM raw.exchange_sessions",
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frames = {name: con.execute(query).df() for name, query in queries.items()}
    frames["events"] = pd.read_csv(seeds / "events.csv", parse_dates=["event_date"])
    frames["sector_map"] = pd.read_csv(seeds / "sector_map.csv")
    frames["listing_share_ratios"] = pd.read_csv(seeds / "listing_share_ratios.csv")
    for frame in frames.values():
        for column in frame.columns:
            if column.endswith("_date") or column == "event_date":
                frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frames


# ------------------------------------------------------------------------------ daily returns


def exchange_sessions(sessions: pd.DataFrame) -> pd.DataFrame:
    """int_exchange_sessions: session ordinals per exchange (sorted by date, for as-of joins)."""
    sessions = sessions.sort_values(["exchange", "session_date"], ignore_index=True)
    sessions["session_number"] = sessions.groupby("exchange").cumcount() + 1
    return sessions.sort_values("session_date", ignore_index=True)


def _asof_session(
    frame: pd.DataFrame, date_column: str, sessions: pd.DataFrame, prefix: str
) -> pd.DataFrame:
    """The latest session of the row's exchange on or before ``date_column`` (NaT stays unmatched)."""
    known = frame[frame[date_column].notna()]
    matched = pd.merge_asof(
        known[[date_column, "exchange"]].reset_index().sort_values(date_column),
        sessions.rename(
            columns={
                "session_date": f"{prefix}_session_date",
                "session_number": f"{prefix}_session_number",
            }
        ),
        left_on=date_column,
        right_on=f"{prefix}_session_date",
        by="exchange",
        direction="backward",
    ).set_index("index")
    return matched[[f"{prefix}_session_date", f"{prefix}_session_number"]].reindex(frame.index)


def daily_returns(inputs: dict[str, pd.DataFrame], sessions: pd.DataFrame) -> pd.DataFrame:
    """int_daily_returns."""
    securities = inputs["securities"][["ticker", "exchange", "benchmark"]]
    prices = inputs["prices"].merge(securities, on="ticker", how="inner")
    prices["adjusted_close"] = prices["adj_close"].fillna(prices["close"])
    actions = inputs["actions"]
    dividends = actions.loc[
        actions["action_type"] == "dividend", ["ticker", "action_date", "value"]
    ].rename(columns={"action_date": "trade_date", "value": "dividend_per_share"})
    prices = prices.merge(dividends, on=["ticker", "trade_date"], how="left")
    prices = prices.sort_values(["ticker", "trade_date"], ignore_index=True)
    previous = prices.groupby("ticker")[["trade_date", "close", "adjusted_close"]].shift(1)
    prices["previous_trade_date"] = previous["trade_date"]
    prices["previous_close"] = previous["close"]
    prices["previous_adjusted_close"] = previous["adjusted_close"]

    current = _asof_session(prices, "trade_date", sessions, "current")
    before = _asof_session(prices, "previous_trade_date", sessions, "previous")
    prices["exchange_session_number"] = current["current_session_number"]
    prices["is_exchange_session"] = current["current_session_date"] == prices["trade_date"]
    prices["sessions_spanned"] = (
        current["current_session_number"] - before["previous_session_number"]
    )

    dividend_back = np.where(
        prices["adj_close"].isna(), prices["dividend_per_share"].fillna(0.0), 0.0
    )
    prices["simple_return"] = (prices["adjusted_close"] + dividend_back) / prices[
        "previous_adjusted_close"
    ] - 1
    prices["raw_close_return"] = prices["close"] / prices["previous_close"] - 1
    prices["spans_missing_session"] = (prices["sessions_spanned"] > 1).where(
        prices["sessions_spanned"].notna()
    )
    prices["total_return_index"] = (
        (1 + prices["simple_return"].fillna(0.0)).groupby(prices["ticker"]).cumprod()
    )
    prices["log_return"] = np.log1p(prices["simple_return"])

    index = prices[["ticker", "trade_date", "total_return_index"]]
    now = prices[["benchmark", "trade_date"]].merge(
        index.rename(columns={"ticker": "benchmark", "total_return_index": "now"}),
        on=["benchmark", "trade_date"],
        how="left",
    )["now"]
    then = prices[["benchmark", "previous_trade_date"]].merge(
        index.rename(
            columns={
                "ticker": "benchmark",
                "trade_date": "previous_trade_date",
                "total_return_index": "then",
            }
        ),
        on=["benchmark", "previous_trade_date"],
        how="left",
    )["then"]
    prices["benchmark_return"] = now.to_numpy() / then.to_numpy() - 1
    return prices


def shares_outstanding_daily(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """int_shares_outstanding_daily: the latest filing on or before each trading day, on the current
    split basis, else the latest fundamentals count, else market cap / close."""
    actions, fundamentals, prices = inputs["actions"], inputs["fundamentals"], inputs["prices"]
    splits = actions.loc[actions["action_type"] == "split", ["ticker", "action_date", "value"]]
    # the product of the ratios of every split after a date: a suffix product per ticker
    splits = splits.sort_values(
        ["ticker", "action_date"], ascending=[True, False], ignore_index=True
    )
    splits["later_ratio"] = splits.groupby("ticker")["value"].cumprod()
    splits = splits.sort_values("action_date", ignore_index=True)

    def on_current_basis(counts: pd.DataFrame) -> pd.Series:
        ordered = counts.reset_index().sort_values("as_of_date")
        matched = pd.merge_asof(
            ordered,
            splits[["ticker", "action_date", "later_ratio"]],
            left_on="as_of_date",
            right_on="action_date",
            by="ticker",
            direction="forward",
            allow_exact_matches=False,
        ).set_index("index")
        return counts["shares"] * matched["later_ratio"].reindex(counts.index).fillna(1.0)

    filed = inputs["shares"].merge(
        inputs["listing_share_ratios"][["ticker", "reported_shares_per_listed_share"]],
        on="ticker",
        how="left",
    )
    filed["shares"] = filed["shares_outstanding"] / filed[
        "reported_shares_per_listed_share"
    ].fillna(1.0)
    filed = filed[["ticker", "as_of_date", "shares"]].drop_duplicates()
    filed["shares_outstanding"] = on_current_basis(filed)

    latest = fundamentals.sort_values("as_of_date").groupby("ticker").tail(1)
    with_count = fundamentals[fundamentals["shares_outstanding"].notna()].sort_values("as_of_date")
    fundamentals_count = with_count.groupby("ticker").tail(1)[
        ["ticker", "as_of_date", "shares_outstanding"]
    ]
    fundamentals_count = fundamentals_count.rename(columns={"shares_outstanding": "shares"})
    fundamentals_count["shares_outstanding"] = on_current_basis(fundamentals_count)
    del latest

    with_cap = (
        fundamentals[fundamentals["market_cap"].notna()]
        .sort_values("as_of_date")
        .groupby("ticker")
        .tail(1)
    )
    closes = prices[["ticker", "trade_date", "close"]].sort_values("trade_date")
    implied = pd.merge_asof(
        with_cap[["ticker", "as_of_date", "market_cap"]].sort_values("as_of_date"),
        closes,
        left_on="as_of_date",
        right_on="trade_date",
        by="ticker",
        direction="backward",
    )
    implied = implied[implied["close"].notna()]
    implied["shares_outstanding"] = implied["market_cap"] / implied["close"]

    days = prices[["ticker", "trade_date"]].reset_index(drop=True)
    history = (
        pd.merge_asof(
            days.reset_index().sort_values("trade_date"),
            filed[["ticker", "as_of_date", "shares_outstanding"]].sort_values("as_of_date"),
            left_on="trade_date",
            right_on="as_of_date",
            by="ticker",
            direction="backward",
        )
        .set_index("index")
        .reindex(days.index)
    )
    fallback = days[["ticker"]].merge(
        fundamentals_count[["ticker", "as_of_date", "shares_outstanding"]], on="ticker", how="left"
    )
    last_resort = days[["ticker"]].merge(
        implied[["ticker", "as_of_date", "shares_outstanding"]], on="ticker", how="left"
    )
    shares = history["shares_outstanding"]
    days["shares_basis"] = np.select(
        [
            shares.notna(),
            fallback["shares_outstanding"].notna(),
            last_resort["shares_outstanding"].notna(),
        ],
        ["share_history", "fundamentals", "implied_from_market_cap"],
        default=None,
    )
    days["shares_outstanding"] = shares.fillna(fallback["shares_outstanding"]).fillna(
        last_resort["shares_outstanding"]
    )
    days["shares_as_of_date"] = history["as_of_date"].where(
        shares.notna(),
        fallback["as_of_date"].where(
            fallback["shares_outstanding"].notna(), last_resort["as_of_date"]
        ),
    )
    return days


def fx_usd_rates(fx: pd.DataFrame) -> pd.DataFrame:
    """int_fx_usd_rates."""
    usd = fx[
        ((fx["base_currency"] == "USD") | (fx["quote_currency"] == "USD"))
        & (fx["base_currency"] != fx["quote_currency"])
    ]
    quoted_in_usd = usd["quote_currency"] == "USD"
    return pd.DataFrame(
        {
            "currency": np.where(quoted_in_usd, usd["base_currency"], usd["quote_currency"]),
            "rate_date": usd["rate_date"],
            "usd_per_unit": np.where(quoted_in_usd, usd["close"], 1.0 / usd["close"]),
        }
    )


def daily_market_values(
    inputs: dict[str, pd.DataFrame], shares: pd.DataFrame, rates: pd.DataFrame
) -> pd.DataFrame:
    """int_daily_market_values."""
    days = inputs["prices"][["ticker", "trade_date", "close"]].merge(
        inputs["securities"][["ticker", "currency"]], on="ticker", how="inner"
    )
    days = days.merge(shares, on=["ticker", "trade_date"], how="left")
    matched = (
        pd.merge_asof(
            days.reset_index().sort_values("trade_date"),
            rates.sort_values("rate_date"),
            left_on="trade_date",
            right_on="rate_date",
            by="currency",
            direction="backward",
        )
        .set_index("index")
        .reindex(days.index)
    )
    days["usd_per_local_unit"] = np.where(days["currency"] == "USD", 1.0, matched["usd_per_unit"])
    days["fx_rate_date"] = matched["rate_date"]
    days = days.sort_values(["ticker", "trade_date"], ignore_index=True)
    close_usd = days["close"] * days["usd_per_local_unit"]
    days["market_value_local"] = days["shares_outstanding"] * days["close"]
    days["market_value_usd"] = days["market_value_local"] * days["usd_per_local_unit"]
    grouped = pd.DataFrame({"close_usd": close_usd, "value": days["market_value_usd"]}).groupby(
        days["ticker"]
    )
    previous = grouped.shift(1)
    days["previous_market_value_usd"] = previous["value"]
    days["market_value_change_usd"] = days["shares_outstanding"] * (
        close_usd - previous["close_usd"]
    )
    return days


def fct_daily_returns(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    sessions = exchange_sessions(inputs["sessions"])
    returns = daily_returns(inputs, sessions)
    values = daily_market_values(
        inputs, shares_outstanding_daily(inputs), fx_usd_rates(inputs["fx"])
    )
    returns = returns.merge(
        values[
            [
                "ticker",
                "trade_date",
                "currency",
                "shares_outstanding",
                "usd_per_local_unit",
                "market_value_local",
                "market_value_usd",
                "previous_market_value_usd",
                "market_value_change_usd",
            ]
        ],
        on=["ticker", "trade_date"],
        how="inner",
    )
    return returns.merge(inputs["securities"][["ticker", "role"]], on="ticker", how="inner")


# ------------------------------------------------------------------------------- event study


def security_attributes(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """int_security_attributes / dim_security: sector and industry from the latest fundamentals, else
    the curated sector_map."""
    fundamentals = inputs["fundamentals"].sort_values("as_of_date").groupby("ticker").tail(1)
    attributes = inputs["securities"].merge(
        fundamentals[["ticker", "sector", "industry"]], on="ticker", how="left"
    )
    curated = inputs["sector_map"].rename(
        columns={"sector": "map_sector", "industry": "map_industry"}
    )
    attributes = attributes.merge(curated, on="ticker", how="left")
    from_fundamentals = attributes["sector"].notna()
    attributes["industry"] = attributes["industry"].where(
        from_fundamentals, attributes["map_industry"]
    )
    attributes["sector"] = attributes["sector"].where(from_fundamentals, attributes["map_sector"])
    return attributes.drop(columns=["map_sector", "map_industry"])


def event_securities(
    inputs: dict[str, pd.DataFrame],
    sessions: pd.DataFrame,
    attributes: pd.DataFrame,
    returns: pd.DataFrame,
) -> pd.DataFrame:
    listed = attributes[attributes["role"].isin(["equity", "etf"])]
    pairs = inputs["events"][["event_id", "event_date"]].merge(listed, how="cross")
    day0 = (
        pd.merge_asof(
            pairs.reset_index().sort_values("event_date"),
            sessions.rename(
                columns={"session_date": "day0_date", "session_number": "day0_session_number"}
            ),
            left_on="event_date",
            right_on="day0_date",
            by="exchange",
            direction="forward",
        )
        .set_index("index")
        .reindex(pairs.index)
    )
    pairs["day0_date"] = day0["day0_date"]
    pairs["day0_session_number"] = day0["day0_session_number"]
    history = returns.groupby("ticker")["trade_date"].agg(
        first_price_date="min", last_price_date="max"
    )
    return pairs.merge(history, left_on="ticker", right_index=True, how="left")


def event_security_days(securities: pd.DataFrame, returns: pd.DataFrame) -> pd.DataFrame:
    """One row per event x security x relative day in [-260, 5] with a price on that session."""
    probes = securities.loc[
        securities["day0_session_number"].notna(), ["event_id", "ticker", "day0_session_number"]
    ]
    offsets = np.array(RELATIVE_DAYS)
    probes = probes.loc[probes.index.repeat(len(offsets))].reset_index(drop=True)
    probes["relative_day"] = np.tile(offsets, len(probes) // len(offsets))
    probes["exchange_session_number"] = probes["day0_session_number"] + probes["relative_day"]
    on_sessions = returns[returns["is_exchange_session"].fillna(False).astype(bool)]
    days = probes.merge(
        on_sessions[
            [
                "ticker",
                "exchange_session_number",
                "trade_date",
                "close",
                "simple_return",
                "benchmark_return",
                "sessions_spanned",
                "spans_missing_session",
                "previous_market_value_usd",
                "market_value_change_usd",
            ]
        ],
        on=["ticker", "exchange_session_number"],
        how="inner",
    )
    days["in_estimation_sample"] = (
        days["relative_day"].between(ESTIMATION_FIRST_DAY, ESTIMATION_LAST_DAY)
        & days["simple_return"].notna()
        & days["benchmark_return"].notna()
        & days["spans_missing_session"].eq(False)  # null is not False: the SQL excludes it too
    )
    return days


def event_estimation(securities: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    sample = days[days["in_estimation_sample"]]
    y, x = sample["simple_return"], sample["benchmark_return"]
    keys = [sample["event_id"], sample["ticker"]]
    sums = pd.DataFrame({"n": 1, "x": x, "y": y, "xx": x * x, "xy": x * y}).groupby(keys).sum()
    dates = sample["trade_date"].groupby(keys).agg(["min", "max"])
    fit = pd.DataFrame(index=sums.index)
    fit["estimation_obs"] = sums["n"]
    fit["estimation_first_date"], fit["estimation_last_date"] = dates["min"], dates["max"]
    fit["mean_return"] = sums["y"] / sums["n"]
    fit["mean_benchmark_return"] = sums["x"] / sums["n"]
    fit["benchmark_sxx"] = sums["xx"] - sums["n"] * fit["mean_benchmark_return"] ** 2
    sxy = sums["xy"] - sums["n"] * fit["mean_benchmark_return"] * fit["mean_return"]
    fit["beta"] = sxy / fit["benchmark_sxx"].where(fit["benchmark_sxx"] != 0)
    fit["alpha"] = fit["mean_return"] - fit["beta"] * fit["mean_benchmark_return"]
    fitted = sample[["event_id", "ticker"]].merge(
        fit[["alpha", "beta", "estimation_obs"]].reset_index(),
        on=["event_id", "ticker"],
        how="left",
    )
    residual = y.to_numpy() - fitted["alpha"].to_numpy() - fitted["beta"].to_numpy() * x.to_numpy()
    stats = (
        pd.DataFrame({"squared": residual**2, "positive": (residual > 0).astype(float)})
        .groupby([fitted["event_id"], fitted["ticker"]])
        .agg(squared=("squared", "sum"), positive=("positive", "mean"))
    )
    enough = fit["estimation_obs"] > 2
    fit["residual_variance"] = (stats["squared"] / (fit["estimation_obs"] - 2)).where(enough)
    fit["positive_residual_share"] = stats["positive"].where(enough)

    assessed = securities[
        ["event_id", "ticker", "exchange", "benchmark", "day0_session_number"]
    ].merge(fit.reset_index(), on=["event_id", "ticker"], how="left")
    assessed["estimation_obs"] = assessed["estimation_obs"].fillna(0).astype(int)
    reason = np.select(
        [
            assessed["day0_session_number"].isna(),
            assessed["benchmark"].isna(),
            assessed["estimation_obs"] < MIN_ESTIMATION_OBS,
            assessed["benchmark_sxx"] == 0,
        ],
        [
            "no session on or after the event date",
            "security has no benchmark",
            "too few estimation observations",
            "benchmark returns are constant",
        ],
        default="",
    )
    assessed["estimation_reason"] = pd.Series(reason, index=assessed.index).replace("", None)
    usable = assessed["estimation_reason"].isna()
    for column in (
        "alpha",
        "beta",
        "residual_variance",
        "mean_return",
        "mean_benchmark_return",
        "benchmark_sxx",
        "positive_residual_share",
    ):
        assessed[column] = assessed[column].where(usable)
    return assessed


def event_window_impact(days: pd.DataFrame, estimation: pd.DataFrame) -> pd.DataFrame:
    priced = days[days["simple_return"].notna()]
    columns = [
        "event_id",
        "ticker",
        "alpha",
        "beta",
        "mean_return",
        "mean_benchmark_return",
        "benchmark_sxx",
        "residual_variance",
        "estimation_obs",
    ]
    priced = priced.merge(estimation[columns], on=["event_id", "ticker"], how="inner")
    frames = []
    for window, first, last in WINDOWS:
        in_window = priced[priced["relative_day"].between(first, last)]
        r, m = in_window["simple_return"], in_window["benchmark_return"]
        market_model = in_window["alpha"] + in_window["beta"] * m
        variance = in_window["residual_variance"] * (
            1
            + 1.0 / in_window["estimation_obs"]
            + (m - in_window["mean_benchmark_return"]) ** 2 / in_window["benchmark_sxx"]
        )
        for model, expected, error_variance in (
            ("market_model", market_model, variance),
            ("market_adjusted", m, None),
            ("mean_adjusted", in_window["mean_return"], None),
        ):
            frame = pd.DataFrame(
                {
                    "event_id": in_window["event_id"],
                    "ticker": in_window["ticker"],
                    "relative_day": in_window["relative_day"],
                    "reach_back": in_window["relative_day"] - in_window["sessions_spanned"],
                    "spans": in_window["spans_missing_session"].fillna(False).astype(bool),
                    "growth": 1 + r,
                    "expected_growth": 1 + expected,
                    "has_expected": expected.notna(),
                    "abnormal": r - expected,
                    "variance": np.nan if error_variance is None else error_variance,
                    "usd": in_window["market_value_change_usd"],
                }
            )
            aggregated = (
                frame.groupby(["event_id", "ticker"])
                .agg(
                    return_days=("relative_day", "size"),
                    last_day=("relative_day", "max"),
                    reach_back=("reach_back", "min"),
                    spans_missing_session=("spans", "any"),
                    with_expected=("has_expected", "sum"),
                    window_growth=("growth", "prod"),
                    expected_growth=("expected_growth", "prod"),
                    cumulative_abnormal_return=("abnormal", "sum"),
                    car_variance=("variance", "sum"),
                    variance_terms=("variance", "count"),
                    usd_value_change=("usd", "sum"),
                    usd_terms=("usd", "count"),
                )
                .reset_index()
            )
            # SQL sums of nothing but nulls are null
            aggregated["car_variance"] = aggregated["car_variance"].where(
                aggregated["variance_terms"] > 0
            )
            aggregated["usd_value_change"] = aggregated["usd_value_change"].where(
                aggregated["usd_terms"] > 0
            )
            aggregated["window_name"], aggregated["model"] = window, model
            covers = (aggregated["last_day"] == last) & (aggregated["reach_back"] <= first - 1)
            expected_ok = covers & (aggregated["with_expected"] == aggregated["return_days"])
            aggregated["covers_window"] = covers
            aggregated["window_return"] = (aggregated["window_growth"] - 1).where(covers)
            aggregated["expected_window_return"] = (aggregated["expected_growth"] - 1).where(
                expected_ok
            )
            aggregated["cumulative_abnormal_return"] = aggregated[
                "cumulative_abnormal_return"
            ].where(expected_ok)
            aggregated["buy_and_hold_abnormal_return"] = (
                aggregated["window_return"] - aggregated["expected_window_return"]
            )
            aggregated["car_variance"] = aggregated["car_variance"].where(expected_ok)
            aggregated["car_t_stat"] = aggregated["cumulative_abnormal_return"] / np.sqrt(
                aggregated["car_variance"]
            )
            aggregated["usd_value_change"] = aggregated["usd_value_change"].where(covers)
            frames.append(aggregated)
    return pd.concat(frames, ignore_index=True)


def event_impact(
    securities: pd.DataFrame, days: pd.DataFrame, estimation: pd.DataFrame, windows: pd.DataFrame
) -> pd.DataFrame:
    """fct_event_impact: one row per event x security, windows and models pivoted into columns."""
    day0 = days[days["relative_day"] == 0].rename(
        columns={
            "trade_date": "day0_trade_date",
            "close": "day0_close_price",
            "simple_return": "day0_return",
            "benchmark_return": "day0_benchmark_return",
            "previous_market_value_usd": "market_value_usd_before_day0",
            "market_value_change_usd": "day0_usd_value_change",
        }
    )[
        [
            "event_id",
            "ticker",
            "day0_trade_date",
            "day0_close_price",
            "day0_return",
            "day0_benchmark_return",
            "market_value_usd_before_day0",
            "day0_usd_value_change",
        ]
    ]
    abbreviation = dict(MODELS)
    windows = windows.assign(model_abbreviation=windows["model"].map(abbreviation))
    pivots = []
    market_adjusted = windows[windows["model"] == "market_adjusted"].pivot(
        index=["event_id", "ticker"],
        columns="window_name",
        values=["window_return", "expected_window_return", "usd_value_change"],
    )
    market_adjusted.columns = [
        {
            "window_return": "return",
            "expected_window_return": "benchmark_return",
            "usd_value_change": "usd_value_change",
        }[measure]
        + f"_{window}"
        for measure, window in market_adjusted.columns
    ]
    pivots.append(market_adjusted)
    by_model = windows.pivot(
        index=["event_id", "ticker"],
        columns=["model_abbreviation", "window_name"],
        values=["cumulative_abnormal_return", "buy_and_hold_abnormal_return"],
    )
    by_model.columns = [
        f"{'car' if measure.startswith('cumulative') else 'bhar'}_{model}_{window}"
        for measure, model, window in by_model.columns
    ]
    pivots.append(by_model)
    t_stats = windows[windows["model"] == "market_model"].pivot(
        index=["event_id", "ticker"], columns="window_name", values="car_t_stat"
    )
    t_stats.columns = [f"tstat_car_mm_{window}" for window in t_stats.columns]
    pivots.append(t_stats)
    wide = pd.concat(pivots, axis=1).reset_index()
    impact = securities.merge(day0, on=["event_id", "ticker"], how="left")
    estimated = estimation[
        [
            "event_id",
            "ticker",
            "estimation_obs",
            "alpha",
            "beta",
            "residual_variance",
            "positive_residual_share",
            "estimation_reason",
        ]
    ]
    impact = impact.merge(
        estimated.rename(
            columns={
                name: f"{name}_mm"
                for name in ("alpha", "beta", "residual_variance", "positive_residual_share")
            }
        ),
        on=["event_id", "ticker"],
        how="left",
    )
    impact = impact.merge(wide, on=["event_id", "ticker"], how="left")
    impact["rank_day0_usd_value_change"] = impact.groupby("event_id")["day0_usd_value_change"].rank(
        method="min"
    )
    impact["rank_day0_return"] = impact.groupby("event_id")["day0_return"].rank(method="min")
    return impact


def residual_correlations(
    securities: pd.DataFrame, days: pd.DataFrame, estimation: pd.DataFrame
) -> pd.DataFrame:
    """int_event_residual_correlation_groups: per event, the correlation of the estimation residuals
    of every pair of equities on calendar dates (pandas' pairwise-complete correlation matrix),
    averaged over the pairs of firms both in a group: the whole event, each sector, each sector x
    industry."""
    sample = days[days["in_estimation_sample"]].merge(
        estimation.loc[estimation["alpha"].notna(), ["event_id", "ticker", "alpha", "beta"]],
        on=["event_id", "ticker"],
    )
    equities = securities.loc[
        securities["role"] == "equity", ["event_id", "ticker", "sector", "industry"]
    ]
    equities = equities.fillna({"sector": "Unclassified", "industry": "Unclassified"})
    sample = sample.merge(equities[["event_id", "ticker"]], on=["event_id", "ticker"])
    sample["residual"] = (
        sample["simple_return"] - sample["alpha"] - sample["beta"] * sample["benchmark_return"]
    )
    keys = ["event_id", "grouping_level", "sector", "industry"]
    frames = []
    for event_id, rows in sample.groupby("event_id"):
        matrix = rows.pivot(index="trade_date", columns="ticker", values="residual")
        correlation = matrix.corr(min_periods=2).to_numpy()
        firms = equities[equities["event_id"] == event_id].set_index("ticker").loc[matrix.columns]
        sector, industry = firms["sector"].to_numpy(), firms["industry"].to_numpy()
        first, second = np.triu_indices(matrix.shape[1], k=1)
        pairs = pd.DataFrame(
            {
                "sector": sector[first],
                "industry": industry[first],
                "r": correlation[first, second],
                "same_sector": sector[first] == sector[second],
                "same_industry": (sector[first] == sector[second])
                & (industry[first] == industry[second]),
            }
        )
        levels = [
            (
                "all",
                firms.assign(sector=None, industry=None),
                pairs.assign(sector=None, industry=None),
            ),
            (
                "sector",
                firms.assign(industry=None),
                pairs[pairs["same_sector"]].assign(industry=None),
            ),
            ("sector_industry", firms, pairs[pairs["same_industry"]]),
        ]
        for level, level_firms, level_pairs in levels:
            group = level_firms.groupby(["sector", "industry"], dropna=False).size().rename("firms")
            averages = level_pairs.groupby(["sector", "industry"], dropna=False)["r"].agg(
                ["mean", "count"]
            )
            frames.append(
                group.to_frame()
                .join(averages)
                .reset_index()
                .assign(event_id=event_id, grouping_level=level)
            )
    columns = keys + ["firms", "avg_residual_correlation", "residual_correlation_pairs"]
    if not frames:
        return pd.DataFrame(columns=columns)
    groups = pd.concat(frames, ignore_index=True).rename(
        columns={"mean": "avg_residual_correlation", "count": "residual_correlation_pairs"}
    )
    groups["residual_correlation_pairs"] = (
        groups["residual_correlation_pairs"].fillna(0).astype(np.int64)
    )
    return groups[columns]


# ---------------------------------------------------------------------------- sector daily


def sector_daily(returns: pd.DataFrame, attributes: pd.DataFrame) -> pd.DataFrame:
    """agg_sector_daily."""
    equities = returns.merge(
        attributes.loc[attributes["role"] == "equity", ["ticker", "sector"]], on="ticker"
    )
    r, weight = equities["simple_return"], equities["previous_market_value_usd"]
    frame = pd.DataFrame(
        {
            "trade_date": equities["trade_date"],
            "sector": equities["sector"].fillna("Unclassified"),
            "priced": 1,
            "counted": r.notna(),
            "weighted": r * weight,
            "weight": weight.where(r.notna()),
            "weighted_count": (r * weight).notna(),
            "r": r,
            "value": equities["market_value_usd"],
            "up": r > 0,
            "down": r < 0,
            "flat": r == 0,
            "spanning": equities["spans_missing_session"].fillna(False).astype(bool),
        }
    )
    grouped = frame.groupby(["trade_date", "sector"])
    daily = grouped.agg(
        securities_priced=("priced", "sum"),
        securities_counted=("counted", "sum"),
        weighted=("weighted", "sum"),
        weight=("weight", "sum"),
        cap_weighted_securities=("weighted_count", "sum"),
        equal_weighted_return=("r", "mean"),
        total_market_value_usd=("value", "sum"),
        valued=("value", "count"),
        advancers=("up", "sum"),
        decliners=("down", "sum"),
        unchanged=("flat", "sum"),
        returns_spanning_missing_session=("spanning", "sum"),
    )
    daily["cap_weighted_return"] = daily["weighted"] / daily["weight"].where(daily["weight"] != 0)
    daily["total_market_value_usd"] = daily["total_market_value_usd"].where(daily["valued"] > 0)
    return daily.drop(columns=["weighted", "weight", "valued"]).reset_index()


# --------------------------------------------------------------------------------- running it


@contextmanager
def _timed(timings: dict[str, float], name: str):
    started = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def compute(inputs: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Every mart, timed by family (the same families bench.run times the SQL models of)."""
    timings: dict[str, float] = {}
    marts: dict[str, pd.DataFrame] = {}
    with _timed(timings, "daily_returns"):
        marts["fct_daily_returns"] = fct_daily_returns(inputs)
    with _timed(timings, "event_impact"):
        attributes = security_attributes(inputs)
        sessions = exchange_sessions(inputs["sessions"])
        securities = event_securities(inputs, sessions, attributes, marts["fct_daily_returns"])
        days = event_security_days(securities, marts["fct_daily_returns"])
        estimation = event_estimation(securities, days)
        windows = event_window_impact(days, estimation)
        marts["fct_event_impact"] = event_impact(securities, days, estimation, windows)
    with _timed(timings, "residual_correlations"):
        marts["int_event_residual_correlation_groups"] = residual_correlations(
            securities, days, estimation
        )
    with _timed(timings, "sector_daily"):
        marts["agg_sector_daily"] = sector_daily(marts["fct_daily_returns"], attributes)
    return marts, timings


# The columns checked against the marts, by mart: (key columns, value columns).
CHECKED = {
    "daily_returns": (
        "fct_daily_returns",
        ["ticker", "trade_date"],
        [
            "simple_return",
            "benchmark_return",
            "total_return_index",
            "market_value_usd",
            "previous_market_value_usd",
            "market_value_change_usd",
            "sessions_spanned",
        ],
    ),
    "event_impact": (
        "fct_event_impact",
        ["event_id", "ticker"],
        [
            "day0_return",
            "day0_usd_value_change",
            "beta_mm",
            "car_mm_0_0",
            "car_mm_m1_p1",
            "car_mm_m5_p5",
            "car_mktadj_0_p5",
            "car_meanadj_0_p1",
            "bhar_mm_0_p5",
            "tstat_car_mm_m1_p1",
            "return_0_p5",
            "usd_value_change_m5_p5",
            "rank_day0_usd_value_change",
        ],
    ),
    "residual_correlations": (
        "int_event_residual_correlation_groups",
        ["event_id", "grouping_level", "sector", "industry"],
        ["firms", "avg_residual_correlation", "residual_correlation_pairs"],
    ),
    "sector_daily": (
        "agg_sector_daily",
        ["trade_date", "sector"],
        [
            "securities_priced",
            "securities_counted",
            "cap_weighted_return",
            "equal_weighted_return",
            "total_market_value_usd",
            "advancers",
            "returns_spanning_missing_session",
        ],
    ),
}
TOLERANCE = 1e-6


def check_against_marts(warehouse: Path, marts: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Row counts and values of each mart against the baseline's, on the columns in CHECKED."""
    import duckdb

    checks: dict[str, Any] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for family, (table, keys, values) in CHECKED.items():
            schema = "intermediate" if table.startswith("int_") else "marts"
            sql = con.execute(f"SELECT {', '.join(keys + values)} FROM {schema}.{table}").df()
            ours = marts[table][keys + values]
            for frame in (sql, ours):
                for key in keys:
                    if key.endswith("_date"):
                        frame[key] = pd.to_datetime(frame[key]).astype("datetime64[ns]")
            joined = sql.merge(
                ours, on=keys, how="outer", suffixes=("_sql", "_pandas"), indicator=True
            )
            result: dict[str, Any] = {
                "rows_sql": len(sql),
                "rows_pandas": len(ours),
                "rows_only_in_sql": int((joined["_merge"] == "left_only").sum()),
                "rows_only_in_pandas": int((joined["_merge"] == "right_only").sum()),
                "columns": {},
            }
            both = joined[joined["_merge"] == "both"]
            worst = 0.0
            for column in values:
                a = pd.to_numeric(both[f"{column}_sql"], errors="coerce").astype(float).to_numpy()
                b = (
                    pd.to_numeric(both[f"{column}_pandas"], errors="coerce")
                    .astype(float)
                    .to_numpy()
                )
                null_mismatch = int((np.isnan(a) != np.isnan(b)).sum())
                known = ~np.isnan(a) & ~np.isnan(b)
                difference = np.abs(a[known] - b[known]) / np.maximum(1.0, np.abs(a[known]))
                largest = float(difference.max()) if difference.size else 0.0
                worst = max(worst, largest)
                result["columns"][column] = {
                    "null_mismatches": null_mismatch,
                    "max_relative_difference": largest,
                }
            mismatched_nulls = sum(c["null_mismatches"] for c in result["columns"].values())
            result["match"] = (
                result["rows_only_in_sql"] == 0
                and result["rows_only_in_pandas"] == 0
                and mismatched_nulls == 0
                and worst <= TOLERANCE
            )
            result["summary"] = (
                "match"
                if result["match"]
                else f"{result['rows_only_in_sql']}+{result['rows_only_in_pandas']} unmatched rows, "
                f"{mismatched_nulls} null mismatches, max rel. diff {worst:.2g}"
            )
            checks[family] = result
    return checks


def time_compiled_sql(
    warehouse: Path, compiled: Path, families: dict[str, list[str]]
) -> dict[str, Any]:
    """Each model's compiled SELECT run alone on the built warehouse (its inputs are the stored
    upstream tables), into an in-memory temporary table that is then dropped: the SQL engine's
    time for the same work pandas does in memory, without dbt's table writes or its 2 threads
    competing for the 2 cores. A Python model (<model>.py) is run as a full build, its result
    copied into the temporary table."""
    import duckdb

    timings: dict[str, Any] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for family, models in families.items():
            seconds: dict[str, float] = {}
            for model in models:
                path = compiled / f"{model}.sql"
                python_path = compiled / f"{model}.py"
                if not path.exists() and not python_path.exists():
                    continue
                started = time.perf_counter()
                if path.exists():
                    con.execute(f"CREATE TEMP TABLE bench_model AS {path.read_text()}")
                else:
                    con.register("bench_model_result", _run_python_model(con, python_path))
                    con.execute("CREATE TEMP TABLE bench_model AS SELECT * FROM bench_model_result")
                    con.unregister("bench_model_result")
                seconds[model] = round(time.perf_counter() - started, 3)
                con.execute("DROP TABLE bench_model")
            timings[family] = {"seconds": round(sum(seconds.values()), 3), "models": seconds}
    return timings


def _run_python_model(con: Any, path: Path) -> Any:
    """A dbt Python model's compiled code (the model and dbt's ref / this helpers) run as dbt-duckdb
    runs it, as a full (not incremental) build: its result, not yet written."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dbt = module.dbtObj(lambda table_name: con.query(f"select * from {table_name}"))
    dbt.is_incremental = False
    return module.model(dbt, con)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.baseline", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--warehouse", type=Path, required=True, help="a built warehouse (DuckDB file)"
    )
    parser.add_argument("--seeds", type=Path, default=SEEDS_DIR, help="the dbt seeds directory")
    parser.add_argument("--result", type=Path, help="write the timings and checks as JSON here")
    parser.add_argument("--no-check", action="store_true", help="do not compare with the marts")
    parser.add_argument(
        "--compiled-sql",
        type=Path,
        help="directory of the dbt models' compiled SQL (<model>.sql): each family's models "
        "are also timed alone, one query at a time, into in-memory tables",
    )
    parser.add_argument(
        "--families", type=json.loads, help='JSON {"family": ["model", ...]} for --compiled-sql'
    )
    parser.add_argument(
        "--sql-only",
        action="store_true",
        help="only time the compiled SQL (bench.run runs it in its own process, so each "
        "side's peak memory is its own)",
    )
    args = parser.parse_args(argv)
    if args.sql_only:
        if not (args.compiled_sql and args.families):
            parser.error("--sql-only needs --compiled-sql and --families")
        _write(
            {"sql_alone": time_compiled_sql(args.warehouse, args.compiled_sql, args.families)},
            args.result,
        )
        return 0

    started = time.perf_counter()
    inputs = load_inputs(args.warehouse, args.seeds)
    load_seconds = time.perf_counter() - started
    marts, timings = compute(inputs)
    import resource

    result: dict[str, Any] = {
        # the process's peak up to here: the raw tables and every mart in memory (ru_maxrss: KiB)
        "compute_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "load_seconds": round(load_seconds, 3),
        "compute_seconds": round(sum(timings.values()), 3),
        "families": {family: {"seconds": round(seconds, 3)} for family, seconds in timings.items()},
        "rows": {name: len(frame) for name, frame in marts.items()},
        "input_rows": {name: len(frame) for name, frame in inputs.items()},
    }
    if not args.no_check:
        result["checks"] = check_against_marts(args.warehouse, marts)
        result["all_match"] = all(check["match"] for check in result["checks"].values())
    del marts, inputs
    if args.compiled_sql and args.families:
        result["sql_alone"] = time_compiled_sql(args.warehouse, args.compiled_sql, args.families)
    _write(result, args.result)
    return 0


def _write(result: dict[str, Any], path: Path | None) -> None:
    text = json.dumps(result, indent=1, default=str)
    if path:
        path.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    raise SystemExit(main())
