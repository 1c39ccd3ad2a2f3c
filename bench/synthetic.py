"""Synthetic daily market data in the snapshot source's file format, for benchmarking the warehouse
as the universe grows from a dozen tickers to thousands over decades.

``generate_snapshot`` writes a directory the snapshot source replays like ``warehouse/snapshot``
(``prices.csv``, ``fundamentals.csv``, ``shares_outstanding.csv``, ``actions.csv``, ``SOURCES.md``)
plus the ``universe.csv`` that describes it. The files are a pure function of the arguments.

Model (log returns, on each exchange's own trading sessions):
  * a market factor per market (US, Tokyo, Xetra), correlated through a global factor, with
    volatility regimes and real market-wide shock days replayed when they fall in the window;
  * a factor per sector and per industry, shared by every market;
  * equity return = beta x market + loading x (sector + industry) + Student-t idiosyncratic noise.
Factors live on a weekday grid and are summed over each exchange's sessions, so a move on a day an
exchange is closed shows up on its next session, as in real data.

Prices are generated as traded (raw) prices on the exchange's tick, then written the way yfinance
does with ``auto_adjust=False``: OHLC back-adjusted for splits, ``adj_close`` also for dividends,
dividends on the current split basis, volumes scaled up before splits. Share counts are as reported
(not split-adjusted); the warehouse adjusts them.

Command line: ``python -m bench.synthetic --tickers 500 --years 10 --out DIR --seed 0``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO, Literal

import exchange_calendars
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

PRICE_COLUMNS = ("ticker", "date", "open", "high", "low", "close", "adj_close", "volume")
FUNDAMENTALS_COLUMNS = (
    "ticker",
    "as_of",
    "name",
    "sector",
    "industry",
    "currency",
    "exchange",
    "shares_outstanding",
    "market_cap",
)
SHARES_COLUMNS = (
    "ticker",
    "as_of",
    "shares_outstanding",
    "share_class_note",
    "split_basis_note",
    "source",
)
ACTIONS_COLUMNS = ("ticker", "date", "action", "value")
OUTPUT_FILES = (
    "prices.csv",
    "fundamentals.csv",
    "shares_outstanding.csv",
    "actions.csv",
    "universe.csv",
    "SOURCES.md",
)
SOURCES_TITLE = "# Synthetic market snapshot: how it was made"
DEFAULT_END = date(2025, 6, 30)

TRADING_DAYS_PER_YEAR = 252
WEEKDAYS_PER_YEAR = 261
# Tickers simulated together: bounds memory (about 20 float arrays of CHUNK x sessions) whatever
# the universe size. Part of the random-stream layout, so changing it changes the output.
CHUNK_TICKERS = 400

SPLIT_RATIOS = np.array([2, 3, 4, 10])
SPLIT_RATIO_WEIGHTS = np.array([0.55, 0.20, 0.15, 0.10])
DEFAULT_SPLITS_PER_1000_TICKER_YEARS = 4.0
# Share of the equities that IPO inside the window instead of trading from its first day.
LATE_LISTING_SHARE = 0.3
# Companies pay their first dividend some months after listing, never on the IPO day.
SESSIONS_BEFORE_FIRST_DIVIDEND = 60
# A split needs some history so the pre-split close exists.
SESSIONS_BEFORE_FIRST_SPLIT = 20
STUDENT_T_DOF = 5.0
# Millions of Student-t draws would otherwise hold the odd 50-sigma day: +150% on no news.
STUDENT_T_CAP = 10.0
INDUSTRY_DAILY_VOL = 0.005

# Independent random streams: adding draws to one part never changes another part's output.
STREAM_UNIVERSE, STREAM_FACTORS, STREAM_EQUITIES, STREAM_INDICES, STREAM_FX = range(5)


@dataclass(frozen=True)
class Market:
    code: str
    currency: str
    index_ticker: str
    index_name: str
    index_exchange: str
    price_tick: float
    # Finer tick under one currency unit (US sub-dollar quotes); None where the tick stays.
    tick_below_one: float | None
    lot_size: int
    ipo_price_median: float
    market_cap_median: float  # at listing, in the listing currency
    company_suffix: str
    # Companies split to bring a high price down to a comfortable level, not below this.
    min_price_after_split: float
    dividends_per_year: int
    daily_vol: float
    index_volume_median: float


US = Market(
    code="US",
    currency="USD",
    index_ticker="^SYNUS",
    index_name="Synthetic US Market Index",
    index_exchange="XNYS",
    price_tick=0.01,
    tick_below_one=0.0001,
    lot_size=1,
    ipo_price_median=35.0,
    market_cap_median=2e9,
    company_suffix="Inc.",
    min_price_after_split=10.0,
    dividends_per_year=4,
    daily_vol=0.011,
    index_volume_median=4e9,
)
JP = Market(
    code="JP",
    currency="JPY",
    index_ticker="^SYNJP",
    index_name="Synthetic Japan Market Index",
    index_exchange="XTKS",
    price_tick=1.0,
    tick_below_one=None,
    lot_size=100,
    ipo_price_median=1800.0,
    market_cap_median=2.5e11,
    company_suffix="Corp.",
    min_price_after_split=300.0,
    dividends_per_year=2,
    daily_vol=0.012,
    index_volume_median=1.5e9,
)
DE = Market(
    code="DE",
    currency="EUR",
    index_ticker="^SYNDE",
    index_name="Synthetic Germany Market Index",
    index_exchange="XETR",
    price_tick=0.01,
    tick_below_one=0.001,
    lot_size=1,
    ipo_price_median=30.0,
    market_cap_median=1.5e9,
    company_suffix="AG",
    min_price_after_split=8.0,
    dividends_per_year=1,
    daily_vol=0.011,
    index_volume_median=8e7,
)
MARKETS = (US, JP, DE)


@dataclass(frozen=True)
class Exchange:
    code: str  # exchange_calendars code
    market: Market
    yahoo_code: str  # Yahoo's exchange code, as in the real fundamentals.csv (NMS, NYQ)
    universe_share: float


EXCHANGES = (
    Exchange("XNYS", US, "NYQ", 0.40),
    Exchange("XNAS", US, "NMS", 0.35),
    Exchange("XTKS", JP, "JPX", 0.15),
    Exchange("XETR", DE, "GER", 0.10),
)


@dataclass(frozen=True)
class Sector:
    name: str  # Yahoo's sector and industry labels, like the real fundamentals.csv
    industries: tuple[str, ...]
    weight: float
    mean_beta: float
    daily_vol: float
    dividend_payer_share: float
    dividend_yield_median: float


SECTORS = (
    Sector(
        "Technology",
        (
            "Semiconductors",
            "Software - Infrastructure",
            "Software - Application",
            "Consumer Electronics",
        ),
        0.22,
        1.20,
        0.008,
        0.40,
        0.010,
    ),
    Sector(
        "Healthcare",
        ("Biotechnology", "Drug Manufacturers - General", "Medical Devices"),
        0.12,
        0.80,
        0.006,
        0.50,
        0.018,
    ),
    Sector(
        "Financial Services",
        ("Banks - Diversified", "Asset Management", "Insurance - Diversified"),
        0.13,
        1.10,
        0.007,
        0.80,
        0.028,
    ),
    Sector(
        "Consumer Cyclical",
        ("Internet Retail", "Auto Manufacturers", "Restaurants"),
        0.10,
        1.15,
        0.007,
        0.45,
        0.015,
    ),
    Sector(
        "Communication Services",
        ("Internet Content & Information", "Telecom Services", "Entertainment"),
        0.07,
        1.00,
        0.007,
        0.50,
        0.025,
    ),
    Sector(
        "Industrials",
        ("Aerospace & Defense", "Specialty Industrial Machinery", "Railroads"),
        0.11,
        1.05,
        0.006,
        0.70,
        0.018,
    ),
    Sector(
        "Consumer Defensive",
        ("Household & Personal Products", "Beverages - Non-Alcoholic", "Discount Stores"),
        0.06,
        0.60,
        0.005,
        0.85,
        0.026,
    ),
    Sector("Energy", ("Oil & Gas Integrated", "Oil & Gas E&P"), 0.05, 1.00, 0.011, 0.85, 0.038),
    Sector(
        "Utilities",
        ("Utilities - Regulated Electric", "Utilities - Renewable"),
        0.04,
        0.50,
        0.006,
        0.95,
        0.035,
    ),
    Sector(
        "Real Estate", ("REIT - Industrial", "REIT - Residential"), 0.04, 0.85, 0.007, 0.95, 0.040
    ),
    Sector(
        "Basic Materials", ("Specialty Chemicals", "Steel", "Gold"), 0.06, 1.05, 0.008, 0.75, 0.023
    ),
)
INDUSTRY_SECTOR = np.array([s for s, sector in enumerate(SECTORS) for _ in sector.industries])
INDUSTRY_NAMES = tuple(industry for sector in SECTORS for industry in sector.industries)
# Each industry's weight in every market index (and in the universe): its sector's, shared equally.
INDUSTRY_WEIGHTS = np.array(
    [sector.weight / len(sector.industries) for sector in SECTORS for _ in sector.industries]
)


@dataclass(frozen=True)
class Shock:
    """A real market-wide move replayed on its date: the factor's return that weekday is replaced."""

    day: date
    scope: Literal["market", "sector", "industry", "fx"]
    target: str  # market code, sector name, industry name or FX ticker
    simple_return: float
    event: str


