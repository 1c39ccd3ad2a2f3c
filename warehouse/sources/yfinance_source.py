"""Market data from Yahoo Finance through the yfinance library (1.x).

yfinance is imported only when the source is built without an injected module, so this module
imports offline and tests can hand in a fake with the same ``download`` and ``Ticker`` surface.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from types import ModuleType
from typing import Any, TypeVar

import pandas as pd

from warehouse.sources.base import (
    FetchResult,
    NoDataError,
    PriceBatch,
    SourceError,
    SourceUnavailableError,
    TickerFailure,
    check_failure_budget,
)
from warehouse.sources.normalize import (
    UnusableResponse,
    fundamentals_frame,
    fundamentals_record,
    normalize_fx_download,
    normalize_price_download,
    quarterly_rows,
    share_count_rows,
)
from warehouse.sources.schema import conform, empty_frame
from warehouse.universe import Security

log = logging.getLogger(__name__)

T = TypeVar("T")
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class YFinanceConfig:
    chunk_size: int = 50
    max_retries: int = 5
    backoff_base_seconds: float = 2.0
    timeout_seconds: float = 30.0
    max_failed_share: float = 0.2

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {self.chunk_size}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must not be negative, got {self.max_retries}")
        if not 0.0 <= self.max_failed_share <= 1.0:
            raise ValueError(f"max_failed_share must be within [0, 1], got {self.max_failed_share}")


class YFinanceSource:
    """Batched price/FX downloads and per-ticker company facts, with retries and backoff.

    Prices and FX fail as a whole (SourceUnavailableError) when more than ``max_failed_share`` of
    the tickers return nothing; company facts only record per-ticker failures, because Yahoo lacks
    them for many listings. Any call still failing after ``max_retries`` retries is a
    SourceUnavailableError; a window starting after today is a NoDataError, at once."""

    name = "yfinance"

    def __init__(
        self,
        config: YFinanceConfig | None = None,
        *,
        yf_module: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.config = config or YFinanceConfig()
        self._yf = yf_module if yf_module is not None else _import_yfinance()
        self._sleep = sleep
        self._jitter = jitter
        self._today = today
        # Network errors of requests and curl_cffi (yfinance's HTTP backends) derive from OSError,
        # as do the builtin TimeoutError and ConnectionError.
        self._transient_errors: tuple[type[BaseException], ...] = (
            self._yf.exceptions.YFRateLimitError,
            OSError,
        )

    def fetch_prices(self, securities: Sequence[Security], start: date, end: date) -> PriceBatch:
        _check_not_future(start, self._today())
        chunks = self._chunks(securities)
        batches = [
            normalize_price_download(self._download(chunk, start, end), chunk, start, end)
            for chunk in chunks
        ]
        failures = [failure for batch in batches for failure in batch.failures]
        check_failure_budget(
            sum(map(len, chunks)),
            failures,
            self.config.max_failed_share,
            # download() reports throttled tickers as empty, so mass gaps are usually throttling
            error=SourceUnavailableError,
        )
        return PriceBatch(
            _concat([batch.prices for batch in batches], "daily_prices"),
            _concat([batch.actions for batch in batches], "corporate_actions"),
            failures,
        )

    def fetch_fx(self, pairs: Sequence[Security], start: date, end: date) -> FetchResult:
        _check_not_future(start, self._today())
        chunks = self._chunks(pairs)
        results = [
            normalize_fx_download(self._download(chunk, start, end), chunk, start, end)
            for chunk in chunks
        ]
        failures = [failure for result in results for failure in result.failures]
        check_failure_budget(
            sum(map(len, chunks)),
            failures,
            self.config.max_failed_share,
            # download() reports throttled tickers as empty, so mass gaps are usually throttling
            error=SourceUnavailableError,
        )
        return FetchResult(_concat([result.frame for result in results], "fx_rates"), failures)

    def fetch_fundamentals(self, securities: Sequence[Security], as_of: date) -> FetchResult:
        records, failures = self._per_ticker(
            securities,
            "info",
            lambda ticker: self._yf.Ticker(ticker).info,
            lambda ticker, info: fundamentals_record(ticker, info, as_of),
        )
        return FetchResult(fundamentals_frame(records), failures)

    def fetch_quarterly_financials(self, securities: Sequence[Security]) -> FetchResult:
        frames, failures = self._per_ticker(
            securities,
            "quarterly income statement",
            lambda ticker: self._yf.Ticker(ticker).quarterly_income_stmt,
            quarterly_rows,
        )
        return FetchResult(_concat(frames, "quarterly_financials"), failures)

    def fetch_share_counts(
        self, securities: Sequence[Security], start: date, end: date
    ) -> FetchResult:
        frames, failures = self._per_ticker(
            securities,
            "share counts",
            lambda ticker: self._yf.Ticker(ticker).get_shares_full(start=start, end=end + ONE_DAY),
            lambda ticker, counts: share_count_rows(ticker, counts, start, end),
        )
        return FetchResult(_concat(frames, "shares_outstanding"), failures)

    def _chunks(self, securities: Sequence[Security]) -> list[list[Security]]:
        unique = list({security.ticker: security for security in securities}.values())
        size = self.config.chunk_size
        return [unique[offset : offset + size] for offset in range(0, len(unique), size)]

    def _download(self, chunk: Sequence[Security], start: date, end: date) -> object:
        tickers = [security.ticker for security in chunk]
        return self._with_retries(
            lambda: self._yf.download(
                tickers,
                start=start.isoformat(),
                # yfinance's end is exclusive; ours is inclusive.
                end=(end + ONE_DAY).isoformat(),
                auto_adjust=False,
                actions=True,
                group_by="column",
                # Each ticker keeps its exchange-local wall-clock dates instead of being converted
                # to the most common timezone of the batch.
                ignore_tz=True,
                threads=True,
                progress=False,
                timeout=self.config.timeout_seconds,
            ),
            f"download of {_describe(tickers)}",
            # download() logs per-ticker errors instead of raising them, rate limits included, so a
            # chunk where no ticker returned a single row is retried like a rate limit.
            retry_result=_has_no_rows,
        )

    def _per_ticker(
        self,
        securities: Sequence[Security],
        what: str,
        fetch: Callable[[str], object],
        normalize: Callable[[str, Any], T],
    ) -> tuple[list[T], list[TickerFailure]]:
        """Fetches and normalizes each ticker on its own: an empty or broken answer for one
        ticker is that ticker's failure, a call still failing after the retries is the source's."""
        results: list[T] = []
        failures: list[TickerFailure] = []
        for ticker in dict.fromkeys(security.ticker for security in securities):
            try:
                response = self._with_retries(partial(fetch, ticker), f"{what} of {ticker}")
            except SourceError:
                raise
            except Exception as error:
                # Beyond its own exceptions, yfinance lets KeyError/TypeError escape when Yahoo's
                # JSON for one symbol is odd: that symbol's failure, not the load's.
                failures.append(
                    TickerFailure(
                        ticker, f"yfinance {what} failed: {type(error).__name__}: {error}"
                    )
                )
                continue
            try:
                results.append(normalize(ticker, response))
            except UnusableResponse as error:
                failures.append(TickerFailure(ticker, str(error)))
        return results, failures

    def _with_retries(
        self,
        call: Callable[[], T],
        what: str,
        retry_result: Callable[[T], bool] = lambda _: False,
    ) -> T:
        """Runs ``call``, retrying rate limits and network errors with exponential backoff and
        jitter; raises SourceUnavailableError when the last retry fails too."""
        attempts = self.config.max_retries + 1
        for attempt in range(1, attempts):
            try:
                result = call()
            except self._transient_errors as error:
                self._back_off(attempt, what, _describe_error(error))
                continue
            if not retry_result(result):
                return result
            self._back_off(attempt, what, "no data for any ticker")
        try:
            return call()
        except self._transient_errors as error:
            raise SourceUnavailableError(
                f"yfinance {what} still failing after {attempts} attempts: {_describe_error(error)}"
            ) from error

    def _back_off(self, attempt: int, what: str, cause: str) -> None:
        # Doubling per attempt with up to +50% jitter keeps each delay longer than the last.
        delay = self.config.backoff_base_seconds * 2 ** (attempt - 1) * (1 + self._jitter() / 2)
        log.warning("yfinance %s: %s; retry %d in %.1f s", what, cause, attempt, delay)
        self._sleep(delay)


def _check_not_future(start: date, today: date) -> None:
    """Yahoo has no bars after today: a window starting later is answered at once, not after
    minutes of retrying empty downloads as if they were rate limits."""
    if start > today:
        raise NoDataError(
            f"no market data exists yet for a window starting {start} (today is {today}): "
            "choose dates up to today"
        )


def _import_yfinance() -> ModuleType:
    import yfinance

    return yfinance


def _describe(tickers: Sequence[str]) -> str:
    shown = ", ".join(tickers[:5])
    return f"{len(tickers)} tickers ({shown}{', ...' if len(tickers) > 5 else ''})"


def _describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _has_no_rows(response: object) -> bool:
    return isinstance(response, pd.DataFrame) and response.dropna(how="all").empty


def _concat(frames: Sequence[pd.DataFrame], table: str) -> pd.DataFrame:
    non_empty = [frame for frame in frames if not frame.empty]
    if not non_empty:
        return empty_frame(table)
    return conform(pd.concat(non_empty, ignore_index=True), table)
