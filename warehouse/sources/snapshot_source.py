"""Replays a directory of market-data files (the bundled ``warehouse/snapshot`` by default) through
the source interface, so the whole warehouse builds offline. ``SOURCES.md`` there explains the data.

Files and their columns (extra columns are ignored):
  prices.csv              ticker,date,open,high,low,close,adj_close,volume (FX tickers included)
  fundamentals.csv        ticker,as_of,name,sector,industry,currency,exchange,shares_outstanding,
                          market_cap [,trailing_pe,forward_pe,price_to_book,dividend_yield,beta]
  shares_outstanding.csv  ticker,as_of,shares_outstanding,share_class_note,split_basis_note
                          [,source: rows whose source ends in "(derived)" are skipped]
  actions.csv             ticker,date,action,value

Files are parsed once per process (pyarrow, explicit types) and every request is a vectorised
filter, so a snapshot of thousands of tickers over decades replays in seconds.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from warehouse.sources.base import FetchResult, PriceBatch, SourceDataError, TickerFailure
from warehouse.sources.schema import conform, empty_frame, with_fx_currencies
from warehouse.universe import Security

TEXT = pa.string()
DAY = pa.date32()
NUMBER = pa.float64()


@dataclass(frozen=True)
class SnapshotFile:
    name: str
    # The key column every file has, and the date column its coverage is measured on.
    date_column: str
    columns: dict[str, pa.DataType]
    optional_columns: dict[str, pa.DataType] = field(default_factory=dict)


PRICES = SnapshotFile(
    "prices.csv",
    "date",
    {
        "ticker": TEXT,
        "date": DAY,
        "open": NUMBER,
        "high": NUMBER,
        "low": NUMBER,
        "close": NUMBER,
        "adj_close": NUMBER,
        "volume": pa.int64(),
    },
)
FUNDAMENTALS = SnapshotFile(
    "fundamentals.csv",
    "as_of",
    {
        "ticker": TEXT,
        "as_of": DAY,
        "name": TEXT,
        "sector": TEXT,
        "industry": TEXT,
        "currency": TEXT,
        "exchange": TEXT,
        "shares_outstanding": NUMBER,
        "market_cap": NUMBER,
    },
    {
        column: NUMBER
        for column in ("trailing_pe", "forward_pe", "price_to_book", "dividend_yield", "beta")
    },
)
SHARE_COUNTS = SnapshotFile(
    "shares_outstanding.csv",
    "as_of",
    {
        "ticker": TEXT,
        "as_of": DAY,
        "shares_outstanding": NUMBER,
        "share_class_note": TEXT,
        "split_basis_note": TEXT,
    },
    {"source": TEXT},
)
# A snapshot row whose source ends so was computed by its compiler, not read from a filing (TSM's
# ADR-equivalent count). The raw layer keeps reported values only; dbt converts units.
DERIVED_MARKER = "(derived)"
ACTIONS = SnapshotFile(
    "actions.csv", "date", {"ticker": TEXT, "date": DAY, "action": TEXT, "value": NUMBER}
)
FILES = (PRICES, FUNDAMENTALS, SHARE_COUNTS, ACTIONS)
FILES_BY_NAME = {snapshot_file.name: snapshot_file for snapshot_file in FILES}


@dataclass(frozen=True)
class _Table:
    """A parsed file (dates as datetime64[us]) and each ticker's first and last date, which
    failure reasons quote."""

    frame: pd.DataFrame
    coverage: pd.DataFrame


class SnapshotSource:
    """The snapshot files behind the ``MarketDataSource`` interface. A requested ticker the files
    never mention, or with no row in the requested window, is reported as a TickerFailure; the
    snapshot enforces no failure budget (the caller does)."""

    name = "snapshot"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory).expanduser().resolve()
        if not self.directory.is_dir():
            raise SourceDataError(f"snapshot directory {self.directory} does not exist")
        for snapshot_file in FILES:
            _check_header(self.directory / snapshot_file.name, snapshot_file)

    def coverage(self) -> tuple[date, date]:
        """First and last trading date of the snapshot's prices: the window a full replay loads."""
        table = _load(self.directory / PRICES.name, PRICES)
        dates = table.frame[PRICES.date_column]
        return dates.min().date(), dates.max().date()

    def fetch_prices(self, securities: Sequence[Security], start: date, end: date) -> PriceBatch:
        tickers = _tickers(securities)
        prices, failures = self._window(PRICES, tickers, start, end)
        actions, _ = self._window(ACTIONS, tickers, start, end)
        return PriceBatch(
            conform(prices.rename(columns={"date": "trade_date"}), "daily_prices"),
            conform(
                actions.rename(columns={"date": "action_date", "action": "action_type"}),
                "corporate_actions",
            ),
            failures,
        )

    def fetch_fx(self, pairs: Sequence[Security], start: date, end: date) -> FetchResult:
        rates, failures = self._window(PRICES, _tickers(pairs), start, end)
        rates = with_fx_currencies(rates.rename(columns={"date": "rate_date"}))
        return FetchResult(conform(rates, "fx_rates"), failures)

    def fetch_fundamentals(self, securities: Sequence[Security], as_of: date) -> FetchResult:
        """Every fundamentals row dated on or before ``as_of``: the history known by then."""
        facts, failures = self._window(FUNDAMENTALS, _tickers(securities), None, as_of)
        return FetchResult(
            conform(facts.rename(columns={"as_of": "as_of_date"}), "fundamentals"), failures
        )

    def fetch_quarterly_financials(self, securities: Sequence[Security]) -> FetchResult:
        failures = [
            TickerFailure(ticker, "the snapshot has no quarterly financials")
            for ticker in _tickers(securities)
        ]
        return FetchResult(empty_frame("quarterly_financials"), failures)

    def fetch_share_counts(
        self, securities: Sequence[Security], start: date, end: date
    ) -> FetchResult:
        counts, failures = self._window(SHARE_COUNTS, _tickers(securities), start, end)
        if "source" in counts:
            counts = counts[~counts["source"].fillna("").str.strip().str.endswith(DERIVED_MARKER)]
        counts = counts.assign(
            note=_join_notes(counts["share_class_note"], counts["split_basis_note"])
        )
        return FetchResult(
            conform(counts.rename(columns={"as_of": "as_of_date"}), "shares_outstanding"), failures
        )

    def _window(
        self, snapshot_file: SnapshotFile, tickers: Sequence[str], start: date | None, end: date
    ) -> tuple[pd.DataFrame, list[TickerFailure]]:
        """The file's rows of ``tickers`` dated in [start, end] (no lower bound when start is
        None), and a failure for each ticker without one."""
        table = _load(self.directory / snapshot_file.name, snapshot_file)
        dates = table.frame[snapshot_file.date_column]
        in_window = table.frame["ticker"].isin(tickers) & (dates <= pd.Timestamp(end))
        if start is not None:
            in_window &= dates >= pd.Timestamp(start)
        rows = table.frame[in_window].astype({"ticker": "str"})
        delivered = set(rows["ticker"].unique())
        window = f"for {start}..{end}" if start is not None else f"on or before {end}"
        failures = [
            TickerFailure(ticker, _missing_reason(ticker, table.coverage, snapshot_file, window))
            for ticker in tickers
            if ticker not in delivered
        ]
        return rows, failures


