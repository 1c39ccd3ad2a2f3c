"""The raw layer's tables, declared once: this drives the DDL, the validation of incoming frames,
the upserts, and the column metadata shown by Dagster and SQL clients."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

RAW_SCHEMA = "raw"
QUALITY_SCHEMA = "quality"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type, spelt as duckdb_columns() reports it
    description: str


@dataclass(frozen=True)
class TableSpec:
    name: str  # inside schema raw
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]  # the data columns a frame must carry, key columns included
    # Data tables get LINEAGE_COLUMNS added by storage; the load bookkeeping tables do not.
    has_lineage: bool = True
    # Reference data that arrives whole: replace_reference_rows deletes rows absent from a frame.
    written_whole: bool = False
    # Bars (open, high, low, close, ...): a load never lets a re-delivered bar that fails the
    # integrity rules replace a stored bar that passes them (raw.rejected_corrections).
    keeps_good_bars: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{RAW_SCHEMA}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(name for name in self.column_names if name not in self.key)

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """Every column of the stored table, in order: data columns, then lineage."""
        return self.columns + (LINEAGE_COLUMNS if self.has_lineage else ())

    @property
    def date_column(self) -> str | None:
        """The key column that places a row in time, if any."""
        return next((name for name in self.key if self.type_of(name) == "DATE"), None)

    def type_of(self, column_name: str) -> str:
        return next(column.type for column in self.columns if column.name == column_name)


LINEAGE_COLUMNS: tuple[Column, ...] = (
    Column("source", "VARCHAR", "Market data source of the write that last changed the row"),
    Column("run_id", "VARCHAR", "Dagster run id of the write that last changed the row"),
    Column("loaded_at", "TIMESTAMP", "UTC time of the write that last changed the row"),
)

_TICKER = Column("ticker", "VARCHAR", "Yahoo Finance symbol, e.g. NVDA, 9984.T, ^GSPC, JPY=X")
_LOAD_KEY = (
    Column("run_id", "VARCHAR", "Dagster run id of the load"),
    Column("asset_key", "VARCHAR", "Dagster asset key(s) of the load"),
    Column("partition_start", "DATE", "First date of the loaded window"),
)


def _doubles(description: str, *names: str) -> tuple[Column, ...]:
    return tuple(Column(name, "DOUBLE", description.format(name=name)) for name in names)


_SPECS = (
    TableSpec(
        "securities",
        "The universe's securities. A ticker dropped from the universe keeps its row, so the "
        "history stored for it keeps its reference data",
        key=("ticker",),
        columns=(
            _TICKER,
            Column("name", "VARCHAR", "Security name"),
            Column("role", "VARCHAR", "equity, etf, index or fx"),
            Column(
                "exchange",
                "VARCHAR",
                "exchange_calendars code (XNYS, XNAS, XTKS, XETR), or FX for 24x5 currency quotes",
            ),
            Column("currency", "VARCHAR", "ISO 4217 currency the security is quoted in"),
            Column(
                "benchmark",
                "VARCHAR",
                "Ticker of the universe index it is measured against; null for indexes and fx",
            ),
        ),
    ),
    TableSpec(
        "daily_prices",
        "Daily bars per security and exchange-local trading date",
        key=("ticker", "trade_date"),
        columns=(
            _TICKER,
            Column("trade_date", "DATE", "Exchange-local trading date"),
            *_doubles(
                "Session {name} in the listing currency, on the same basis as close",
                "open",
                "high",
                "low",
            ),
            Column("close", "DOUBLE", "The source's close (split-adjusted for yfinance)"),
            Column(
                "adj_close",
                "DOUBLE",
                "Split- and dividend-adjusted close; null when the "
                "source has none (then close is already adjusted, or is an index)",
            ),
            Column("volume", "BIGINT", "Shares traded; null when the source reports none"),
        ),
        keeps_good_bars=True,
    ),
    TableSpec(
        "fx_rates",
        "Daily currency quotes as the source quotes them",
        key=("ticker", "rate_date"),
        columns=(
            _TICKER,
            Column("rate_date", "DATE", "Quote date"),
            Column("base_currency", "VARCHAR", "Currency priced: USD for JPY=X, EUR for EURUSD=X"),
            Column(
                "quote_currency", "VARCHAR", "Currency of the rate: JPY for JPY=X, USD for EURUSD=X"
            ),
            *_doubles(
                "Session {name}: units of quote_currency per unit of base_currency",
                "open",
                "high",
                "low",
                "close",
            ),
        ),
        keeps_good_bars=True,
    ),
    TableSpec(
        "corporate_actions",
        "Dividends and splits",
        key=("ticker", "action_date", "action_type"),
        columns=(
            _TICKER,
            Column("action_date", "DATE", "Ex-date, exchange-local"),
            Column("action_type", "VARCHAR", "dividend or split"),
            Column(
                "value",
                "DOUBLE",
                "Dividend per share in the listing currency on the current "
                "split basis, or split ratio new/old (10.0 for 10-for-1)",
            ),
        ),
    ),
    TableSpec(
        "shares_outstanding",
        "Shares outstanding as reported on a date",
        key=("ticker", "as_of_date"),
        columns=(
            _TICKER,
            Column("as_of_date", "DATE", "Date the figure was reported for"),
            Column(
                "shares_outstanding", "DOUBLE", "Shares outstanding as reported, not split-adjusted"
            ),
            Column("note", "VARCHAR", "Share class, split basis and provenance of the figure"),
        ),
    ),
    TableSpec(
        "fundamentals",
        "Fundamentals snapshots: one row per ticker per as-of date, history is kept",
        key=("ticker", "as_of_date"),
        columns=(
            _TICKER,
            Column("as_of_date", "DATE", "Date the snapshot was taken"),
            *(
                Column(name, "VARCHAR", f"The source's {name}")
                for name in ("name", "sector", "industry", "currency", "exchange")
            ),
            *_doubles(
                "The source's {name}; null when unknown",
                "shares_outstanding",
                "market_cap",
                "trailing_pe",
                "forward_pe",
                "price_to_book",
                "dividend_yield",
                "beta",
            ),
        ),
    ),
    TableSpec(
        "quarterly_financials",
        "Quarterly income statement figures",
        key=("ticker", "period_end"),
        columns=(
            _TICKER,
            Column("period_end", "DATE", "Last day of the fiscal quarter"),
            *_doubles("The quarter's {name} as reported", "revenue", "net_income", "diluted_eps"),
        ),
    ),
    TableSpec(
        "exchange_sessions",
        "Every trading session of every exchange in the universe (FX: every weekday) over the "
        "warehouse's date range plus the next sessions. Written whole: a session the calendar "
        "no longer lists is deleted",
        key=("exchange", "session_date"),
        columns=(
            Column("exchange", "VARCHAR", "exchange_calendars code, or FX"),
            Column("session_date", "DATE", "Exchange-local date of a trading session"),
        ),
        written_whole=True,
    ),
    TableSpec(
        "load_log",
        "One row per load: what was asked for, what was written, what failed",
        key=tuple(column.name for column in _LOAD_KEY),
        columns=(
            *_LOAD_KEY,
            Column("source", "VARCHAR", "Market data source"),
            Column("partition_end", "DATE", "Last date of the loaded window"),
            Column("started_at", "TIMESTAMP", "UTC time the load started"),
            Column("finished_at", "TIMESTAMP", "UTC time the load was written"),
            Column("tickers_requested", "INTEGER", "Tickers the load asked the source for"),
            Column("tickers_loaded", "INTEGER", "Distinct tickers in the written frames"),
            Column("tickers_failed", "INTEGER", "Distinct tickers the source failed on"),
            Column("failures", "JSON", "List of {ticker, reason}"),
            Column("rows_written", "BIGINT", "Rows inserted or changed"),
            Column("rows_inserted", "BIGINT", "Rows that were new"),
            Column("rows_changed", "BIGINT", "Stored rows whose values changed (late corrections)"),
            Column(
                "rows_unchanged", "BIGINT", "Rows re-fetched with identical values, not rewritten"
            ),
            Column(
                "rows_rejected",
                "BIGINT",
                "Re-delivered bars that failed the integrity rules "
                "and were not written over a stored good bar (raw.rejected_corrections)",
            ),
        ),
        has_lineage=False,
    ),
    TableSpec(
        "load_failures",
        "One row per ticker a load failed on",
        key=(*(column.name for column in _LOAD_KEY), "ticker"),
        columns=(
            *_LOAD_KEY,
            Column("ticker", "VARCHAR", "Ticker that failed"),
            Column("reason", "VARCHAR", "Why it failed"),
            Column("logged_at", "TIMESTAMP", "UTC time the load was written"),
        ),
        has_lineage=False,
    ),
    TableSpec(
        "rejected_corrections",
        "One row per re-delivered bar a load did not write: its values fail the integrity rules "
        "(docs/QUALITY.md) while the stored bar's pass, so the stored bar is kept",
        key=(*(column.name for column in _LOAD_KEY), "table_name", "ticker", "trade_date"),
        columns=(
            *_LOAD_KEY,
            Column(
                "table_name", "VARCHAR", "Raw table of the bar: raw.daily_prices or raw.fx_rates"
            ),
            _TICKER,
            Column("trade_date", "DATE", "Date of the bar (rate_date for raw.fx_rates)"),
            Column(
                "reason",
                "VARCHAR",
                "The integrity rules the delivered bar breaks, with its "
                "values, e.g. 'non_positive_price: ... close -118.65 ...'",
            ),
            Column("rejected", "JSON", "The delivered values, not written"),
            Column("kept", "JSON", "The stored values, kept"),
            Column("logged_at", "TIMESTAMP", "UTC time the load was written"),
        ),
        has_lineage=False,
    ),
)

RAW_TABLES: Mapping[str, TableSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def table_spec(table: str) -> TableSpec:
    """The spec of a raw table, named with or without its ``raw.`` schema."""
    name = table.removeprefix(f"{RAW_SCHEMA}.")
    if name not in RAW_TABLES:
        raise ValueError(f"unknown raw table {table!r}; known: {', '.join(RAW_TABLES)}")
    return RAW_TABLES[name]