def _market_shocks(day: date, event: str, **returns: float) -> tuple[Shock, ...]:
    return tuple(Shock(day, "market", market, value, event) for market, value in returns.items())


SHOCKS: tuple[Shock, ...] = (
    *_market_shocks(date(2008, 9, 29), "US House rejects TARP", US=-0.088, DE=-0.042),
    *_market_shocks(date(2008, 10, 13), "bank rescue rally", US=0.116, DE=0.112),
    *_market_shocks(date(2008, 10, 15), "recession fears", US=-0.090),
    *_market_shocks(date(2008, 10, 16), "Nikkei crash", JP=-0.114),
    *_market_shocks(date(2011, 3, 15), "Fukushima", JP=-0.106),
    *_market_shocks(date(2016, 6, 24), "Brexit referendum", US=-0.036, JP=-0.079, DE=-0.068),
    *_market_shocks(date(2020, 3, 12), "COVID travel ban", US=-0.095, JP=-0.044, DE=-0.122),
    *_market_shocks(date(2020, 3, 16), "COVID crash", US=-0.120, JP=-0.025, DE=-0.053),
    *_market_shocks(date(2020, 3, 24), "COVID stimulus rally", US=0.094, JP=0.071, DE=0.109),
    *_market_shocks(date(2024, 8, 5), "yen carry-trade unwind", US=-0.030, JP=-0.124, DE=-0.018),
    Shock(date(2024, 8, 5), "fx", "JPY=X", -0.016, "yen carry-trade unwind"),
    # With a tech weight of 22% and semiconductors at 5.5%, this gives about -17% for a
    # semiconductor name and -3% for the US index, as on the day.
    *_market_shocks(date(2025, 1, 27), "DeepSeek", US=-0.015),
    Shock(date(2025, 1, 27), "sector", "Technology", -0.030, "DeepSeek"),
    Shock(date(2025, 1, 27), "industry", "Semiconductors", -0.130, "DeepSeek"),
    *_market_shocks(date(2025, 4, 3), "US tariffs", US=-0.048, JP=-0.028, DE=-0.030),
    *_market_shocks(date(2025, 4, 4), "US tariffs", US=-0.060, JP=-0.028, DE=-0.050),
    *_market_shocks(date(2025, 4, 7), "US tariffs", JP=-0.078),
    *_market_shocks(date(2025, 4, 9), "tariff pause rally", US=0.095),
)


@dataclass(frozen=True)
class FxPair:
    ticker: str
    name: str
    currency: str
    long_run_level: float
    annual_vol: float
    # Sensitivity to the global equity factor: the yen strengthens (JPY=X falls) in risk-off moves.
    risk_loading: float
    decimals: int


FX_PAIRS = (
    FxPair("JPY=X", "US dollar in Japanese yen", "JPY", 115.0, 0.10, 0.25, 3),
    FxPair("EURUSD=X", "Euro in US dollars", "EUR", 1.20, 0.08, 0.10, 5),
)


@dataclass(frozen=True)
class SnapshotSummary:
    out_dir: Path
    equities: int
    years: int
    start: date
    end: date
    seed: int
    splits_per_1000_ticker_years: float
    price_rows: int
    splits: int
    dividends: int
    file_bytes: dict[str, int]
    seconds: float

    def describe(self) -> str:
        sizes = ", ".join(
            f"{name} {size / 2**20:.1f} MiB" for name, size in self.file_bytes.items()
        )
        return (
            f"{self.equities} equities, {self.start}..{self.end}, seed {self.seed}: "
            f"{self.price_rows:,} price rows, {self.splits} splits, {self.dividends:,} dividends "
            f"in {self.seconds:.1f} s -> {self.out_dir} ({sizes})"
        )


# --------------------------------------------------------------------------------------- calendars


@dataclass(frozen=True)
class SessionCalendar:
    """One exchange's sessions in the window, placed on the shared weekday grid."""

    sessions: np.ndarray  # datetime64[D]
    weekday_positions: np.ndarray  # index of each session in the weekday grid
    quarter_end_positions: np.ndarray  # index of each calendar quarter's last session
    year_end_positions: np.ndarray


def window_start(end: date, years: int) -> date:
    """The first day of the ``years`` years that end on ``end``."""
    return (pd.Timestamp(end) - pd.DateOffset(years=years) + pd.Timedelta(days=1)).date()


def weekday_grid(start: date, end: date) -> np.ndarray:
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    return days[np.is_busday(days)]


def exchange_sessions(code: str, start: date, end: date) -> np.ndarray:
    """The exchange's sessions in [start, end]. The calendar is built a little wider because
    exchange_calendars refuses a range that starts or ends on a day without a session."""
    padding = timedelta(days=14)
    sessions = exchange_calendars.get_calendar(
        code, start=start - padding, end=end + padding
    ).sessions
    days = sessions.values.astype("datetime64[D]")
    return days[(days >= np.datetime64(start, "D")) & (days <= np.datetime64(end, "D"))]


