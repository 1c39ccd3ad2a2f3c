"""The interface every market-data source implements, and the failure vocabulary they share.

Frames hold exactly the raw tables' data columns (see ``schema.COLUMNS``): dates are naive
``datetime64[us]`` at midnight holding the exchange-local date, text is ``str``, numbers float64,
volume nullable ``Int64``. Date ranges are inclusive at both ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

from warehouse.universe import Security


class SourceError(RuntimeError):
    """The source as a whole cannot deliver. Raise one of the subclasses: they tell the
    orchestration whether a retry can help (see orchestration/retries.py)."""


class SourceUnavailableError(SourceError):
    """Transient: the source is unreachable, timing out or rate limiting, still after the source's
    own retries. Retrying the step later can succeed."""


class SourceDataError(SourceError):
    """Permanent: the source answered with data or files that cannot be used (a bad snapshot
    header, an unparsable file, an unusable response), or more tickers failed than the load
    tolerates. Retrying cannot fix it."""


class NoDataError(SourceError):
    """Permanent: the source has no data for the requested dates (a window in the future, or
    outside a replayed snapshot). Retrying cannot fix it."""


@dataclass(frozen=True)
class TickerFailure:
    ticker: str
    reason: str


@dataclass(frozen=True)
class PriceBatch:
    """``raw.daily_prices`` rows and the ``raw.corporate_actions`` seen in the same download."""

    prices: pd.DataFrame
    actions: pd.DataFrame
    failures: list[TickerFailure] = field(default_factory=list)


@dataclass(frozen=True)
class FetchResult:
    frame: pd.DataFrame
    failures: list[TickerFailure] = field(default_factory=list)


@runtime_checkable
class MarketDataSource(Protocol):
    name: str

    def fetch_prices(self, securities: Sequence[Security], start: date, end: date) -> PriceBatch:
        """Daily bars of the securities' exchange-local sessions in [start, end]."""
        ...

    def fetch_fx(self, pairs: Sequence[Security], start: date, end: date) -> FetchResult:
        """``raw.fx_rates`` rows of the currency pairs in [start, end]."""
        ...

    def fetch_fundamentals(self, securities: Sequence[Security], as_of: date) -> FetchResult:
        """``raw.fundamentals`` rows as known on ``as_of``."""
        ...

    def fetch_quarterly_financials(self, securities: Sequence[Security]) -> FetchResult:
        """``raw.quarterly_financials`` rows of every quarter the source has."""
        ...

    def fetch_share_counts(
        self, securities: Sequence[Security], start: date, end: date
    ) -> FetchResult:
        """``raw.shares_outstanding`` rows dated in [start, end]."""
        ...


def check_failure_budget(
    requested: int,
    failures: Sequence[TickerFailure],
    max_failed_share: float,
    *,
    error: type[SourceError] = SourceDataError,
) -> None:
    """Raises ``error``, listing every failed ticker and why, when more than ``max_failed_share``
    of the ``requested`` tickers failed. Permanent by default (a replay lacks those tickers);
    a live source passes SourceUnavailableError when its gaps are mostly throttling."""
    failed_tickers = {failure.ticker for failure in failures}
    if requested == 0 or len(failed_tickers) / requested <= max_failed_share:
        return
    details = "; ".join(f"{failure.ticker}: {failure.reason}" for failure in failures)
    raise error(
        f"{len(failed_tickers)} of {requested} tickers failed, more than the allowed "
        f"{max_failed_share:.0%}: {details}"
    )
