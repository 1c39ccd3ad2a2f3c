"""Pure translation of yfinance 1.x responses into raw-table frames (see ``schema``).

Nothing here talks to the network, so every yfinance shape can be tested with hand-built frames.
Whole responses that make no sense raise ``SourceDataError``; a per-ticker response that carries
no usable data raises ``UnusableResponse``, which the source records as that ticker's failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from warehouse.calendars import exchange_timezone
from warehouse.sources.base import FetchResult, PriceBatch, SourceDataError, TickerFailure
from warehouse.sources.schema import (
    COLUMNS,
    FLOAT,
    conform,
    tickers_without_rows,
    with_fx_currencies,
)
from warehouse.universe import Security

PRICE_FIELDS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
FX_FIELDS = {"Open": "open", "High": "high", "Low": "low", "Close": "close"}
# yfinance reports "no action" as 0 in these columns, and the split ratio as new/old shares.
ACTION_FIELDS = {"Dividends": "dividend", "Stock Splits": "split"}
BAR_FIELDS = frozenset(PRICE_FIELDS) | frozenset(ACTION_FIELDS) | {"Capital Gains"}

INFO_FIELDS = {
    "sector": "sector",
    "industry": "industry",
    "currency": "currency",
    "exchange": "exchange",
    "sharesOutstanding": "shares_outstanding",
    "marketCap": "market_cap",
    "trailingPE": "trailing_pe",
    "forwardPE": "forward_pe",
    "priceToBook": "price_to_book",
    "dividendYield": "dividend_yield",
    "beta": "beta",
}
INFO_NAME_KEYS = ("longName", "shortName")
# Ticker.quarterly_income_stmt uses the pretty labels; the raw ones are accepted as well.
STATEMENT_LINES = {
    "revenue": ("Total Revenue", "TotalRevenue"),
    "net_income": ("Net Income", "NetIncome"),
    "diluted_eps": ("Diluted EPS", "DilutedEPS"),
}


class UnusableResponse(ValueError):
    """One ticker's response holds nothing usable; the message is the failure reason."""


def normalize_price_download(
    raw: object, securities: Sequence[Security], start: date, end: date
) -> PriceBatch:
    """``yf.download(..., actions=True, auto_adjust=False)`` -> prices, corporate actions and a
    failure for each requested ticker without a single bar in [start, end]."""
    bars = _bars(raw, securities, start, end)
    prices = bars[bars["Close"].notna()].rename(columns={**PRICE_FIELDS, "date": "trade_date"})
    if "volume" in prices:
        prices["volume"] = _volume(prices, securities)
    prices = prices.drop_duplicates(["ticker", "trade_date"], keep="last")
    failures = _no_rows_failures(securities, prices, start, end)
    return PriceBatch(conform(prices, "daily_prices"), _actions(bars), failures)


def normalize_fx_download(
    raw: object, pairs: Sequence[Security], start: date, end: date
) -> FetchResult:
    """``yf.download`` of currency tickers -> ``raw.fx_rates`` rows, quoted as yfinance does."""
    bars = _bars(raw, pairs, start, end)
    rates = bars[bars["Close"].notna()].rename(columns={**FX_FIELDS, "date": "rate_date"})
    rates = with_fx_currencies(rates.drop_duplicates(["ticker", "rate_date"], keep="last"))
    failures = _no_rows_failures(pairs, rates, start, end)
    return FetchResult(conform(rates, "fx_rates"), failures)


def fundamentals_record(ticker: str, info: object, as_of: date) -> dict[str, object]:
    """One ``raw.fundamentals`` row from a ``Ticker.info`` dict; keys it lacks become nulls."""
    if not isinstance(info, Mapping):
        raise UnusableResponse(f"info is a {type(info).__name__}, not a dict")
    values = {column: info.get(key) for key, column in INFO_FIELDS.items()}
    values["name"] = next((info[key] for key in INFO_NAME_KEYS if info.get(key)), None)
    if all(value is None for value in values.values()):
        raise UnusableResponse(
            f"info has none of the fields {', '.join((*INFO_NAME_KEYS, *INFO_FIELDS))}"
        )
    return {"ticker": ticker, "as_of_date": as_of, **values}


