"""The securities the warehouse holds, read from ``universe.csv`` and validated on load.

The file is the one source of truth: every asset asks the universe what to fetch, so a bad row must
stop the load with a message that names the file, the line and the ticker to fix.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from warehouse import settings
from warehouse.calendars import FX_EXCHANGE, known_exchanges

ROLES = ("equity", "etf", "index", "fx")
PRICED_ROLES = ("equity", "etf", "index")
ROLES_WITH_BENCHMARK = ("equity", "etf")
USD = "USD"
COLUMNS = ("ticker", "name", "role", "exchange", "currency", "benchmark")

# Yahoo symbols: an optional ^ (indices), upper-case letters/digits joined by . or - (BRK-B, 9984.T,
# ENR.DE) and an optional =X (currency quotes).
TICKER_PATTERN = re.compile(r"^\^?[A-Z0-9]+(?:[.-][A-Z0-9]+)*(?:=X)?$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
# yfinance quotes USD against another currency as XXX=X (units of XXX per dollar) and
# XXXUSD=X (dollars per unit of XXX).
USD_BASE_FX_PATTERN = re.compile(r"^(?P<quote>[A-Z]{3})=X$")
USD_QUOTE_FX_PATTERN = re.compile(r"^(?P<base>[A-Z]{3})USD=X$")


class UniverseError(ValueError):
    """The universe file cannot be used; the message lists every problem found."""


@dataclass(frozen=True)
class Security:
    ticker: str
    name: str
    role: str
    exchange: str
    currency: str
    benchmark: str | None


@dataclass(frozen=True)
class Universe:
    securities: tuple[Security, ...]

    def __iter__(self) -> Iterator[Security]:
        return iter(self.securities)

    def __len__(self) -> int:
        return len(self.securities)

    def by_role(self, *roles: str) -> tuple[Security, ...]:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) {sorted(unknown)}; roles are {ROLES}")
        return tuple(security for security in self.securities if security.role in roles)

    def equities(self) -> tuple[Security, ...]:
        return self.by_role("equity")

    def equities_and_etfs(self) -> tuple[Security, ...]:
        return self.by_role("equity", "etf")

    def priced_securities(self) -> tuple[Security, ...]:
        """Everything with daily prices (equities, ETFs and indices), i.e. all but the FX pairs."""
        return self.by_role(*PRICED_ROLES)

    def fx_pairs(self) -> tuple[Security, ...]:
        return self.by_role("fx")

    def tickers(self) -> tuple[str, ...]:
        return tuple(security.ticker for security in self.securities)

    def get(self, ticker: str) -> Security:
        for security in self.securities:
            if security.ticker == ticker:
                return security
        raise KeyError(f"{ticker!r} is not in the universe")

    def currencies(self) -> frozenset[str]:
        return frozenset(security.currency for security in self.securities)

    def exchanges(self) -> frozenset[str]:
        return frozenset(security.exchange for security in self.securities)


def fx_quote_currencies(ticker: str) -> tuple[str, str]:
    """(base, quote) of a yfinance currency ticker: ``JPY=X`` -> (USD, JPY), yen per dollar;
    ``EURUSD=X`` -> (EUR, USD), dollars per euro."""
    if match := USD_QUOTE_FX_PATTERN.match(ticker):
        base = match["base"]
        if base != USD:
            return base, USD
    elif match := USD_BASE_FX_PATTERN.match(ticker):
        quote = match["quote"]
        if quote != USD:
            return USD, quote
    raise ValueError(f"{ticker!r} is not a USD currency pair of the form XXX=X or XXXUSD=X")


def load_universe(path: Path | None = None) -> Universe:
    path = path or settings.universe_path()
    rows = _read_rows(path)
    problems = [
        f"{_where(path, line, row)}: {problem}"
        for line, row in rows
        for problem in _row_problems(row)
    ]
    problems += _cross_row_problems(path, rows)
    if problems:
        raise UniverseError(f"invalid universe file {path}:\n  " + "\n  ".join(problems))
    return Universe(tuple(_security(row) for _, row in rows))


def universe_frame(universe: Universe) -> pd.DataFrame:
    """The rows of ``raw.securities``; every column is text, benchmark is null for index/fx."""
    return pd.DataFrame(
        [
            [s.ticker, s.name, s.role, s.exchange, s.currency, s.benchmark]
            for s in universe.securities
        ],
        columns=list(COLUMNS),
        dtype="str",
    )


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(file line number, stripped cells) of every data row."""
    if not path.is_file():
        raise UniverseError(f"universe file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise UniverseError(
                f"universe file {path} lacks column(s) {missing}; expected {list(COLUMNS)}"
            )
        rows = [
            (reader.line_num, {column: (row[column] or "").strip() for column in COLUMNS})
            for row in reader
        ]
    if not rows:
        raise UniverseError(f"universe file {path} has no securities")
    return rows


