"""Pure planning of a load: which securities a window should return, and the nightly window."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from warehouse.calendars import sessions
from warehouse.universe import Security


def securities_trading_between(
    securities: Iterable[Security], start: date, end: date
) -> list[Security]:
    """The securities whose exchange had at least one session in [start, end]: a Tokyo holiday
    must not count SoftBank as a ticker the source failed to deliver."""
    open_exchanges = {
        exchange
        for exchange in {security.exchange for security in securities}
        if sessions(exchange, start, end)
    }
    return [security for security in securities if security.exchange in open_exchanges]


def trailing_weekdays(last_day: date, count: int) -> tuple[date, date]:
    """The window of the last ``count`` weekdays ending on ``last_day``: the nightly run re-fetches
    them so the source's late corrections land in the warehouse."""
    if count < 1:
        raise ValueError(f"the trailing window needs at least one day, got {count}")
    day = last_day
    remaining = count - 1 if last_day.weekday() < 5 else count
    while remaining > 0:
        day = date.fromordinal(day.toordinal() - 1)
        if day.weekday() < 5:
            remaining -= 1
    return day, last_day


def tickers(securities: Sequence[Security]) -> list[str]:
    return [security.ticker for security in securities]
