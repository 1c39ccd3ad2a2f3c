"""The dbt event study on the real bundled snapshot, checked against an independent numpy version.

The reference below reads warehouse/snapshot/*.csv and exchange_calendars directly and shares no
code or SQL with the dbt project: returns, day 0, relative days, the OLS market model
(np.linalg.lstsq), forecast-error-corrected t-statistics, CARs, BHARs and the cross-sectional test
statistics are all recomputed here. The dbt project is built once for the module.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
from functools import cache

import duckdb
import exchange_calendars
import numpy as np
import pandas as pd
import pytest

from tests.dbt_helpers import (
    DBT_PROJECT_DIR,
    SNAPSHOT_DIR,
    UNIVERSE_PATH,
    load_snapshot_into_raw,
    run_dbt,
)

pytestmark = pytest.mark.e2e

TOLERANCE = 1e-9
ESTIMATION_DAYS = (-260, -11)
MIN_ESTIMATION_OBS = 120
WINDOWS = {"0_0": (0, 0), "m1_p1": (-1, 1), "0_p1": (0, 1), "0_p5": (0, 5), "m5_p5": (-5, 5)}
EVENT_DATES = {
    "deepseek_selloff": dt.date(2025, 1, 27),
    "yen_carry_unwind": dt.date(2024, 8, 5),
    "liberation_day_tariffs": dt.date(2025, 4, 3),
}
SECTOR_MAP_PATH = DBT_PROJECT_DIR / "seeds" / "sector_map.csv"


# --------------------------------------------------------------------------------------------
# Independent reference computation
# --------------------------------------------------------------------------------------------


@cache
def universe() -> pd.DataFrame:
    return pd.read_csv(UNIVERSE_PATH, keep_default_na=False).set_index("ticker")


@cache
def prices() -> pd.DataFrame:
    frame = pd.read_csv(SNAPSHOT_DIR / "prices.csv")
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


@cache
def dividends() -> dict[tuple[str, dt.date], float]:
    actions = pd.read_csv(SNAPSHOT_DIR / "actions.csv")
    actions = actions[actions["action"] == "dividend"]
    return {
        (row.ticker, dt.date.fromisoformat(row.date)): row.value for row in actions.itertuples()
    }


@cache
def sessions(exchange: str) -> tuple[dt.date, ...]:
    calendar = exchange_calendars.get_calendar(exchange)
    return tuple(calendar.sessions_in_range("2022-01-01", "2025-12-31").date)


@cache
def daily_returns(ticker: str) -> pd.DataFrame:
    """Total return against the security's previous row, plus the benchmark over the same interval."""
    rows = prices()[prices()["ticker"] == ticker].sort_values("date").reset_index(drop=True)
    has_adj = rows["adj_close"].notna()
    level = rows["adj_close"].where(has_adj, rows["close"])
    dividend = np.array(
        [
            0.0 if adj else dividends().get((ticker, day), 0.0)
            for adj, day in zip(has_adj, rows["date"], strict=True)
        ]
    )
    frame = pd.DataFrame(
        {
            "date": rows["date"],
            "prev_date": rows["date"].shift(1),
            "close": rows["close"],
            "prev_close": rows["close"].shift(1),
            "r": (level + dividend) / level.shift(1) - 1,
        }
    )
    benchmark = universe().loc[ticker, "benchmark"]
    if benchmark:
        bench_close = prices()[prices()["ticker"] == benchmark].set_index("date")["close"]
        frame["rm"] = frame["date"].map(bench_close) / frame["prev_date"].map(bench_close) - 1
    index_of = {day: i for i, day in enumerate(sessions(universe().loc[ticker, "exchange"]))}
    frame["session"] = frame["date"].map(index_of)
    frame["prev_session"] = frame["prev_date"].map(index_of)
    frame["spans"] = frame["session"] - frame["prev_session"] > 1
    return frame


def day0(ticker: str, event_date: dt.date) -> dt.date:
    return next(day for day in sessions(universe().loc[ticker, "exchange"]) if day >= event_date)


def event_frame(ticker: str, event_date: dt.date) -> pd.DataFrame:
    frame = daily_returns(ticker).copy()
    day0_index = sessions(universe().loc[ticker, "exchange"]).index(day0(ticker, event_date))
    frame["rel"] = frame["session"] - day0_index
    return frame