def fundamentals_frame(records: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS["fundamentals"]))
    numeric = [column for column, dtype in COLUMNS["fundamentals"].items() if dtype == FLOAT]
    frame[numeric] = frame[numeric].apply(_finite_numbers)
    return conform(frame, "fundamentals")


def quarterly_rows(ticker: str, statement: object) -> pd.DataFrame:
    """``Ticker.quarterly_income_stmt`` (line items x period-end columns) -> quarterly rows."""
    if not isinstance(statement, pd.DataFrame) or statement.empty:
        raise UnusableResponse("no quarterly income statement")
    lines = {
        column: line
        for column, labels in STATEMENT_LINES.items()
        if (line := _statement_line(statement, labels)) is not None
    }
    if not lines:
        wanted = ", ".join(labels[0] for labels in STATEMENT_LINES.values())
        raise UnusableResponse(f"quarterly income statement has none of the lines {wanted}")
    quarters = pd.DataFrame(lines).dropna(how="all")
    if quarters.empty:
        raise UnusableResponse("quarterly income statement has no values")
    period_end = _naive_local_midnight(pd.DatetimeIndex(pd.to_datetime(quarters.index)))
    quarters = quarters.assign(ticker=ticker, period_end=period_end)
    return conform(quarters.drop_duplicates("period_end", keep="last"), "quarterly_financials")


def share_count_rows(ticker: str, counts: object, start: date, end: date) -> pd.DataFrame:
    """``Ticker.get_shares_full`` -> one row per local date in [start, end] (the last count that
    day: Yahoo repeats timestamps and reports several revisions a day)."""
    if not isinstance(counts, pd.Series) or counts.empty:
        raise UnusableResponse(f"no share counts returned for {start}..{end}")
    counts = counts.sort_index(kind="stable")
    rows = pd.DataFrame(
        {
            "ticker": ticker,
            "as_of_date": _naive_local_midnight(pd.DatetimeIndex(counts.index)),
            "shares_outstanding": _finite_numbers(pd.Series(counts.to_numpy())),
        }
    ).dropna(subset=["shares_outstanding"])
    rows = rows[_within(rows["as_of_date"], start, end)].drop_duplicates("as_of_date", keep="last")
    if rows.empty:
        raise UnusableResponse(f"no share counts returned for {start}..{end}")
    return conform(rows, "shares_outstanding")


def _statement_line(statement: pd.DataFrame, labels: Sequence[str]) -> pd.Series | None:
    """The first of ``labels`` the statement has, as numbers by period end."""
    for label in labels:
        if label in statement.index:
            return _finite_numbers(statement.loc[statement.index == label].iloc[0])
    return None


def _bars(raw: object, securities: Sequence[Security], start: date, end: date) -> pd.DataFrame:
    """Long bars: ticker, date (exchange-local) and yfinance's field columns; only requested
    tickers, only [start, end], without the all-NaN rows yfinance pads other tickers' days with."""
    long = _long_frame(raw, [security.ticker for security in securities])
    fields = [column for column in long.columns if column in BAR_FIELDS]
    long = long[long["ticker"].isin({security.ticker for security in securities})]
    long = long.dropna(how="all", subset=fields)
    long["date"] = _local_dates(long["timestamp"], long["ticker"], securities)
    long = long[_within(long["date"], start, end)]
    return long.drop(columns="timestamp").sort_values(["ticker", "date"], kind="stable")


def _long_frame(raw: object, tickers: Sequence[str]) -> pd.DataFrame:
    """One row per (ticker, timestamp) whatever the download's column layout: MultiIndex grouped by
    column (the default) or by ticker, or flat columns (one ticker, multi_level_index=False)."""
    if not isinstance(raw, pd.DataFrame):
        raise SourceDataError(f"yfinance download returned a {type(raw).__name__}, not a DataFrame")
    if raw.index.empty or raw.columns.empty:
        return pd.DataFrame(columns=["ticker", "timestamp", "Close"])
    if not isinstance(raw.index, pd.DatetimeIndex):
        raise SourceDataError(
            f"yfinance download has a {type(raw.index).__name__} index, not dates"
        )
    if isinstance(raw.columns, pd.MultiIndex):
        long = raw.stack(level=_ticker_level(raw.columns)).rename_axis(["timestamp", "ticker"])
    elif "Close" not in raw.columns:
        raise _no_close_column(raw.columns)
    elif len(tickers) == 1:
        long = (
            raw.rename_axis("timestamp").assign(ticker=tickers[0]).set_index("ticker", append=True)
        )
    else:
        raise SourceDataError(
            f"yfinance download has flat columns {list(raw.columns)} for {len(tickers)} tickers; "
            "cannot tell which ticker a column belongs to"
        )
    long = long.reset_index()
    long.columns.name = None
    return long


