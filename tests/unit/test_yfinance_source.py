"""YFinanceSource against a fake yfinance module: batching, retries, failures and budgets."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest
import yfinance
from yfinance.exceptions import YFRateLimitError

from orchestration.retries import is_transient
from warehouse.sources import (
    MarketDataSource,
    NoDataError,
    SnapshotSource,
    SourceDataError,
    SourceError,
    SourceUnavailableError,
    TickerFailure,
    YFinanceSource,
    make_source,
)
from warehouse.sources.yfinance_source import YFinanceConfig
from warehouse.universe import Security

FRIDAY, MONDAY = date(2025, 1, 24), date(2025, 1, 27)
FIELDS = ["Adj Close", "Close", "Dividends", "High", "Low", "Open", "Stock Splits", "Volume"]


def equity(ticker: str) -> Security:
    return Security(ticker, ticker, "equity", "XNYS", "USD", "^GSPC")


def download_response(
    tickers: list[str], dates: tuple[str, ...] = ("2025-01-24", "2025-01-27")
) -> pd.DataFrame:
    """yf.download(group_by='column') for daily bars: (field, ticker) columns, naive local dates."""
    columns = pd.MultiIndex.from_product([FIELDS, sorted(tickers)], names=["Price", "Ticker"])
    values = np.tile(np.arange(1.0, len(dates) + 1)[:, None] * 100, (1, len(columns)))
    frame = pd.DataFrame(
        values, index=pd.DatetimeIndex(pd.to_datetime(list(dates)), name="Date"), columns=columns
    )
    frame.loc[:, ["Dividends", "Stock Splits"]] = 0.0
    return frame


def with_failed(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """The same download where ``ticker`` came back all-NaN, as yfinance reports a failed symbol."""
    failed = frame.copy()
    failed.loc[:, failed.columns.get_level_values("Ticker") == ticker] = np.nan
    return failed


Response = object | BaseException | Callable[[list[str]], object]


class FakeTicker:
    def __init__(
        self, info: object = None, statement: object = None, shares: object = None
    ) -> None:
        self._info, self._statement, self._shares = info, statement, shares

    @property
    def info(self) -> object:
        return _answer(self._info, None)

    @property
    def quarterly_income_stmt(self) -> object:
        return _answer(self._statement, None)

    def get_shares_full(self, start: date, end: date) -> object:
        return _answer(self._shares, None)


class FakeYFinance:
    """The part of the yfinance module the source uses. Each download call consumes the next
    scripted response: an exception to raise, a callable of the tickers, or a value to return."""

    exceptions = yfinance.exceptions

    def __init__(
        self, downloads: list[Response] | None = None, tickers: dict[str, FakeTicker] | None = None
    ):
        self.downloads = list(downloads or [])
        self.tickers = tickers or {}
        self.download_calls: list[tuple[list[str], dict[str, object]]] = []

    def download(self, tickers: list[str], **kwargs: object) -> object:
        self.download_calls.append((list(tickers), kwargs))
        return _answer(self.downloads.pop(0), list(tickers))

    def Ticker(self, ticker: str) -> FakeTicker:  # noqa: N802 - yfinance's name
        return self.tickers[ticker]


def _answer(response: Response, tickers: list[str] | None) -> object:
    """Raises a scripted exception (one-shot when it sits in a list), or returns the response."""
    if isinstance(response, list) and response and isinstance(response[0], BaseException):
        raise response.pop(0)
    if isinstance(response, list) and len(response) == 1:
        return response[0]
    if isinstance(response, BaseException):
        raise response
    if callable(response) and tickers is not None:
        return response(tickers)
    return response


def source(
    fake: FakeYFinance, sleeps: list[float] | None = None, **config: object
) -> YFinanceSource:
    return YFinanceSource(
        YFinanceConfig(**{"backoff_base_seconds": 2.0, "max_retries": 3, **config}),
        yf_module=fake,
        sleep=(sleeps if sleeps is not None else []).append,
        jitter=lambda: 0.0,
    )


def test_prices_are_downloaded_in_chunks_with_yfinance_arguments() -> None:
    fake = FakeYFinance([download_response] * 3)
    securities = [equity(ticker) for ticker in ("AAA", "BBB", "CCC", "DDD", "EEE")]

    batch = source(fake, chunk_size=2, timeout_seconds=12.5).fetch_prices(
        securities, FRIDAY, MONDAY
    )

    assert [tickers for tickers, _ in fake.download_calls] == [
        ["AAA", "BBB"],
        ["CCC", "DDD"],
        ["EEE"],
    ]
    _, kwargs = fake.download_calls[0]
    assert kwargs == {
        "start": "2025-01-24",
        "end": "2025-01-28",  # yfinance's end is exclusive
        "auto_adjust": False,
        "actions": True,
        "group_by": "column",
        "ignore_tz": True,
        "threads": True,
        "progress": False,
        "timeout": 12.5,
    }
    assert len(batch.prices) == 10
    assert sorted(batch.prices["ticker"].unique()) == ["AAA", "BBB", "CCC", "DDD", "EEE"]
    assert batch.failures == []


def test_duplicate_securities_are_downloaded_once() -> None:
    fake = FakeYFinance([download_response])

    batch = source(fake).fetch_prices([equity("AAA"), equity("AAA")], FRIDAY, MONDAY)

    assert fake.download_calls[0][0] == ["AAA"]
    assert len(batch.prices) == 2


def test_rate_limit_is_retried_with_growing_delays_then_succeeds() -> None:
    fake = FakeYFinance([YFRateLimitError(), YFRateLimitError(), download_response])
    sleeps: list[float] = []

    batch = source(fake, sleeps).fetch_prices([equity("AAA")], FRIDAY, MONDAY)

    assert len(fake.download_calls) == 3
    assert sleeps == [2.0, 4.0]
    assert len(batch.prices) == 2


def test_jitter_never_makes_a_delay_shorter_than_the_previous_one() -> None:
    fake = FakeYFinance([TimeoutError("read timed out")] * 3 + [download_response])
    sleeps: list[float] = []
    jitters = iter([1.0, 0.0, 0.999])

    YFinanceSource(
        YFinanceConfig(max_retries=3, backoff_base_seconds=1.0),
        yf_module=fake,
        sleep=sleeps.append,
        jitter=lambda: next(jitters),
    ).fetch_prices([equity("AAA")], FRIDAY, MONDAY)

    assert sleeps == pytest.approx([1.5, 2.0, 4 * 1.4995])
    assert sleeps == sorted(sleeps)


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (YFRateLimitError(), "YFRateLimitError: Too Many Requests"),
        (TimeoutError("read timed out"), "TimeoutError: read timed out"),
        (ConnectionError("connection reset"), "ConnectionError: connection reset"),
    ],
)
def test_exhausted_retries_raise_source_error_naming_the_problem(
    error: BaseException, named: str
) -> None:
    fake = FakeYFinance([error] * 4)
    sleeps: list[float] = []

    with pytest.raises(
        SourceError,
        match=f"download of 1 tickers \\(AAA\\) still failing after 4 attempts: {named}",
    ):
        source(fake, sleeps).fetch_prices([equity("AAA")], FRIDAY, MONDAY)
    assert sleeps == [2.0, 4.0, 8.0]


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (None, "returned a NoneType, not a DataFrame"),
        (
            pd.DataFrame({"price": [1.0]}, index=pd.DatetimeIndex(["2025-01-27"])),
            "no 'Close' column",
        ),
    ],
)
def test_garbage_response_is_a_source_error_without_retries(response: object, message: str) -> None:
    fake = FakeYFinance([response])

    with pytest.raises(SourceError, match=message):
        source(fake).fetch_prices([equity("AAA"), equity("BBB")], FRIDAY, MONDAY)
    assert len(fake.download_calls) == 1


def test_partial_failure_under_budget_records_the_failure_and_loads_the_rest() -> None:
    fake = FakeYFinance([lambda tickers: with_failed(download_response(tickers), "DDD")])
    securities = [equity(ticker) for ticker in ("AAA", "BBB", "CCC", "DDD")]

    batch = source(fake, max_failed_share=0.25).fetch_prices(securities, FRIDAY, MONDAY)

    assert batch.failures == [TickerFailure("DDD", "no rows returned for 2025-01-24..2025-01-27")]
    assert sorted(batch.prices["ticker"].unique()) == ["AAA", "BBB", "CCC"]


def test_failures_over_budget_raise_source_error_listing_them() -> None:
    fake = FakeYFinance(
        [lambda tickers: with_failed(with_failed(download_response(tickers), "CCC"), "DDD")]
    )
    securities = [equity(ticker) for ticker in ("AAA", "BBB", "CCC", "DDD")]

    with pytest.raises(
        SourceError,
        match=r"2 of 4 tickers failed, more than the allowed 25%: "
        r"CCC: no rows returned .*; DDD: no rows",
    ):
        source(fake, max_failed_share=0.25).fetch_prices(securities, FRIDAY, MONDAY)


def test_a_download_with_no_rows_at_all_is_retried_like_a_swallowed_rate_limit() -> None:
    # yf.download catches per-ticker rate limits and hands back all-NaN columns instead.
    fake = FakeYFinance(
        [lambda tickers: with_failed(download_response(tickers), "AAA"), download_response]
    )
    sleeps: list[float] = []

    batch = source(fake, sleeps).fetch_prices([equity("AAA")], FRIDAY, MONDAY)

    assert sleeps == [2.0]
    assert len(batch.prices) == 2 and batch.failures == []


def test_a_persistently_empty_download_ends_as_ticker_failures() -> None:
    fake = FakeYFinance([lambda tickers: with_failed(download_response(tickers), "GONE")] * 4)

    batch = source(fake, max_failed_share=1.0).fetch_prices([equity("GONE")], FRIDAY, MONDAY)

    assert len(fake.download_calls) == 4
    assert batch.failures == [TickerFailure("GONE", "no rows returned for 2025-01-24..2025-01-27")]
    assert batch.prices.empty


def test_fx_pairs_get_their_quote_currencies() -> None:
    fake = FakeYFinance([download_response])
    pairs = [
        Security("JPY=X", "USD in JPY", "fx", "FX", "JPY", None),
        Security("EURUSD=X", "EUR in USD", "fx", "FX", "EUR", None),
    ]

    result = source(fake).fetch_fx(pairs, FRIDAY, MONDAY)

    currencies = result.frame.drop_duplicates("ticker").set_index("ticker")[
        ["base_currency", "quote_currency"]
    ]
    assert currencies.to_dict("index") == {
        "EURUSD=X": {"base_currency": "EUR", "quote_currency": "USD"},
        "JPY=X": {"base_currency": "USD", "quote_currency": "JPY"},
    }


def test_fundamentals_retry_per_ticker_and_record_unusable_answers() -> None:
    fake = FakeYFinance(
        tickers={
            "AAA": FakeTicker(
                info=[YFRateLimitError(), {"longName": "Aaa Inc.", "marketCap": 1e9}]
            ),
            "BBB": FakeTicker(info={}),
            "CCC": FakeTicker(info=KeyError("quoteSummary")),
        }
    )
    sleeps: list[float] = []

    result = source(fake, sleeps).fetch_fundamentals(
        [equity("AAA"), equity("BBB"), equity("CCC")], MONDAY
    )

    assert sleeps == [2.0]
    assert result.frame[["ticker", "name", "market_cap"]].to_dict("records") == [
        {"ticker": "AAA", "name": "Aaa Inc.", "market_cap": 1e9}
    ]
    assert result.frame["as_of_date"].tolist() == [pd.Timestamp(MONDAY)]
    assert [failure.ticker for failure in result.failures] == ["BBB", "CCC"]
    assert result.failures[0].reason.startswith("info has none of the fields")
    assert result.failures[1].reason == "yfinance info failed: KeyError: 'quoteSummary'"


def test_company_facts_do_not_enforce_the_price_failure_budget() -> None:
    fake = FakeYFinance(tickers={"AAA": FakeTicker(info={}), "BBB": FakeTicker(info=None)})

    result = source(fake, max_failed_share=0.0).fetch_fundamentals(
        [equity("AAA"), equity("BBB")], MONDAY
    )

    assert result.frame.empty and len(result.failures) == 2


def test_rate_limited_company_facts_raise_source_error_after_retries() -> None:
    fake = FakeYFinance(tickers={"AAA": FakeTicker(info=YFRateLimitError())})

    with pytest.raises(SourceError, match="info of AAA still failing after 4 attempts"):
        source(fake).fetch_fundamentals([equity("AAA")], MONDAY)


def test_quarterly_financials_and_share_counts() -> None:
    statement = pd.DataFrame(
        [[35_082e6], [19_309e6], [0.78]],
        index=["Total Revenue", "Net Income", "Diluted EPS"],
        columns=pd.to_datetime(["2024-10-31"]),
    )
    shares = pd.Series(
        [24.49e9, 24.40e9],
        index=pd.DatetimeIndex(["2024-11-15", "2025-02-21"]).tz_localize("America/New_York"),
    )
    fake = FakeYFinance(
        tickers={"NVDA": FakeTicker(statement=statement, shares=shares), "SPY": FakeTicker()}
    )
    yf_source = source(fake)

    quarterly = yf_source.fetch_quarterly_financials([equity("NVDA"), equity("SPY")])
    counts = yf_source.fetch_share_counts(
        [equity("NVDA"), equity("SPY")], date(2024, 1, 1), date(2024, 12, 31)
    )

    assert quarterly.frame[["ticker", "revenue", "diluted_eps"]].to_dict("records") == [
        {"ticker": "NVDA", "revenue": 35_082e6, "diluted_eps": 0.78}
    ]
    assert quarterly.failures == [TickerFailure("SPY", "no quarterly income statement")]
    assert counts.frame[["ticker", "shares_outstanding"]].to_dict("records") == [
        {"ticker": "NVDA", "shares_outstanding": 24.49e9}
    ]
    assert counts.failures == [
        TickerFailure("SPY", "no share counts returned for 2024-01-01..2024-12-31")
    ]


def test_make_source_builds_each_kind() -> None:
    fake = FakeYFinance()

    yf_source = make_source("yfinance", chunk_size=7, max_failed_share=0.1, yf_module=fake)

    assert isinstance(yf_source, YFinanceSource) and isinstance(yf_source, MarketDataSource)
    assert yf_source.config == YFinanceConfig(chunk_size=7, max_failed_share=0.1)
    assert isinstance(make_source("snapshot"), SnapshotSource)
    with pytest.raises(
        ValueError, match="unknown market data source 'bloomberg'; choose one of yfinance, snapshot"
    ):
        make_source("bloomberg")


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        YFinanceConfig(chunk_size=0)
    with pytest.raises(ValueError, match="max_failed_share"):
        YFinanceConfig(max_failed_share=1.5)


def test_the_sources_import_without_yfinance() -> None:
    code = (
        "import sys, warehouse.sources; assert 'yfinance' not in sys.modules, 'yfinance imported'"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )

    assert completed.returncode == 0, completed.stderr


def test_a_window_after_today_is_no_data_at_once_not_retried() -> None:
    fake = FakeYFinance([])
    sleeps: list[float] = []
    yahoo = YFinanceSource(
        YFinanceConfig(max_retries=5), yf_module=fake, sleep=sleeps.append, today=lambda: MONDAY
    )

    for fetch in (yahoo.fetch_prices, yahoo.fetch_fx):
        with pytest.raises(NoDataError, match="window starting 2025-01-28 .*today is 2025-01-27"):
            fetch([equity("AAA")], date(2025, 1, 28), date(2025, 2, 3))

    assert fake.download_calls == [] and sleeps == []
    assert not is_transient(NoDataError("no data"))


def test_errors_say_whether_a_retry_can_help() -> None:
    """Exhausted retries and over-budget gaps are transient (Yahoo throttles by returning empty
    frames); a response that makes no sense is bad data."""
    exhausted = FakeYFinance([YFRateLimitError()] * 4)
    with pytest.raises(SourceUnavailableError) as raised:
        source(exhausted).fetch_prices([equity("AAA")], FRIDAY, MONDAY)
    assert is_transient(raised.value)

    over_budget = FakeYFinance([lambda tickers: with_failed(download_response(tickers), "BBB")])
    with pytest.raises(SourceUnavailableError):
        source(over_budget, max_failed_share=0.0).fetch_prices(
            [equity("AAA"), equity("BBB")], FRIDAY, MONDAY
        )

    garbage = FakeYFinance(["<html>"])
    with pytest.raises(SourceDataError) as raised:
        source(garbage).fetch_prices([equity("AAA")], FRIDAY, MONDAY)
    assert not is_transient(raised.value)
