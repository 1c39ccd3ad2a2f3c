"""The S&P 500-wide snapshot (warehouse/snapshot_broad, issue #10): lossless copy, frame contracts,
share basis on 2024-12-20, the union universe and point-in-time availability of fundamentals."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from warehouse import settings
from warehouse.sources import broad_snapshot as broad
from warehouse.sources.schema import COLUMNS
from warehouse.universe import load_universe

SHARED = Path("/work/shared/data/market_snapshot_broad")
MANIFEST = broad.manifest()
AS_OF = pd.Timestamp(broad.SHARES_AS_OF)
SPLIT_FACTORS = {"BKNG": 25, "NFLX": 10, "ORLY": 15, "FAST": 2, "NOW": 5, "TPL": 3, "AMCR": 0.2}
# SOURCES.md: spin-offs baked into the adjusted levels (Currentprice 2024-12-20 / close here)
SPINOFF_RATIOS = {"DD": 2.442, "FTV": 1.333, "WDC": 1.328}


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return frame.dtypes.astype(str).to_dict()


@pytest.fixture(scope="module")
def bases() -> pd.DataFrame:
    return broad.price_bases()


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return broad.prices()


@pytest.fixture(scope="module")
def check() -> pd.DataFrame:
    return broad.share_basis_check().set_index("ticker")


# --- lossless copy -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(broad.FILES))
def test_every_file_prints_back_to_the_source_csv_bytes(name: str) -> None:
    entry = MANIFEST["files"][name]
    stored = broad.BROAD_DIR / entry["stored_as"]
    assert broad.sha256(stored.read_bytes()) == entry["stored_sha256"]
    rendered = broad.render_csv(broad.read_arrow(name))
    assert len(rendered) == entry["source_bytes"]
    assert broad.sha256(rendered) == entry["source_sha256"]
    if (SHARED / name).is_file():  # the shared data is there on the build machine; the hash is not
        assert broad.sha256((SHARED / name).read_bytes()) == entry["source_sha256"]


def test_sources_md_is_the_shared_file_verbatim_below_a_header() -> None:
    text = (broad.BROAD_DIR / "SOURCES.md").read_bytes()
    header, _, body = text.partition(b"-->\n\n")
    assert b"COPIED INTO market-warehouse" in header and b"VERBATIM" in header
    assert broad.sha256(body) == MANIFEST["source_sources_md_sha256"]
    if (SHARED / "SOURCES.md").is_file():
        assert body == (SHARED / "SOURCES.md").read_bytes()


def test_repo_copy_stays_small() -> None:
    total = sum(path.stat().st_size for path in broad.BROAD_DIR.iterdir() if path.is_file())
    assert total < 15_000_000


# --- frame contracts -----------------------------------------------------------------------------


def test_prices_contract_and_the_adjusted_only_series(prices: pd.DataFrame, bases) -> None:
    assert dtypes(prices) == COLUMNS["daily_prices"]
    assert len(prices) == 323_111 and prices["ticker"].nunique() == 521
    assert not prices.duplicated(["ticker", "trade_date"]).any()
    adjusted = set(bases.loc[bases["close_basis"] == broad.BASIS_ADJUSTED, "ticker"])
    assert len(adjusted) == 423
    null_adj = prices.groupby("ticker")["adj_close"].apply(lambda s: s.isna().all())
    assert set(null_adj[null_adj].index) == adjusted
    assert prices.loc[~prices["ticker"].isin(adjusted), "adj_close"].notna().all()
    reasons = bases.set_index("ticker")["raw_return_null_reason"]
    assert reasons[list(adjusted)].notna().all() and reasons.drop(list(adjusted)).isna().all()
    assert dtypes(bases) == broad.PROPOSED_COLUMNS["price_bases"]
    spin = set(bases.loc[bases["close_basis"] == broad.BASIS_SPINOFF_SCALED, "ticker"])
    later = set(bases.loc[bases["close_basis"] == broad.BASIS_RAW_LATER_SPLIT, "ticker"])
    assert spin == {"HON", "CMCSA"} and later == {"BKNG", "NFLX", "ORLY", "FAST"}


def test_overlap_with_todays_snapshot_is_identical_except_orcl_level(prices) -> None:
    today = pd.read_csv(settings.DEFAULT_SNAPSHOT_DIR / "prices.csv", dtype={"volume": "Int64"})
    today["date"] = pd.to_datetime(today["date"])
    columns = ["open", "high", "low", "close", "adj_close", "volume"]
    for ticker in (
        "AAPL",
        "AMD",
        "AMZN",
        "ARM",
        "ASML",
        "AVGO",
        "GOOGL",
        "META",
        "MSFT",
        "NVDA",
        "SPY",
    ):
        ours = prices[prices["ticker"] == ticker].set_index("trade_date")[columns]
        theirs = today[today["ticker"] == ticker].set_index("date")[columns]
        theirs.index = theirs.index.astype("datetime64[us]")
        pd.testing.assert_frame_equal(ours, theirs, check_names=False, check_dtype=False)
    orcl = prices[prices["ticker"] == "ORCL"].set_index("trade_date")["close"]
    orcl_today = today[today["ticker"] == "ORCL"].set_index("date")["close"]
    day, before = pd.Timestamp("2025-01-27"), pd.Timestamp("2025-01-24")
    assert orcl[day] != orcl_today[day]
    assert orcl[day] / orcl[before] - 1 == pytest.approx(
        orcl_today[day] / orcl_today[before] - 1, abs=1e-4
    )


def test_share_counts_and_fundamentals_contracts() -> None:
    counts = broad.share_counts()
    assert dtypes(counts) == COLUMNS["shares_outstanding"]
    assert len(counts) == 480 and (counts["as_of_date"] == AS_OF).all()
    assert counts["note"].str.startswith("DERIVED").all()
    caveats = set(counts.loc[counts["note"].str.contains("CAVEAT"), "ticker"])
    assert caveats == set(SPLIT_FACTORS) | set(broad.COMPANY_CLASSES)
    nvda = counts.set_index("ticker").at["NVDA", "shares_outstanding"]
    assert nvda == 24_490_000_420  # SOURCES.md: matches the 10-Q cover's 24.49 billion
    facts = broad.fundamentals()
    assert dtypes(facts) == COLUMNS["fundamentals"]
    assert len(facts) == 480 and facts["shares_outstanding"].isna().all()
    assert facts.set_index("ticker").at["AAPL", "market_cap"] == 3_846_819_807_232


def test_quarterly_financials_and_factor_returns_contracts() -> None:
    financials = broad.quarterly_financials()
    assert dtypes(financials) == broad.PROPOSED_COLUMNS["quarterly_financials"]
    existing = {c: t for c, t in dtypes(financials).items() if c in COLUMNS["quarterly_financials"]}
    assert existing == COLUMNS["quarterly_financials"]
    assert len(financials) == 4_469 and not financials.duplicated(["ticker", "period_end"]).any()
    nvda = financials.set_index(["ticker", "period_end"]).loc[("NVDA", pd.Timestamp("2025-01-26"))]
    assert (nvda["revenue"], nvda["net_income"], nvda["diluted_eps"]) == (39.331e9, 22.091e9, 0.89)
    assert nvda["filing_date"] == pd.Timestamp("2025-02-26")
    assert nvda["fiscal_period"] == "Q4 FY2025"
    factors = broad.factor_returns()
    assert dtypes(factors) == broad.PROPOSED_COLUMNS["factor_returns"]
    assert len(factors) == 624 * 7
    day = factors[factors["factor_date"] == pd.Timestamp("2025-01-27")].set_index("factor")
    published = {"mkt_rf": -1.49, "hml": 2.52, "cma": -1.70, "rf": 0.02, "mom": -3.28}  # percent
    assert day.loc[list(published), "return_pct"].to_dict() == published
    assert set(day.index) == {"mkt_rf", "smb", "hml", "rmw", "cma", "rf", "mom"}


# --- share basis on 2024-12-20 -------------------------------------------------------------------


def test_every_count_times_close_is_the_source_marketcap_or_explained(check) -> None:
    assert len(check) == 480 and check["close"].notna().all()
    assert not (check["explanation"] == "UNEXPLAINED").any()
    plain = check[
        (check["close_basis"] == broad.BASIS_RAW) & ~check.index.isin(list(broad.COMPANY_CLASSES))
    ]
    assert len(plain) == 69
    assert ((plain["ratio"] - 1).abs() < 1e-6).all()  # raw close = Currentprice to the cent


def test_later_splits_match_after_the_caveat_factor(check) -> None:
    assert broad.share_basis_factors().set_index("ticker")["factor"].to_dict() == SPLIT_FACTORS
    for ticker in ("BKNG", "NFLX", "ORLY", "FAST", "NOW"):  # raw, or adjusted without dividend
        assert check.at[ticker, "ratio"] == pytest.approx(1, abs=1e-6)
    # TPL and AMCR pay dividends: the adjusted close is below the printed price after the factor
    assert 1 < check.at["TPL", "ratio"] < 1.01 and 1.02 < check.at["AMCR", "ratio"] < 1.03


def test_adjusted_series_differ_only_by_later_dividends_or_spinoffs(check) -> None:
    adjusted = check[check["close_basis"] == broad.BASIS_ADJUSTED]
    assert len(adjusted) == 403
    for ticker, ratio in SPINOFF_RATIOS.items():
        assert check.at[ticker, "ratio"] == pytest.approx(ratio, abs=5e-4)
    ordinary = adjusted.drop(list(SPINOFF_RATIOS))
    assert (ordinary["ratio"] > 1 - 1e-6).all() and (ordinary["ratio"] < 1.10).all()
    spin = check[check["close_basis"] == broad.BASIS_SPINOFF_SCALED]["ratio"]
    assert spin.round(3).to_dict() == {"CMCSA": 1.067, "HON": 1.061}


# --- union universe ------------------------------------------------------------------------------


def test_union_keeps_todays_universe_and_adds_each_broad_ticker_once() -> None:
    rows, held_out = broad.union_universe()
    today = load_universe()
    tickers = [row.security.ticker for row in rows]
    assert len(tickers) == len(set(tickers))
    assert tuple(row.security for row in rows[: len(today)]) == today.securities
    broad_tickers = set(broad.price_bases()["ticker"])
    added = set(tickers[len(today) :])
    assert (
        added.isdisjoint(today.tickers())
        and added | {h.ticker for h in held_out} | (broad_tickers & set(today.tickers()))
        == broad_tickers
    )
    assert broad_tickers & set(today.tickers()) == {
        "AAPL",
        "AMD",
        "AMZN",
        "ARM",
        "ASML",
        "AVGO",
        "GOOGL",
        "META",
        "MSFT",
        "NVDA",
        "ORCL",
        "SPY",
    }
    assert all(row.provenance for row in rows)
    assert {row.security.exchange for row in rows[len(today) :]} == {"XNYS", "XNAS", "BATS"}


def test_generated_universe_csv_is_current_and_loads(tmp_path: Path) -> None:
    rows, held_out = broad.union_universe()
    path = broad.BROAD_DIR / "universe.csv"
    assert path.read_text(encoding="utf-8") == broad.universe_csv_text(rows)
    loaded = load_universe(path)
    assert loaded.securities == tuple(row.security for row in rows)
    frame = broad.securities_frame(rows)
    assert list(frame.columns) == ["ticker", "name", "role", "exchange", "currency", "benchmark"]
    assert len(pd.read_csv(broad.BROAD_DIR / "universe_held_out.csv")) == len(held_out) == 33


def test_calendar_proxy_admits_the_held_out_named_tickers() -> None:
    rows, held_out = broad.union_universe(unknown_exchange="XNYS")
    assert {h.ticker for h in held_out} == {
        "CCEP",
        "DOCU",
        "ILMN",
        "JD",
        "LCID",
        "MARA",
        "MDB",
        "MELI",
        "PDD",
        "RIVN",
        "SHOP",
        "TEAM",
        "ZM",
        "ZS",
    }
    proxied = [row for row in rows if "calendar proxy" in row.provenance]
    assert len(proxied) == 19


# --- point in time -------------------------------------------------------------------------------


def test_quarters_become_public_on_release_else_filing_never_period_end() -> None:
    financials = broad.quarterly_financials()
    available = broad.available_date(financials)
    usable = available.notna()
    assert (available[usable] > financials.loc[usable, "period_end"]).all()
    credible_release = financials["earnings_release_date"] > financials["period_end"]
    assert (
        available[credible_release] == financials.loc[credible_release, "earnings_release_date"]
    ).all()
    # BRK-B Q1 2025: FMP's release date is the period end itself, so the filing date is used
    brk = financials.index[
        (financials["ticker"] == "BRK-B") & (financials["period_end"] == pd.Timestamp("2025-03-31"))
    ][0]
    assert available[brk] == pd.Timestamp("2025-05-05")
    # ASML Q3 2024: both dates equal the period end -> not usable point-in-time
    asml = financials.index[
        (financials["ticker"] == "ASML") & (financials["period_end"] == pd.Timestamp("2024-09-30"))
    ][0]
    assert pd.isna(available[asml])
    assert (~usable).sum() == 21
    assert (
        date(2025, 1, 26)
        < available[
            financials.index[
                (financials["ticker"] == "NVDA")
                & (financials["period_end"] == pd.Timestamp("2025-01-26"))
            ][0]
        ].date()
    )