def _ticker_level(columns: pd.MultiIndex) -> int:
    """The level holding tickers: the other level holds the fields, found by its 'Close'."""
    if columns.nlevels == 2 and "Close" in columns.get_level_values(0):
        return 1
    if columns.nlevels == 2 and "Close" in columns.get_level_values(1):
        return 0
    raise _no_close_column(columns)


def _no_close_column(columns: pd.Index) -> SourceDataError:
    return SourceDataError(
        f"yfinance download has no 'Close' column; columns were {list(columns)[:10]}"
    )


def _local_dates(
    timestamps: pd.Series, tickers: pd.Series, securities: Sequence[Security]
) -> pd.Series:
    """Exchange-local trading dates. A tz-naive index already holds local wall times (yfinance's
    ignore_tz); a tz-aware one may be converted to another exchange's zone or UTC when exchanges
    are mixed, so each ticker's stamps are converted back to its own exchange's zone."""
    timestamps = pd.to_datetime(timestamps)
    if timestamps.dt.tz is None:
        return timestamps.dt.normalize().astype("datetime64[us]")
    zones = tickers.map({s.ticker: str(exchange_timezone(s.exchange)) for s in securities})
    dates = pd.Series(pd.NaT, index=timestamps.index, dtype="datetime64[us]")
    for zone in zones.unique():
        in_zone = zones == zone
        dates[in_zone] = timestamps[in_zone].dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
    return dates


def _naive_local_midnight(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Midnight of each stamp's own wall-clock date, without timezone."""
    local = index.tz_localize(None) if index.tz is not None else index
    return local.normalize().as_unit("us")


def _within(dates: pd.Series, start: date, end: date) -> pd.Series:
    return dates.between(pd.Timestamp(start), pd.Timestamp(end))


def _volume(prices: pd.DataFrame, securities: Sequence[Security]) -> pd.Series:
    """Whole shares as Int64. Yahoo reports 0 for indices that publish no volume: that is null."""
    volume = pd.to_numeric(prices["volume"], errors="coerce").round()
    indices = {security.ticker for security in securities if security.role == "index"}
    return volume.mask(prices["ticker"].isin(indices) & volume.eq(0)).astype("Int64")


def _actions(bars: pd.DataFrame) -> pd.DataFrame:
    present = [column for column in ACTION_FIELDS if column in bars.columns]
    actions = bars.melt(
        id_vars=["ticker", "date"], value_vars=present, var_name="action_type", value_name="value"
    )
    actions = actions[pd.to_numeric(actions["value"], errors="coerce") > 0]
    actions = actions.assign(action_type=actions["action_type"].map(ACTION_FIELDS))
    actions = actions.rename(columns={"date": "action_date"})
    actions = actions.drop_duplicates(["ticker", "action_date", "action_type"], keep="last")
    return conform(actions, "corporate_actions")


def _no_rows_failures(
    securities: Sequence[Security], frame: pd.DataFrame, start: date, end: date
) -> list[TickerFailure]:
    requested = [security.ticker for security in securities]
    return [
        TickerFailure(ticker, f"no rows returned for {start}..{end}")
        for ticker in tickers_without_rows(requested, frame)
    ]


def _finite_numbers(values: pd.Series) -> pd.Series:
    """Floats, with anything non-numeric or infinite (Yahoo sends 'Infinity' P/Es) as NaN."""
    numbers = pd.to_numeric(values, errors="coerce").astype(FLOAT)
    return numbers.where(np.isfinite(numbers))