def _tickers(securities: Sequence[Security]) -> list[str]:
    return list(dict.fromkeys(security.ticker for security in securities))


def _missing_reason(
    ticker: str, coverage: pd.DataFrame, snapshot_file: SnapshotFile, window: str
) -> str:
    if ticker not in coverage.index:
        return f"not in snapshot ({snapshot_file.name})"
    first, last = coverage.loc[ticker, "first"], coverage.loc[ticker, "last"]
    return f"no rows in snapshot {window} (snapshot covers {first.date()}..{last.date()})"


def _join_notes(share_class: pd.Series, split_basis: pd.Series) -> pd.Series:
    """'share class; split basis', either part left out when empty."""
    joined = share_class.fillna("") + "; " + split_basis.fillna("")
    return joined.str.removeprefix("; ").str.removesuffix("; ").replace("", None)


def _check_header(path: Path, snapshot_file: SnapshotFile) -> list[str]:
    """The columns to read; raises SourceDataError naming the file when it or a column is
    missing."""
    if not path.is_file():
        raise SourceDataError(f"snapshot file {path} does not exist")
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    missing = [column for column in snapshot_file.columns if column not in header]
    if missing:
        raise SourceDataError(
            f"snapshot file {path} lacks column(s) {missing}; its header is {header}"
        )
    return [
        column
        for column in (*snapshot_file.columns, *snapshot_file.optional_columns)
        if column in header
    ]


def _load(path: Path, snapshot_file: SnapshotFile) -> _Table:
    stat = path.stat()
    return _parse(path, snapshot_file.name, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=len(FILES) * 2)
def _parse(path: Path, file_name: str, mtime_ns: int, size: int) -> _Table:
    """Parses a file once per process; its modification time and size are in the key so a
    rewritten file is read again."""
    snapshot_file = FILES_BY_NAME[file_name]
    columns = _check_header(path, snapshot_file)
    types = {**snapshot_file.columns, **snapshot_file.optional_columns}
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={column: types[column] for column in columns},
                include_columns=columns,
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceDataError(f"snapshot file {path} cannot be parsed: {error}") from error
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get, date_as_object=False)
    frame[snapshot_file.date_column] = frame[snapshot_file.date_column].astype("datetime64[us]")
    coverage = frame.groupby("ticker")[snapshot_file.date_column].agg(first="min", last="max")
    return _Table(frame, coverage)