def _where(path: Path, line: int, row: dict[str, str]) -> str:
    ticker = f"ticker {row['ticker']!r}" if row["ticker"] else "empty ticker"
    return f"{path} line {line} ({ticker})"


def _row_problems(row: dict[str, str]) -> list[str]:
    """What is wrong with one row on its own."""
    ticker, role, exchange, currency = row["ticker"], row["role"], row["exchange"], row["currency"]
    problems = []
    if not TICKER_PATTERN.match(ticker):
        problems.append(
            f"malformed ticker {ticker!r} (expected e.g. NVDA, BRK-B, 9984.T, ^GSPC, JPY=X)"
        )
    if not row["name"]:
        problems.append("name is empty")
    if role not in ROLES:
        problems.append(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if exchange not in known_exchanges():
        problems.append(
            f"unknown exchange {exchange!r}; use an exchange_calendars code "
            f"(XNYS, XNAS, XTKS, XETR, ...) or {FX_EXCHANGE}"
        )
    elif (exchange == FX_EXCHANGE) != (role == "fx"):
        problems.append(
            f"exchange {FX_EXCHANGE} is for fx rows only (role {role!r}, exchange {exchange!r})"
        )
    if not CURRENCY_PATTERN.match(currency):
        problems.append(f"currency {currency!r} is not a 3-letter ISO code")
    if role in ROLES_WITH_BENCHMARK and not row["benchmark"]:
        problems.append(f"benchmark is required for role {role}: the ticker of an index")
    if role in ("index", "fx") and row["benchmark"]:
        problems.append(f"benchmark must be empty for role {role}, got {row['benchmark']!r}")
    if role == "fx":
        problems += _fx_problems(ticker, currency)
    return problems


def _fx_problems(ticker: str, currency: str) -> list[str]:
    try:
        base, quote = fx_quote_currencies(ticker)
    except ValueError as error:
        return [str(error)]
    covered = quote if base == USD else base
    if currency != covered:
        return [f"fx pair {ticker} converts {covered}, but its currency column says {currency!r}"]
    return []


def _cross_row_problems(path: Path, rows: list[tuple[int, dict[str, str]]]) -> list[str]:
    """Duplicates, benchmarks that are not indices of the file, currencies without an FX pair."""
    first_lines: dict[str, int] = {}
    for line, row in rows:
        first_lines.setdefault(row["ticker"], line)
    roles = {row["ticker"]: row["role"] for _, row in rows}
    fx_currencies = {row["currency"] for _, row in rows if row["role"] == "fx"}
    problems = []
    for line, row in rows:
        where = _where(path, line, row)
        first_line = first_lines[row["ticker"]]
        if row["ticker"] and first_line != line:
            problems.append(f"{where}: duplicate ticker, already on line {first_line}")
        benchmark = row["benchmark"]
        if benchmark and row["role"] in ROLES_WITH_BENCHMARK and roles.get(benchmark) != "index":
            problems.append(f"{where}: benchmark {benchmark!r} is not an index of the universe")
        currency = row["currency"]
        if currency != USD and CURRENCY_PATTERN.match(currency) and currency not in fx_currencies:
            problems.append(
                f"{where}: currency {currency} has no fx row (add {currency}=X or {currency}USD=X)"
            )
    return problems


def _security(row: dict[str, str]) -> Security:
    return Security(
        ticker=row["ticker"],
        name=row["name"],
        role=row["role"],
        exchange=row["exchange"],
        currency=row["currency"],
        benchmark=row["benchmark"] or None,
    )