def period_end_positions(
    sessions_and_next: np.ndarray, in_window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the last session of each calendar quarter and of each year. The sessions run
    past the window so its final session counts as a quarter end only if it really is one."""
    months = sessions_and_next.astype("datetime64[M]").astype(np.int64)
    last_of_quarter = np.flatnonzero(np.diff(months // 3) != 0)
    last_of_quarter = last_of_quarter[last_of_quarter < in_window]
    december = months[last_of_quarter] % 12 == 11
    return last_of_quarter, last_of_quarter[december]


def session_calendar(code: str, start: date, end: date, weekdays: np.ndarray) -> SessionCalendar:
    # Two weeks past the end always hold the next session, even across new-year holidays.
    sessions_and_next = exchange_sessions(code, start, end + timedelta(days=14))
    sessions = sessions_and_next[sessions_and_next <= np.datetime64(end, "D")]
    positions = np.searchsorted(weekdays, sessions)
    if not np.array_equal(weekdays[positions], sessions):
        raise ValueError(f"{code} has sessions on weekend days; the weekday grid cannot carry them")
    return SessionCalendar(
        sessions, positions, *period_end_positions(sessions_and_next, len(sessions))
    )


# ----------------------------------------------------------------------------------------- factors


def student_t(rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
    """Fat-tailed draws scaled to (about) unit variance."""
    draws = rng.standard_t(STUDENT_T_DOF, size) / np.sqrt(STUDENT_T_DOF / (STUDENT_T_DOF - 2.0))
    return np.clip(draws, -STUDENT_T_CAP, STUDENT_T_CAP)


def shock_positions(weekdays: np.ndarray) -> Iterator[tuple[Shock, int]]:
    """Each shock whose date is on the weekday grid, with its position there."""
    for shock in SHOCKS:
        day = np.datetime64(shock.day, "D")
        position = int(np.searchsorted(weekdays, day))
        if position < len(weekdays) and weekdays[position] == day:
            yield shock, position


def volatility_regimes(
    rng: np.random.Generator, n_weekdays: int, impulses: np.ndarray
) -> np.ndarray:
    """Per-market volatility multipliers (mean square about 1): a persistent log-AR(1) process,
    mostly shared across markets, that jumps on crash days and decays over the following months."""
    persistence, innovation, shared = 0.985, 0.06, 0.7
    common = rng.standard_normal(n_weekdays)
    local = rng.standard_normal((impulses.shape[0], n_weekdays))
    innovations = innovation * (shared * common + np.sqrt(1 - shared**2) * local) + impulses
    log_vol = np.empty_like(innovations)
    state = np.zeros(impulses.shape[0])
    for day in range(n_weekdays):
        state = persistence * state + innovations[:, day]
        log_vol[:, day] = state
    stationary_variance = innovation**2 / (1 - persistence**2)
    return np.exp(log_vol - stationary_variance)


@dataclass(frozen=True)
class Factors:
    """Factor log returns on the weekday grid."""

    global_returns: np.ndarray  # (weekdays,) unit-variance driver shared by markets and FX
    market_returns: np.ndarray  # (markets, weekdays)
    market_vol: np.ndarray  # (markets, weekdays) volatility multiplier
    industry_returns: np.ndarray  # (industries, weekdays) sector + industry component


def simulate_factors(rng: np.random.Generator, weekdays: np.ndarray) -> Factors:
    n = len(weekdays)
    market_index = {market.code: m for m, market in enumerate(MARKETS)}
    sector_index = {sector.name: s for s, sector in enumerate(SECTORS)}
    industry_index = {name: k for k, name in enumerate(INDUSTRY_NAMES)}
    shocks = list(shock_positions(weekdays))

    impulses = np.zeros((len(MARKETS), n))
    for shock, position in shocks:
        if shock.scope == "market" and shock.simple_return < -0.04:
            # Crashes raise volatility for months (volatility clustering): a -12% day about
            # triples it, as in March 2020.
            impulses[market_index[shock.target], position] += (
                min(-shock.simple_return / 0.04, 3.0) * 0.35
            )
    market_vol = volatility_regimes(rng, n, impulses)
    global_vol = np.exp(np.log(market_vol).mean(axis=0))

    correlation = 0.6
    global_returns = student_t(rng, n)
    local = student_t(rng, (len(MARKETS), n))
    daily_vol = np.array([market.daily_vol for market in MARKETS])[:, None]
    market_returns = 0.07 / WEEKDAYS_PER_YEAR + daily_vol * market_vol * (
        correlation * global_returns + np.sqrt(1 - correlation**2) * local
    )
    sector_vol = np.array([sector.daily_vol for sector in SECTORS])[:, None]
    sector_returns = sector_vol * global_vol * student_t(rng, (len(SECTORS), n))
    industry_own = INDUSTRY_DAILY_VOL * global_vol * student_t(rng, (len(INDUSTRY_NAMES), n))

    for shock, position in shocks:
        log_return = np.log1p(shock.simple_return)
        if shock.scope == "market":
            market_returns[market_index[shock.target], position] = log_return
        elif shock.scope == "sector":
            sector_returns[sector_index[shock.target], position] = log_return
        elif shock.scope == "industry":
            industry_own[industry_index[shock.target], position] = log_return
    return Factors(
        global_returns, market_returns, market_vol, sector_returns[INDUSTRY_SECTOR] + industry_own
    )


def sum_over_sessions(weekday_returns: np.ndarray, weekday_positions: np.ndarray) -> np.ndarray:
    """Per-session log returns: everything since the previous session, closed days included. The
    first session has no previous one, so its return is 0."""
    cumulative = np.cumsum(weekday_returns, axis=-1)[..., weekday_positions]
    return np.diff(cumulative, axis=-1, prepend=cumulative[..., :1])


@dataclass(frozen=True)
class SessionFactors:
    market: np.ndarray  # (sessions,)
    industries: np.ndarray  # (industries, sessions)
    vol: np.ndarray  # (sessions,)


def factors_on_sessions(
    factors: Factors, market: Market, calendar: SessionCalendar
) -> SessionFactors:
    m = MARKETS.index(market)
    positions = calendar.weekday_positions
    return SessionFactors(
        market=sum_over_sessions(factors.market_returns[m], positions),
        industries=sum_over_sessions(factors.industry_returns, positions),
        vol=factors.market_vol[m, positions],
    )


# ---------------------------------------------------------------------------------------- universe


def apportion(total: int, weights: Sequence[float]) -> np.ndarray:
    """Integer counts summing to ``total`` in proportion to ``weights`` (largest remainder), so a
    universe of any size has the intended mix."""
    shares = total * np.asarray(weights, dtype=float) / np.sum(weights)
    counts = np.floor(shares).astype(np.int64)
    remainder_order = np.argsort(-(shares - counts), kind="stable")
    counts[remainder_order[: total - counts.sum()]] += 1
    return counts


def equity_tickers(exchange_of: np.ndarray) -> np.ndarray:
    """Yahoo-style symbols: SYN0001 in the US, SYN0002.DE on Xetra, a four-digit code .T in Tokyo."""
    tokyo_codes = iter(range(1000, 10000))
    tickers = []
    for number, exchange in enumerate(exchange_of, start=1):
        code = EXCHANGES[exchange].code
        if code == "XTKS":
            tokyo_code = next(tokyo_codes, None)
            if tokyo_code is None:
                raise ValueError("more than 9000 Tokyo tickers: four-digit codes run out")
            tickers.append(f"{tokyo_code}.T")
        elif code == "XETR":
            tickers.append(f"SYN{number:04d}.DE")
        else:
            tickers.append(f"SYN{number:04d}")
    return np.array(tickers, dtype=object)


@dataclass(frozen=True)
class Equities:
    """Static parameters of the synthetic equities, one array element per ticker."""

    ticker: np.ndarray
    name: np.ndarray
    exchange: np.ndarray  # index into EXCHANGES
    industry: np.ndarray  # index into INDUSTRY_NAMES
    listing_day: np.ndarray  # datetime64[D]: first day it may trade
    beta: np.ndarray
    industry_loading: np.ndarray
    idio_vol: np.ndarray  # daily
    alpha: np.ndarray  # daily
    ipo_price: np.ndarray
    shares_at_listing: np.ndarray
    share_drift: np.ndarray  # per year: buybacks (<0) or issuance (>0)
    turnover: np.ndarray  # median daily volume / shares outstanding
    dividend_yield: np.ndarray  # 0 for non-payers
    dividend_first_month: np.ndarray
    dividend_day: np.ndarray

    def take(self, rows: np.ndarray) -> Equities:
        return Equities(**{name: values[rows] for name, values in vars(self).items()})

    def __len__(self) -> int:
        return len(self.ticker)


def draw_equities(rng: np.random.Generator, n_tickers: int, start: date, end: date) -> Equities:
    exchange_counts = apportion(n_tickers, [exchange.universe_share for exchange in EXCHANGES])
    exchange = rng.permutation(np.repeat(np.arange(len(EXCHANGES)), exchange_counts))
    industry = rng.permutation(
        np.repeat(np.arange(len(INDUSTRY_NAMES)), apportion(n_tickers, INDUSTRY_WEIGHTS))
    )
    sector = [SECTORS[s] for s in INDUSTRY_SECTOR[industry]]
    market = [EXCHANGES[e].market for e in exchange]
    names = [
        f"Synthetic {s.name} {number:04d} {m.company_suffix}"
        for number, (s, m) in enumerate(zip(sector, market, strict=True), start=1)
    ]

    lists_late = rng.random(n_tickers) < LATE_LISTING_SHARE
    late_offset = (rng.uniform(0.05, 0.9, n_tickers) * (end - start).days).astype(np.int64)
    ipo_price = np.array([m.ipo_price_median for m in market]) * rng.lognormal(0.0, 0.8, n_tickers)
    market_cap = np.array([m.market_cap_median for m in market]) * rng.lognormal(
        0.0, 1.3, n_tickers
    )
    pays = rng.random(n_tickers) < np.array([s.dividend_payer_share for s in sector])
    dividend_yield = np.array([s.dividend_yield_median for s in sector]) * rng.lognormal(
        0.0, 0.4, n_tickers
    )
    months_between_payments = 12 // np.array([m.dividends_per_year for m in market])
    return Equities(
        ticker=equity_tickers(exchange),
        name=np.array(names, dtype=object),
        exchange=exchange,
        industry=industry,
        listing_day=np.datetime64(start, "D") + np.where(lists_late, late_offset, 0),
        beta=np.clip(rng.normal([s.mean_beta for s in sector], 0.25), 0.2, 2.5),
        industry_loading=np.clip(rng.normal(1.0, 0.2, n_tickers), 0.3, 1.8),
        idio_vol=np.clip(0.25 * rng.lognormal(0.0, 0.35, n_tickers), 0.08, 1.2)
        / np.sqrt(TRADING_DAYS_PER_YEAR),
        alpha=rng.normal(0.0, 0.03, n_tickers) / TRADING_DAYS_PER_YEAR,
        ipo_price=ipo_price,
        shares_at_listing=np.round(market_cap / ipo_price),
        share_drift=rng.normal(-0.005, 0.02, n_tickers),
        turnover=0.005 * rng.lognormal(0.0, 0.5, n_tickers),
        dividend_yield=np.where(pays, np.clip(dividend_yield, 0.002, 0.10), 0.0),
        dividend_first_month=1 + (rng.random(n_tickers) * months_between_payments).astype(np.int64),
        dividend_day=rng.integers(1, 29, n_tickers),
    )


def universe_frame(equities: Equities) -> pd.DataFrame:
    """universe.csv: the equities, then one index per market, then the FX pairs."""
    exchanges = [EXCHANGES[e] for e in equities.exchange]
    rows = [
        *(
            (
                ticker,
                name,
                "equity",
                exchange.code,
                exchange.market.currency,
                exchange.market.index_ticker,
            )
            for ticker, name, exchange in zip(
                equities.ticker, equities.name, exchanges, strict=True
            )
        ),
        *(
            (m.index_ticker, m.index_name, "index", m.index_exchange, m.currency, "")
            for m in MARKETS
        ),
        *((pair.ticker, pair.name, "fx", "FX", pair.currency, "") for pair in FX_PAIRS),
    ]
    return pd.DataFrame(
        rows, columns=["ticker", "name", "role", "exchange", "currency", "benchmark"]
    )


# ------------------------------------------------------------------------------- corporate actions


@dataclass(frozen=True)
class Events:
    """Sparse (ticker, session) events of a chunk: splits (value = ratio) or dividends (value =
    traded amount per share, on that day's share basis)."""

    rows: np.ndarray
    positions: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def draw_splits(
    rng: np.random.Generator,
    log_price: np.ndarray,
    listing: np.ndarray,
    per_ticker_year: float,
    min_price_after: float,
) -> Events:
    """Forward splits at a Poisson rate. Companies split to bring a high price down, so the drawn
    ratio is lowered while it would leave the price under ``min_price_after`` (2:1 at least)."""
    n_sessions = log_price.shape[1]
    eligible_sessions = np.maximum(n_sessions - listing - SESSIONS_BEFORE_FIRST_SPLIT, 0)
    counts = rng.poisson(per_ticker_year * eligible_sessions / TRADING_DAYS_PER_YEAR)
    rows, positions, ratios = [], [], []
    for row in np.flatnonzero(counts):
        days = np.unique(
            rng.integers(listing[row] + SESSIONS_BEFORE_FIRST_SPLIT, n_sessions, counts[row])
        )
        basis = 1
        for day in days:
            price = np.exp(log_price[row, day - 1]) / basis
            drawn = rng.choice(SPLIT_RATIOS, p=SPLIT_RATIO_WEIGHTS)
            fitting = SPLIT_RATIOS[
                (drawn >= SPLIT_RATIOS) & (price / SPLIT_RATIOS >= min_price_after)
            ]
            ratio = int(fitting.max()) if len(fitting) else 2
            basis *= ratio
            rows.append(row)
            positions.append(day)
            ratios.append(ratio)
    return Events(
        np.array(rows, np.int64), np.array(positions, np.int64), np.array(ratios, np.int64)
    )


def split_basis(splits: Events, shape: tuple[int, int]) -> np.ndarray:
    """Shares per original share on each session (product of the ratios so far)."""
    ratios = np.ones(shape, dtype=np.int64)
    ratios[splits.rows, splits.positions] = splits.values
    return np.cumprod(ratios, axis=1)


def dividend_schedule(
    equities: Equities, sessions: np.ndarray, listing: np.ndarray, payments_per_year: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ex-date positions (tickers x payment slots, -1 where none) on fixed calendar days each year,
    moved to the next session, and which slots open a fiscal year (the amount is reset)."""
    first_year, last_year = sessions[[0, -1]].astype("datetime64[Y]").astype(np.int64) + 1970
    years = np.arange(first_year, last_year + 1)
    payment = np.arange(payments_per_year)
    month = equities.dividend_first_month[:, None, None] - 1 + (12 // payments_per_year) * payment
    month_serial = (years[None, :, None] - 1970) * 12 + month
    day = equities.dividend_day[:, None, None] - 1
    targets = month_serial.astype("datetime64[M]").astype("datetime64[D]") + day
    positions = np.searchsorted(sessions, targets.reshape(len(equities), -1))
    valid = (
        (equities.dividend_yield[:, None] > 0)
        & (positions >= listing[:, None] + SESSIONS_BEFORE_FIRST_DIVIDEND)
        & (positions < len(sessions))
    )
    return np.where(valid, positions, -1), np.tile(payment == 0, len(years))


def pay_dividends(
    log_price_before_dividends: np.ndarray,
    basis: np.ndarray,
    schedule: np.ndarray,
    opens_year: np.ndarray,
    annual_yield: np.ndarray,
    payments_per_year: int,
    tick: float,
) -> tuple[Events, np.ndarray]:
    """Dividends held through each year and reset to the target yield on its first payment, like
    real payers; skipped while under one tick (a collapsed price). Returns the events and the
    cumulative log price drop of the ex-dates. A drop lowers every later price, so the payment
    slots are paid in order."""
    drops = np.zeros_like(log_price_before_dividends)
    dropped_so_far = np.zeros(len(annual_yield))
    amount = np.zeros(len(annual_yield))  # per original share
    rows, positions, values = [], [], []
    for slot in range(schedule.shape[1]):
        row = np.flatnonzero(schedule[:, slot] >= 0)
        ex = schedule[row, slot]
        price_before = np.exp(log_price_before_dividends[row, ex - 1] + dropped_so_far[row])
        target = annual_yield[row] / payments_per_year * price_before
        reset = opens_year[slot] | (amount[row] == 0)
        # A payer whose price has halved since the reset cuts its dividend rather than pay it.
        amount[row] = np.minimum(np.where(reset, target, amount[row]), 2 * target)
        per_share = snap_to_tick(amount[row] / basis[row, ex], tick)
        paid = per_share >= tick
        row, ex, per_share, price_before = row[paid], ex[paid], per_share[paid], price_before[paid]
        drop = np.log1p(-per_share * basis[row, ex] / price_before)
        drops[row, ex] = drop
        dropped_so_far[row] += drop
        rows.append(row)
        positions.append(ex)
        values.append(per_share)
    events = Events(np.concatenate(rows), np.concatenate(positions), np.concatenate(values))
    return events, np.cumsum(drops, axis=1)


# -------------------------------------------------------------------------------------------- bars


def snap_to_tick(values: np.ndarray, tick: float) -> np.ndarray:
    # Dividing by the integral inverse keeps values like 48.17 exact-looking; k * 0.01 would not,
    # and 1 / 1e-5 itself is not exactly 100000 in floating point.
    per_unit = round(1.0 / tick)
    return np.round(values * per_unit) / per_unit


def round_to_tick(
    prices: np.ndarray, tick: float, tick_below_one: float | None = None
) -> np.ndarray:
    """Rounded to the tick (``tick_below_one`` under 1, so a penny stock does not move in 10%
    steps), never below the smallest tick. Monotone, also across 1 (both grids hold it), so
    low <= open/close <= high survives."""
    if tick_below_one is None:
        return np.maximum(snap_to_tick(prices, tick), tick)
    snapped = np.where(
        prices < 1.0, snap_to_tick(prices, tick_below_one), snap_to_tick(prices, tick)
    )
    return np.maximum(snapped, tick_below_one)


@dataclass(frozen=True)
class LogBars:
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


def log_bars(
    rng: np.random.Generator,
    log_close: np.ndarray,
    move: np.ndarray,
    overnight_drop: np.ndarray,
    daily_vol: np.ndarray,
) -> LogBars:
    """Open, high and low around known closes. Part of each day's move happens overnight (the
    gap), the ex-dividend drop all of it; high and low reach beyond open and close by a
    half-normal amount scaled by the day's volatility. A first bar opens near its own close."""
    shape = log_close.shape
    previous_close = np.concatenate([log_close[:, :1], log_close[:, :-1]], axis=1)
    gap_share = rng.uniform(0.1, 0.6, shape)
    log_open = (
        previous_close
        + overnight_drop
        + gap_share * move
        + 0.25 * daily_vol * rng.standard_normal(shape)
    )
    log_high = np.maximum(log_open, log_close) + 0.6 * daily_vol * np.abs(
        rng.standard_normal(shape)
    )
    log_low = np.minimum(log_open, log_close) - 0.6 * daily_vol * np.abs(rng.standard_normal(shape))
    return LogBars(log_open, log_high, log_low, log_close)


def activity_volumes(
    rng: np.random.Generator, typical: np.ndarray, move: np.ndarray, daily_vol: np.ndarray
) -> np.ndarray:
    """Lognormal volumes that rise with the size of the day's move: about 2x on a 3-sigma day and
    6x on a 10-sigma one (news days), without the runaway an exponential link would give."""
    surprise = np.log1p(np.abs(move) / daily_vol) - 0.55  # 0.55: a typical day's value
    return typical * np.exp(0.8 * surprise + 0.35 * rng.standard_normal(move.shape) - 0.35**2 / 2)


def yahoo_adjusted_close(
    close: np.ndarray, dividends: Events, dividend_values: np.ndarray
) -> np.ndarray:
    """yfinance's Adj Close: every close before an ex-date times (1 - dividend / close the day
    before the ex-date), both on the same (split back-adjusted) basis."""
    log_factor = np.zeros_like(close)
    day_before = dividends.positions - 1
    log_factor[dividends.rows, day_before] = np.log1p(
        -dividend_values / close[dividends.rows, day_before]
    )
    later_factors = np.cumsum(log_factor[:, ::-1], axis=1)[:, ::-1]
    return close * np.exp(later_factors)


# ------------------------------------------------------------------------------------ output rows


PRICE_SCHEMA = pa.schema(
    [("ticker", pa.string()), ("date", pa.date32())]
    + [(column, pa.float64()) for column in ("open", "high", "low", "close", "adj_close")]
    + [("volume", pa.int64())]
)


def price_table(
    tickers: np.ndarray,
    sessions: np.ndarray,
    present: np.ndarray,
    bars: dict[str, np.ndarray],
    adj_close: np.ndarray | None,
    volume: np.ndarray | None,
) -> pa.Table:
    """prices.csv rows of the ``present`` cells (tickers x sessions), ticker by ticker, dates
    ascending. ``adj_close``/``volume`` None: the source reports none (indices, FX)."""
    rows, positions = np.nonzero(present)
    n = len(rows)
    return pa.table(
        {
            "ticker": pc.take(pa.array(tickers.tolist(), pa.string()), pa.array(rows)),
            "date": pc.take(pa.array(sessions), pa.array(positions)),
            **{
                column: pa.array(bars[column][present])
                for column in ("open", "high", "low", "close")
            },
            "adj_close": pa.nulls(n, pa.float64())
            if adj_close is None
            else pa.array(adj_close[present]),
            "volume": pa.nulls(n, pa.int64()) if volume is None else pa.array(volume[present]),
        },
        schema=PRICE_SCHEMA,
    )


def split_basis_notes(
    rows: np.ndarray, as_of: np.ndarray, splits: Events, sessions: np.ndarray
) -> np.ndarray:
    """For each reported share count, which split basis it is on."""
    notes = np.full(len(rows), "no split in this snapshot; as reported", dtype=object)
    for row in np.unique(splits.rows):
        mine = splits.rows == row
        days, ratios = splits.positions[mine], splits.values[mine]
        counts = np.flatnonzero(rows == row)
        splits_done = np.searchsorted(days, as_of[counts], side="right")
        for count, done in zip(counts, splits_done, strict=True):
            if done < len(days):
                notes[count] = (
                    f"pre-split: reported before the {ratios[done]}:1 split effective "
                    f"{sessions[days[done]]}; not adjusted"
                )
            else:
                notes[count] = (
                    f"post-split ({ratios[done - 1]}:1 effective {sessions[days[done - 1]]})"
                )
    return notes


def equity_moves(
    rng: np.random.Generator,
    equities: Equities,
    market: Market,
    factors: SessionFactors,
    trading: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Daily log price moves (0 until the first session after listing) and each day's expected
    volatility, which scales intraday ranges and volume surprises."""
    sector_vol = np.array([SECTORS[s].daily_vol for s in INDUSTRY_SECTOR[equities.industry]])
    typical_vol = np.sqrt(
        (equities.beta * market.daily_vol) ** 2
        + (equities.industry_loading * np.hypot(sector_vol, INDUSTRY_DAILY_VOL)) ** 2
        + equities.idio_vol**2
    )
    # Idiosyncratic risk rises in turbulent markets too, but less than the market's own.
    idiosyncratic = (
        equities.idio_vol[:, None] * np.sqrt(factors.vol) * student_t(rng, trading.shape)
    )
    move = (
        equities.alpha[:, None]
        + equities.beta[:, None] * factors.market
        + equities.industry_loading[:, None] * factors.industries[equities.industry]
        + idiosyncratic
    )
    return np.where(trading, move, 0.0), typical_vol[:, None] * factors.vol


def share_count_frames(
    rng: np.random.Generator,
    equities: Equities,
    exchange: Exchange,
    calendar: SessionCalendar,
    listed: np.ndarray,
    shares: np.ndarray,
    basis: np.ndarray,
    splits: Events,
    traded_close: np.ndarray,
    source_note: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """shares_outstanding.csv rows (each quarter's last session, as reported: on that day's split
    basis, with a little reporting noise) and fundamentals.csv rows (each year's last session)."""
    sessions = calendar.sessions
    rows, quarter = np.nonzero(listed[:, calendar.quarter_end_positions])
    as_of = calendar.quarter_end_positions[quarter]
    reported = np.round(
        shares[rows, as_of] * basis[rows, as_of] * np.exp(rng.normal(0.0, 0.004, len(rows)))
    )
    share_counts = pd.DataFrame(
        {
            "ticker": equities.ticker[rows],
            "as_of": sessions[as_of],
            "shares_outstanding": reported.astype(np.int64),
            "share_class_note": "common stock (synthetic)",
            "split_basis_note": split_basis_notes(rows, as_of, splits, sessions),
            "source": source_note,
        }
    )
    year_end = np.isin(as_of, calendar.year_end_positions)
    rows, as_of, reported = rows[year_end], as_of[year_end], reported[year_end]
    fundamentals = pd.DataFrame(
        {
            "ticker": equities.ticker[rows],
            "as_of": sessions[as_of],
            "name": equities.name[rows],
            "sector": [SECTORS[s].name for s in INDUSTRY_SECTOR[equities.industry[rows]]],
            "industry": [INDUSTRY_NAMES[k] for k in equities.industry[rows]],
            "currency": exchange.market.currency,
            "exchange": exchange.yahoo_code,
            "shares_outstanding": reported.astype(np.int64),
            # Shares as reported that day times that day's traded close: both on the same basis.
            "market_cap": np.round(reported * traded_close[rows, as_of]).astype(np.int64),
        }
    )
    return share_counts, fundamentals


def actions_frame(
    tickers: np.ndarray,
    sessions: np.ndarray,
    splits: Events,
    dividends: Events,
    dividend_values: np.ndarray,
) -> pd.DataFrame:
    def frame(events: Events, action: str, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "ticker": tickers[events.rows],
                "date": sessions[events.positions],
                "action": action,
                "value": values,
            }
        )

    return pd.concat(
        [
            frame(splits, "split", splits.values.astype(float)),
            frame(dividends, "dividend", dividend_values),
        ],
        ignore_index=True,
    )


@dataclass(frozen=True)
class ChunkFacts:
    """A chunk's rows of the small files, kept until all chunks are done so they can be sorted."""

    actions: pd.DataFrame
    share_counts: pd.DataFrame
    fundamentals: pd.DataFrame
    splits: int
    dividends: int


@dataclass(frozen=True)
class ChunkOutput:
    prices: pa.Table
    facts: ChunkFacts


def simulate_equity_chunk(
    rng: np.random.Generator,
    equities: Equities,
    exchange: Exchange,
    calendar: SessionCalendar,
    factors: SessionFactors,
    splits_per_ticker_year: float,
    source_note: str,
) -> ChunkOutput:
    """Every output row of some equities of one exchange."""
    market, sessions = exchange.market, calendar.sessions
    n, n_sessions = len(equities), len(sessions)
    session_index = np.arange(n_sessions)
    listing = np.searchsorted(sessions, equities.listing_day)
    listed = session_index >= listing[:, None]
    trading = session_index > listing[:, None]  # listed and has a previous close

    move, daily_vol = equity_moves(rng, equities, market, factors, trading)
    log_price_before_dividends = np.log(equities.ipo_price)[:, None] + np.cumsum(move, axis=1)
    splits = draw_splits(
        rng,
        log_price_before_dividends,
        listing,
        splits_per_ticker_year,
        market.min_price_after_split,
    )
    basis = split_basis(splits, (n, n_sessions))
    schedule, opens_year = dividend_schedule(equities, sessions, listing, market.dividends_per_year)
    dividends, dividend_drop = pay_dividends(
        log_price_before_dividends,
        basis,
        schedule,
        opens_year,
        equities.dividend_yield,
        market.dividends_per_year,
        market.price_tick,
    )

    overnight_drop = np.diff(dividend_drop, axis=1, prepend=0.0)
    bars = log_bars(
        rng, log_price_before_dividends + dividend_drop, move, overnight_drop, daily_vol
    )
    traded = {
        name: round_to_tick(
            np.exp(getattr(bars, name)) / basis, market.price_tick, market.tick_below_one
        )
        for name in ("open", "high", "low", "close")
    }
    later_splits = (
        basis[:, -1:] // basis
    )  # yfinance divides earlier prices by this, multiplies volumes
    adjusted = {name: values / later_splits for name, values in traded.items()}
    dividend_values = dividends.values / later_splits[dividends.rows, dividends.positions]
    adj_close = yahoo_adjusted_close(adjusted["close"], dividends, dividend_values)

    years_listed = np.maximum(session_index - listing[:, None], 0) / TRADING_DAYS_PER_YEAR
    shares = equities.shares_at_listing[:, None] * np.exp(
        equities.share_drift[:, None] * years_listed
    )
    ipo_day_boost = np.where(trading, 1.0, 3.0)
    typical_volume = equities.turnover[:, None] * shares * basis * ipo_day_boost
    lots = np.maximum(
        np.round(activity_volumes(rng, typical_volume, move, daily_vol) / market.lot_size), 1
    )
    volume = lots.astype(np.int64) * market.lot_size * later_splits

    share_counts, fundamentals = share_count_frames(
        rng,
        equities,
        exchange,
        calendar,
        listed,
        shares,
        basis,
        splits,
        traded["close"],
        source_note,
    )
    facts = ChunkFacts(
        actions=actions_frame(equities.ticker, sessions, splits, dividends, dividend_values),
        share_counts=share_counts,
        fundamentals=fundamentals,
        splits=len(splits),
        dividends=len(dividends),
    )
    return ChunkOutput(
        price_table(equities.ticker, sessions, listed, adjusted, adj_close, volume), facts
    )


def simulate_index(
    rng: np.random.Generator, market: Market, calendar: SessionCalendar, factors: SessionFactors
) -> pa.Table:
    """The market's benchmark: its market factor plus the industries at their index weights
    (idiosyncratic noise diversifies away), so shock days land on the index as specified."""
    move = (factors.market + INDUSTRY_WEIGHTS @ factors.industries)[None, :]
    daily_vol = (np.hypot(market.daily_vol, 0.004) * factors.vol)[None, :]
    bars = log_bars(
        rng, np.log(1000.0) + np.cumsum(move, axis=1), move, np.zeros_like(move), daily_vol
    )
    levels = {
        name: round_to_tick(np.exp(getattr(bars, name)), 0.01)
        for name in ("open", "high", "low", "close")
    }
    typical_volume = np.full(move.shape, market.index_volume_median)
    volume = np.round(activity_volumes(rng, typical_volume, move, daily_vol)).astype(np.int64)
    ticker = np.array([market.index_ticker], dtype=object)
    return price_table(
        ticker, calendar.sessions, np.ones(move.shape, dtype=bool), levels, None, volume
    )


def simulate_fx(rng: np.random.Generator, weekdays: np.ndarray, factors: Factors) -> pa.Table:
    """Mean-reverting log rates on every weekday (24x5 quotes), leaning on the global risk factor."""
    n, n_pairs = len(weekdays), len(FX_PAIRS)
    daily_vol = np.array([pair.annual_vol for pair in FX_PAIRS])[:, None] / np.sqrt(
        WEEKDAYS_PER_YEAR
    )
    vol = np.exp(np.log(factors.market_vol).mean(axis=0))
    risk_loading = np.array([pair.risk_loading for pair in FX_PAIRS])[:, None]
    innovations = (
        daily_vol * vol * (risk_loading * factors.global_returns + student_t(rng, (n_pairs, n)))
    )
    pair_index = {pair.ticker: p for p, pair in enumerate(FX_PAIRS)}
    for shock, position in shock_positions(weekdays):
        if shock.scope == "fx":
            innovations[pair_index[shock.target], position] = np.log1p(shock.simple_return)

    reversion = np.log(2) / (3 * WEEKDAYS_PER_YEAR)  # three-year half-life
    long_run = np.log([pair.long_run_level for pair in FX_PAIRS])
    log_rate = np.empty((n_pairs, n))
    state = long_run + 0.15 * rng.standard_normal(n_pairs)
    for day in range(n):
        state = state + reversion * (long_run - state) + innovations[:, day]
        log_rate[:, day] = state
    move = np.diff(log_rate, axis=1, prepend=log_rate[:, :1])
    bars = log_bars(rng, log_rate, move, np.zeros_like(move), daily_vol * vol)

    tables = []
    for p, pair in enumerate(FX_PAIRS):
        quotes = {
            name: round_to_tick(np.exp(getattr(bars, name)[p : p + 1]), 10.0**-pair.decimals)
            for name in ("open", "high", "low", "close")
        }
        ticker = np.array([pair.ticker], dtype=object)
        tables.append(
            price_table(ticker, weekdays, np.ones((1, n), dtype=bool), quotes, None, None)
        )
    return pa.concat_tables(tables)


# ----------------------------------------------------------------------------------------- writing


def price_writer(sink: BinaryIO) -> pacsv.CSVWriter:
    """A CSV writer for prices.csv rows. The header is written by hand because pyarrow quotes
    column names (only recent versions can be told not to) and the real files do not."""
    sink.write((",".join(PRICE_COLUMNS) + "\n").encode())
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    return pacsv.CSVWriter(sink, PRICE_SCHEMA, write_options=options)


def write_small_csv(
    frames: list[pd.DataFrame], path: Path, columns: Sequence[str], sort_by: Sequence[str]
) -> None:
    frame = pd.concat(frames, ignore_index=True)[list(columns)].sort_values(
        list(sort_by), kind="stable"
    )
    for column in frame.columns:
        if frame[column].dtype.kind == "M":
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False, lineterminator="\n")


def refuse_to_overwrite_real_data(out_dir: Path) -> None:
    """A directory whose SOURCES.md this generator did not write holds real data (such as the
    bundled snapshot): never overwrite it."""
    sources = out_dir / "SOURCES.md"
    if sources.is_file() and not sources.read_text(encoding="utf-8").startswith(SOURCES_TITLE):
        raise FileExistsError(
            f"{out_dir} holds a snapshot this generator did not write; choose another --out"
        )


def sources_markdown(summary: SnapshotSummary) -> str:
    shocks = [shock for shock in SHOCKS if summary.start <= shock.day <= summary.end]
    shock_rows = "\n".join(
        f"| {shock.day} | {shock.event} | {shock.scope} {shock.target} | {shock.simple_return:+.1%} |"
        for shock in shocks
    )
    return f"""{SOURCES_TITLE}

**Every value in this directory is synthetic.** Nothing here is real market data: the tickers
(`SYN0001`, `1000.T`, `SYN0002.DE`, `^SYNUS`, ...), names, prices, volumes, dividends, splits, share
counts and market caps were drawn by `bench/synthetic.py` to benchmark the warehouse at scale. Do not
use them for analysis.

Command: `python -m bench.synthetic --tickers {summary.equities} --years {summary.years} --end {summary.end} \
--seed {summary.seed} --splits-per-1000-ticker-years {summary.splits_per_1000_ticker_years:g} --out DIR`.
The files are a pure function of these arguments: the same arguments write byte-identical files.

## Contents
- Window {summary.start}..{summary.end}: {summary.equities} equities on XNYS/XNAS (USD), XTKS (JPY) and XETR (EUR),
  one benchmark index per market (`^SYNUS`, `^SYNJP`, `^SYNDE`) and the FX pairs `JPY=X` (yen per US
  dollar) and `EURUSD=X` (US dollars per euro).
- {summary.price_rows:,} rows in `prices.csv`; {summary.splits} splits and {summary.dividends:,} dividends
  in `actions.csv`.
- `universe.csv` lists every security of the snapshot in the warehouse's universe format.

## Model
- Trading days: each exchange's sessions from `exchange_calendars`; FX quotes on every weekday. About
  {LATE_LISTING_SHARE:.0%} of the equities list (IPO) inside the window; the others trade from its first day.
- Daily log return = beta x market factor + loading x (sector + industry factor) + Student-t (dof
  {STUDENT_T_DOF:g}) idiosyncratic noise. The market factors are correlated through a global factor and
  have persistent volatility regimes that jump after crashes. Factors live on a weekday grid and are
  summed over each exchange's sessions, so a move on a day an exchange is closed lands on its next
  session. Indices are the market factor plus the industry factors at their weights.
- Real market-wide shock days replayed in this window (the factor's return on that day):

| date | event | factor | simple return |
|---|---|---|---|
{shock_rows or "| - | none in this window | | |"}

- Prices are generated as traded prices on the exchange tick (0.01 USD/EUR, 0.0001 USD and 0.001 EUR
  under 1, 1 JPY), then written like yfinance `auto_adjust=False`: open/high/low/close are
  **back-adjusted for splits** (earlier prices divided by the later split ratios, earlier volumes
  multiplied by them) and `adj_close` is also adjusted for dividends (each earlier close times
  1 - dividend / close of the day before the ex-date). Indices and FX have no `adj_close`; FX has no
  volume.
- Volumes: lognormal around a per-ticker turnover of the shares outstanding, higher on large moves;
  Tokyo volumes are whole 100-share lots.
- Splits: forward 2:1, 3:1, 4:1 or 10:1, about {summary.splits_per_1000_ticker_years:g} per 1000
  ticker-years, the ratio lowered when it would leave a low price. `actions.csv` lists them as `split`
  with the ratio (new/old) on the first session that trades on the new basis.
- Dividends: a share of the tickers (by sector) pays quarterly in the US, twice a year in Tokyo and
  once a year on Xetra. The amount is reset to the target yield on each year's first payment and held
  in between. `actions.csv` lists them as `dividend` on the ex-date, per share **on the current split
  basis** (like Yahoo).
- `shares_outstanding.csv`: one count per ticker on the last session of each calendar quarter, **as
  reported that day** (not split-adjusted: counts before a split are on the pre-split basis, and
  `split_basis_note` says which basis).
- `fundamentals.csv`: one row per ticker on the last session of each year: name, sector and industry
  (Yahoo's labels), currency, Yahoo's exchange code (NYQ, NMS, JPX, GER), the shares outstanding
  reported that day and market cap = those shares x that day's traded close, in the listing currency.
"""


def generate_snapshot(
    out_dir: Path,
    *,
    n_tickers: int,
    years: int,
    end: date = DEFAULT_END,
    seed: int = 0,
    splits_per_1000_ticker_years: float = DEFAULT_SPLITS_PER_1000_TICKER_YEARS,
) -> SnapshotSummary:
    """Writes a synthetic snapshot of ``n_tickers`` equities over the ``years`` years ending at
    ``end`` into ``out_dir`` (created if missing) and returns what it wrote."""
    if n_tickers < 1 or years < 1 or seed < 0:
        raise ValueError(
            f"need n_tickers >= 1, years >= 1 and seed >= 0; got {n_tickers}, {years}, {seed}"
        )
    started = time.perf_counter()
    out_dir = Path(out_dir)
    refuse_to_overwrite_real_data(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = window_start(end, years)
    weekdays = weekday_grid(start, end)
    calendars = {
        exchange.code: session_calendar(exchange.code, start, end, weekdays)
        for exchange in EXCHANGES
    }
    equities = draw_equities(np.random.default_rng([seed, STREAM_UNIVERSE]), n_tickers, start, end)
    factors = simulate_factors(np.random.default_rng([seed, STREAM_FACTORS]), weekdays)
    source_note = f"synthetic: bench.synthetic seed={seed}"

    facts: list[ChunkFacts] = []
    price_rows = 0
    with (out_dir / "prices.csv").open("wb") as sink, price_writer(sink) as writer:
        for e, exchange in enumerate(EXCHANGES):
            calendar = calendars[exchange.code]
            session_factors = factors_on_sessions(factors, exchange.market, calendar)
            members = np.flatnonzero(equities.exchange == e)
            for chunk, first in enumerate(range(0, len(members), CHUNK_TICKERS)):
                output = simulate_equity_chunk(
                    np.random.default_rng([seed, STREAM_EQUITIES, e, chunk]),
                    equities.take(members[first : first + CHUNK_TICKERS]),
                    exchange,
                    calendar,
                    session_factors,
                    splits_per_1000_ticker_years / 1000,
                    source_note,
                )
                writer.write_table(output.prices)
                price_rows += output.prices.num_rows
                facts.append(output.facts)
        for m, market in enumerate(MARKETS):
            calendar = calendars[market.index_exchange]
            index_rng = np.random.default_rng([seed, STREAM_INDICES, m])
            index_factors = factors_on_sessions(factors, market, calendar)
            index_prices = simulate_index(index_rng, market, calendar, index_factors)
            writer.write_table(index_prices)
            price_rows += index_prices.num_rows
        fx_prices = simulate_fx(np.random.default_rng([seed, STREAM_FX]), weekdays, factors)
        writer.write_table(fx_prices)
        price_rows += fx_prices.num_rows

    write_small_csv(
        [f.actions for f in facts],
        out_dir / "actions.csv",
        ACTIONS_COLUMNS,
        ["ticker", "date", "action"],
    )
    write_small_csv(
        [f.share_counts for f in facts],
        out_dir / "shares_outstanding.csv",
        SHARES_COLUMNS,
        ["ticker", "as_of"],
    )
    write_small_csv(
        [f.fundamentals for f in facts],
        out_dir / "fundamentals.csv",
        FUNDAMENTALS_COLUMNS,
        ["ticker", "as_of"],
    )
    universe_frame(equities).to_csv(out_dir / "universe.csv", index=False, lineterminator="\n")

    summary = SnapshotSummary(
        out_dir=out_dir,
        equities=n_tickers,
        years=years,
        start=start,
        end=end,
        seed=seed,
        splits_per_1000_ticker_years=splits_per_1000_ticker_years,
        price_rows=price_rows,
        splits=sum(f.splits for f in facts),
        dividends=sum(f.dividends for f in facts),
        file_bytes={},
        seconds=0.0,
    )
    (out_dir / "SOURCES.md").write_text(sources_markdown(summary), encoding="utf-8")
    return dataclasses.replace(
        summary,
        file_bytes={name: (out_dir / name).stat().st_size for name in OUTPUT_FILES},
        seconds=time.perf_counter() - started,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synthetic", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tickers", type=int, required=True, help="number of equities")
    parser.add_argument("--years", type=int, required=True, help="years of history ending at --end")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory to write (created if missing)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--end", type=date.fromisoformat, default=DEFAULT_END, help="last day, YYYY-MM-DD"
    )
    parser.add_argument(
        "--splits-per-1000-ticker-years", type=float, default=DEFAULT_SPLITS_PER_1000_TICKER_YEARS
    )
    args = parser.parse_args(argv)
    summary = generate_snapshot(
        args.out,
        n_tickers=args.tickers,
        years=args.years,
        end=args.end,
        seed=args.seed,
        splits_per_1000_ticker_years=args.splits_per_1000_ticker_years,
    )
    print(summary.describe())


if __name__ == "__main__":
    main()