def market_model(ticker: str, event_date: dt.date) -> dict:
    frame = event_frame(ticker, event_date)
    sample = frame[
        frame["rel"].between(*ESTIMATION_DAYS)
        & frame["r"].notna()
        & frame["rm"].notna()
        & ~frame["spans"].astype(bool)
    ]
    r, rm = sample["r"].to_numpy(), sample["rm"].to_numpy()
    design = np.column_stack([np.ones_like(rm), rm])
    (alpha, beta), *_ = np.linalg.lstsq(design, r, rcond=None)
    residuals = r - alpha - beta * rm
    m = len(r)
    return {
        "m": m,
        "alpha": alpha,
        "beta": beta,
        "s2": residuals @ residuals / (m - 2),
        "mean_r": r.mean(),
        "mean_rm": rm.mean(),
        "sxx": ((rm - rm.mean()) ** 2).sum(),
        "positive_share": (residuals > 0).mean(),
        "residuals": pd.Series(residuals, index=sample["date"].to_numpy()),
    }


def window_measures(ticker: str, event_date: dt.date, window: str) -> dict:
    first, last = WINDOWS[window]
    frame = event_frame(ticker, event_date)
    days = frame[frame["rel"].between(first, last) & frame["r"].notna()]
    # dbt only reports windows whose returns run from the close of day first-1 to day last's close
    assert days["rel"].max() == last
    assert (days["prev_session"] - days["session"] + days["rel"]).min() <= first - 1
    mm = market_model(ticker, event_date)
    r, rm = days["r"].to_numpy(), days["rm"].to_numpy()
    expected_mm = mm["alpha"] + mm["beta"] * rm
    variance = (mm["s2"] * (1 + 1 / mm["m"] + (rm - mm["mean_rm"]) ** 2 / mm["sxx"])).sum()
    car_mm = (r - expected_mm).sum()
    return {
        f"return_{window}": np.prod(1 + r) - 1,
        f"benchmark_return_{window}": np.prod(1 + rm) - 1,
        f"car_mm_{window}": car_mm,
        f"bhar_mm_{window}": np.prod(1 + r) - np.prod(1 + expected_mm),
        f"tstat_car_mm_{window}": car_mm / math.sqrt(variance),
        f"car_mktadj_{window}": (r - rm).sum(),
        f"bhar_mktadj_{window}": np.prod(1 + r) - np.prod(1 + rm),
        f"car_meanadj_{window}": (r - mm["mean_r"]).sum(),
        f"bhar_meanadj_{window}": np.prod(1 + r) - (1 + mm["mean_r"]) ** len(r),
    }


@cache
def fundamentals() -> pd.DataFrame:
    return pd.read_csv(SNAPSHOT_DIR / "fundamentals.csv").set_index("ticker")


@cache
def filed_share_counts() -> dict[str, list[tuple[dt.date, float]]]:
    """Share history by ticker; TSM is priced per ADR, so its ADR-equivalent count wins its date."""
    with open(SNAPSHOT_DIR / "shares_outstanding.csv", newline="") as handle:
        _, *records = csv.reader(handle)
    counts: dict[str, dict[dt.date, float]] = {}
    for ticker, as_of, shares, *_ in sorted(
        records, key=lambda record: "ADR-equivalent" in record[3]
    ):
        counts.setdefault(ticker, {})[dt.date.fromisoformat(as_of)] = float(shares)
    return {ticker: sorted(by_day.items()) for ticker, by_day in counts.items()}


def shares_on(ticker: str, day: dt.date) -> float | None:
    """Latest filing on or before the day (no split in these windows), else market cap / close."""
    filed = [shares for as_of, shares in filed_share_counts().get(ticker, []) if as_of <= day]
    if filed:
        return filed[-1]
    if ticker not in fundamentals().index:
        return None
    as_of = dt.date.fromisoformat(fundamentals().loc[ticker, "as_of"])
    closes = prices()[(prices()["ticker"] == ticker) & (prices()["date"] <= as_of)]
    return fundamentals().loc[ticker, "market_cap"] / closes.sort_values("date")["close"].iloc[-1]


def day0_usd_change_and_weight(
    ticker: str, event_date: dt.date
) -> tuple[float | None, float | None]:
    """USD-listed names only: shares x (close0 - previous close), and the previous close's value."""
    row = daily_returns(ticker).set_index("date").loc[day0(ticker, event_date)]
    shares = shares_on(ticker, day0(ticker, event_date))
    prev_shares = shares_on(ticker, row["prev_date"])
    if shares is None or universe().loc[ticker, "currency"] != "USD":
        return None, None
    return shares * (row["close"] - row["prev_close"]), prev_shares * row["prev_close"]


def sectors() -> dict[str, tuple[str, str]]:
    both = pd.concat(
        [
            fundamentals().reset_index()[["ticker", "sector", "industry"]],
            pd.read_csv(SECTOR_MAP_PATH),
        ]
    )
    return {row.ticker: (row.sector, row.industry) for row in both.itertuples()}


def group_statistics(tickers: list[str], event_date: dt.date) -> dict:
    """The cross-sectional tests of agg_event_sector_impact for firms sharing one event date."""
    models = {ticker: market_model(ticker, event_date) for ticker in tickers}
    assert all(model["m"] >= MIN_ESTIMATION_OBS for model in models.values())
    n = len(tickers)
    residuals = {ticker: model["residuals"] for ticker, model in models.items()}
    pair_correlations = []
    for first, second in itertools.combinations(tickers, 2):
        joined = pd.concat([residuals[first], residuals[second]], axis=1, join="inner")
        pair_correlations.append(np.corrcoef(joined.iloc[:, 0], joined.iloc[:, 1])[0, 1])
    r_bar = float(np.mean(pair_correlations))
    p_hat = np.mean([model["positive_share"] for model in models.values()])
    statistics = {"avg_residual_correlation": r_bar}
    for window in WINDOWS:
        measures = [window_measures(ticker, event_date, window) for ticker in tickers]
        car = np.array([m[f"car_mm_{window}"] for m in measures])
        scar = np.array([m[f"tstat_car_mm_{window}"] for m in measures])
        bmp = scar.mean() / (scar.std(ddof=1) / math.sqrt(n))
        positives = (car > 0).sum()
        statistics |= {
            f"ew_car_mm_{window}": car.mean(),
            f"t_cross_sectional_{window}": car.mean() / (car.std(ddof=1) / math.sqrt(n)),
            f"patell_z_{window}": scar.sum()
            / math.sqrt(sum((m["m"] - 2) / (m["m"] - 4) for m in models.values())),
            f"bmp_t_{window}": bmp,
            f"bmp_kp_t_{window}": bmp * math.sqrt((1 - r_bar) / (1 + (n - 1) * r_bar)),
            f"generalized_sign_z_{window}": (positives - n * p_hat)
            / math.sqrt(n * p_hat * (1 - p_hat)),
        }
    return statistics


# --------------------------------------------------------------------------------------------
# The warehouse under test
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    workdir = tmp_path_factory.mktemp("event_study")
    db_path = workdir / "warehouse.duckdb"
    load_snapshot_into_raw(db_path)
    run_dbt(db_path, "build", target_dir=workdir / "dbt")
    con = duckdb.connect(str(db_path), read_only=True)
    yield con
    con.close()


def query(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    relation = con.sql(sql, params=params) if params else con.sql(sql)
    return [dict(zip(relation.columns, values, strict=True)) for values in relation.fetchall()]


def impact_row(con, event_id: str, ticker: str) -> dict:
    [row] = query(
        con,
        "SELECT * FROM marts.fct_event_impact WHERE event_id = ? AND ticker = ?",
        [event_id, ticker],
    )
    return row


def assert_close(actual, expected, label: str) -> None:
    assert actual is not None, f"{label}: dbt gave NULL, reference {expected}"
    assert math.isclose(actual, expected, rel_tol=TOLERANCE, abs_tol=TOLERANCE), (
        f"{label}: dbt {actual!r} vs reference {expected!r}"
    )


# --------------------------------------------------------------------------------------------
# (a) numbers against the reference
# --------------------------------------------------------------------------------------------

REFERENCE_CASES = [
    ("deepseek_selloff", "NVDA"),
    ("deepseek_selloff", "MSFT"),
    ("deepseek_selloff", "AMZN"),
    ("deepseek_selloff", "ORCL"),  # close already dividend-adjusted, no adj_close
    ("deepseek_selloff", "TSM"),  # raw close + dividends from corporate actions
    ("deepseek_selloff", "9984.T"),  # Tokyo calendar, ^N225, short history (143 observations)
    ("deepseek_selloff", "ENR.DE"),  # Xetra calendar, day-0 return across a missing session
    ("yen_carry_unwind", "AAPL"),
    ("yen_carry_unwind", "NVDA"),  # estimation window straddles the 10:1 split
    ("liberation_day_tariffs", "AVGO"),
    ("liberation_day_tariffs", "META"),
]


@pytest.mark.parametrize(("event_id", "ticker"), REFERENCE_CASES)
def test_market_model_estimates_match_reference(warehouse, event_id, ticker):
    row = impact_row(warehouse, event_id, ticker)
    reference = market_model(ticker, EVENT_DATES[event_id])
    assert row["estimation_obs"] == reference["m"]
    assert row["estimation_reason"] is None
    assert row["day0_date"] == day0(ticker, EVENT_DATES[event_id])
    for column, key in [
        ("alpha_mm", "alpha"),
        ("beta_mm", "beta"),
        ("residual_variance_mm", "s2"),
        ("mean_return_estimation", "mean_r"),
        ("positive_residual_share_mm", "positive_share"),
    ]:
        assert_close(row[column], reference[key], f"{event_id}/{ticker} {column}")


@pytest.mark.parametrize(("event_id", "ticker"), REFERENCE_CASES)
def test_window_returns_and_abnormal_returns_match_reference(warehouse, event_id, ticker):
    row = impact_row(warehouse, event_id, ticker)
    for window in WINDOWS:
        for column, expected in window_measures(ticker, EVENT_DATES[event_id], window).items():
            assert_close(row[column], expected, f"{event_id}/{ticker} {column}")
    day0_row = daily_returns(ticker).set_index("date").loc[day0(ticker, EVENT_DATES[event_id])]
    assert_close(row["day0_return"], day0_row["r"], f"{event_id}/{ticker} day0_return")


@pytest.mark.parametrize("event_id", ["deepseek_selloff", "liberation_day_tariffs"])
def test_usd_value_changes_match_reference(warehouse, event_id):
    for ticker in ["NVDA", "MSFT", "AMZN", "META", "ORCL", "TSM"]:
        change, weight = day0_usd_change_and_weight(ticker, EVENT_DATES[event_id])
        row = impact_row(warehouse, event_id, ticker)
        assert_close(
            row["day0_usd_value_change"], change, f"{event_id}/{ticker} day0_usd_value_change"
        )
        assert_close(row["market_value_usd_before_day0"], weight, f"{event_id}/{ticker} weight")


@pytest.mark.parametrize(
    ("grouping_level", "sector", "industry"),
    [("all", None, None), ("sector_industry", "Technology", "Semiconductors")],
)
def test_cross_sectional_statistics_match_reference(warehouse, grouping_level, sector, industry):
    event_date = EVENT_DATES["deepseek_selloff"]
    equities = [ticker for ticker, row in universe().iterrows() if row["role"] == "equity"]
    members = [
        ticker
        for ticker in equities
        if grouping_level == "all" or sectors()[ticker] == (sector, industry)
    ]
    [row] = query(
        warehouse,
        "SELECT * FROM marts.agg_event_sector_impact WHERE event_id = 'deepseek_selloff' "
        "AND grouping_level = ? AND sector IS NOT DISTINCT FROM ? "
        "AND industry IS NOT DISTINCT FROM ?",
        [grouping_level, sector, industry],
    )
    assert row["securities_counted"] == len(members)
    for column, expected in group_statistics(members, event_date).items():
        assert_close(row[column], expected, f"{grouping_level} {column}")
    changes = [day0_usd_change_and_weight(ticker, event_date) for ticker in members]
    returns = {
        ticker: daily_returns(ticker).set_index("date").loc[day0(ticker, event_date), "r"]
        for ticker in members
    }
    valued = [
        (ticker, change, weight)
        for ticker, (change, weight) in zip(members, changes, strict=True)
        if weight
    ]
    assert_close(
        row["total_day0_usd_value_change"], sum(change for _, change, _ in valued), "USD change"
    )
    assert_close(
        row["vw_day0_return"],
        sum(returns[t] * w for t, _, w in valued) / sum(w for _, _, w in valued),
        "vw day-0 return",
    )
    assert_close(row["ew_day0_return"], np.mean(list(returns.values())), "ew day-0 return")


def test_ad_hoc_table_macro_matches_reference(warehouse):
    """marts.event_impact(date) on a date that is not in the events seed."""
    event_date = dt.date(2024, 8, 6)
    rows = {
        row["ticker"]: row
        for row in query(
            warehouse, "SELECT * FROM marts.event_impact(?::DATE)", [event_date.isoformat()]
        )
    }
    assert rows["NVDA"]["event_id"] == "ad_hoc"
    for ticker in ["NVDA", "AAPL", "9984.T"]:
        day0_row = daily_returns(ticker).set_index("date").loc[day0(ticker, event_date)]
        assert_close(rows[ticker]["day0_return"], day0_row["r"], f"{ticker} day0_return")
        assert_close(
            rows[ticker]["car_mktadj_0_0"],
            day0_row["r"] - day0_row["rm"],
            f"{ticker} car_mktadj_0_0",
        )
        for window in ["m1_p1", "0_p5"]:
            expected = window_measures(ticker, event_date, window)[f"car_mktadj_{window}"]
            assert_close(
                rows[ticker][f"car_mktadj_{window}"], expected, f"{ticker} car_mktadj_{window}"
            )


# --------------------------------------------------------------------------------------------
# (b) the reference story: the DeepSeek sell-off of 2025-01-27
# --------------------------------------------------------------------------------------------


def test_nvidia_lost_about_seventeen_percent_and_hundreds_of_billions(warehouse):
    nvda = impact_row(warehouse, "deepseek_selloff", "NVDA")
    assert -0.18 < nvda["day0_return"] < -0.16
    assert -650e9 < nvda["day0_usd_value_change"] < -500e9
    assert nvda["rank_day0_usd_value_change"] == 1


def test_microsoft_fell_a_little_while_amazon_and_meta_rose(warehouse):
    assert -0.04 < impact_row(warehouse, "deepseek_selloff", "MSFT")["day0_return"] < 0
    assert impact_row(warehouse, "deepseek_selloff", "AMZN")["day0_return"] > 0
    assert impact_row(warehouse, "deepseek_selloff", "META")["day0_return"] > 0


def test_technology_and_semiconductors_lost_the_most_usd(warehouse):
    rows = query(
        warehouse,
        "SELECT grouping_level, sector, industry, total_day0_usd_value_change "
        "FROM marts.agg_event_sector_impact WHERE event_id = 'deepseek_selloff' "
        "AND grouping_level <> 'all' ORDER BY total_day0_usd_value_change",
    )
    worst_sector = next(row for row in rows if row["grouping_level"] == "sector")
    worst_industry = next(row for row in rows if row["grouping_level"] == "sector_industry")
    assert worst_sector["sector"] == "Technology"
    assert (worst_industry["sector"], worst_industry["industry"]) == (
        "Technology",
        "Semiconductors",
    )


# --------------------------------------------------------------------------------------------
# (c) missing data is explained, never dropped
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_id", "ticker", "reason"),
    [
        ("svb_collapse", "9984.T", "price history starts 2024-06-10, after day 0"),
        ("svb_collapse", "ARM", "price history starts 2023-09-14, after day 0"),
        ("yen_carry_unwind", "SMH", "price history starts 2024-12-11, after day 0"),
        ("liberation_day_tariffs", "ENR.DE", "price history ends 2025-03-31, before day 0"),
    ],
)
def test_security_without_day0_data_gets_a_null_row_with_reason(
    warehouse, event_id, ticker, reason
):
    row = impact_row(warehouse, event_id, ticker)
    assert row["missing_reason"] == reason
    assert (
        row["day0_return"] is None and row["car_mm_0_0"] is None and row["rank_day0_return"] is None
    )


def test_short_estimation_window_is_null_with_reason(warehouse):
    row = impact_row(warehouse, "yen_carry_unwind", "9984.T")
    assert row["day0_return"] is not None
    assert row["alpha_mm"] is None and row["car_mm_0_0"] is None and row["car_meanadj_0_0"] is None
    assert row["car_mktadj_0_0"] is not None
    assert (
        row["estimation_reason"]
        == f"{row['estimation_obs']} estimation observations, fewer than the 120 required"
    )


def test_enr_day0_return_spans_the_missing_session(warehouse):
    row = impact_row(warehouse, "deepseek_selloff", "ENR.DE")
    assert row["day0_spans_missing_session"] is True
    assert row["day0_sessions_spanned"] == 2
    # 2025-01-23 -> 2025-01-27 (58.80 -> 48.32, -17.8%), not the reported one-day fall of about -20%
    assert row["day0_return"] == pytest.approx(48.32 / 58.80 - 1, abs=1e-6)
    [daily] = query(
        warehouse,
        "SELECT spans_missing_session, previous_trade_date FROM marts.fct_daily_returns "
        "WHERE ticker = 'ENR.DE' AND trade_date = DATE '2025-01-27'",
    )
    assert daily == {"spans_missing_session": True, "previous_trade_date": dt.date(2025, 1, 23)}
