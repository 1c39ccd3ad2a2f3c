"""Exchange trading sessions from ``exchange_calendars``, plus ``FX`` for 24x5 currency quotes.

Session dates are exchange-local trading dates, like every date of the raw layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars
import pandas as pd

FX_EXCHANGE = "FX"
# Yahoo stamps its daily currency bars at midnight London time, one bar per London weekday.
FX_TIMEZONE = "Europe/London"
# exchange_calendars builds only ~20 years back unless told otherwise; every calendar is built from
# here (or from its own first supported date, e.g. 1997 for Tokyo) so long backfills work.
EARLIEST_CALENDAR_DATE = date(1990, 1, 1)
CORE_EXCHANGES = ("XNYS", "XNAS", "XTKS", "XETR", FX_EXCHANGE)
# Sessions are looked for this far back from a given moment; longer than any market closure.
LOOKBACK = timedelta(days=30)


class CalendarRangeError(ValueError):
    """A date range the exchange's calendar does not cover."""


@cache
def known_exchanges() -> frozenset[str]:
    """Every exchange_calendars code (aliases such as XNAS included) plus FX."""
    return frozenset(exchange_calendars.get_calendar_names(include_aliases=True)) | {FX_EXCHANGE}


@cache
def _calendar(exchange: str) -> exchange_calendars.ExchangeCalendar:
    if exchange not in known_exchanges():
        raise ValueError(
            f"unknown exchange {exchange!r}; use an exchange_calendars code or {FX_EXCHANGE}"
        )
    bound_min = exchange_calendars.get_calendar(exchange).bound_min()
    start = (
        EARLIEST_CALENDAR_DATE
        if bound_min is None
        else max(EARLIEST_CALENDAR_DATE, bound_min.date())
    )
    return exchange_calendars.get_calendar(exchange, start=start)


def exchange_timezone(exchange: str) -> ZoneInfo:
    """The timezone whose local date is the exchange's trading date."""
    if exchange == FX_EXCHANGE:
        return ZoneInfo(FX_TIMEZONE)
    return ZoneInfo(str(_calendar(exchange).tz))


def sessions(exchange: str, start: date, end: date) -> list[date]:
    """The exchange's trading sessions in [start, end], both inclusive."""
    return [timestamp.date() for timestamp in _session_index(exchange, start, end)]


def sessions_frame(exchanges: Iterable[str], start: date, end: date) -> pd.DataFrame:
    """The rows of ``raw.exchange_sessions``: exchange (str) and session_date (datetime64[us] at
    midnight)."""
    frames = [
        pd.DataFrame({"exchange": exchange, "session_date": _session_index(exchange, start, end)})
        for exchange in sorted(set(exchanges))
    ]
    if not frames:
        return pd.DataFrame(
            {"exchange": pd.Series(dtype="str"), "session_date": pd.Series(dtype="datetime64[us]")}
        )
    frame = pd.concat(frames, ignore_index=True)
    return frame.astype({"exchange": "str", "session_date": "datetime64[us]"})


def latest_completed_session(exchange: str, now: datetime) -> date:
    """The last session whose close (in the exchange's own timezone, early closes included) is at or
    before ``now``. FX: the last weekday whose London day has ended."""
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    local_today = now.astimezone(exchange_timezone(exchange)).date()
    candidates = _session_index(exchange, local_today - LOOKBACK, local_today)
    if exchange == FX_EXCHANGE:
        completed = candidates[candidates.date < local_today]
    else:
        closes = _calendar(exchange).closes.reindex(candidates)
        completed = candidates[(closes <= pd.Timestamp(now)).to_numpy()]
    if completed.empty:
        raise ValueError(
            f"{exchange} has no completed session in the {LOOKBACK.days} days "
            f"before {now.isoformat()}"
        )
    return completed[-1].date()


def exchanges_trading_on(day: date, exchanges: Iterable[str] = CORE_EXCHANGES) -> set[str]:
    """Which of ``exchanges`` hold a session on ``day``."""
    return {exchange for exchange in exchanges if len(_session_index(exchange, day, day)) > 0}


def _session_index(exchange: str, start: date, end: date) -> pd.DatetimeIndex:
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if exchange == FX_EXCHANGE:
        return pd.bdate_range(start, end).as_unit("us")
    calendar = _calendar(exchange)
    first, last = calendar.first_session.date(), calendar.last_session.date()
    if start < first or end > last:
        raise CalendarRangeError(
            f"{exchange} sessions are known from {first} to {last}; "
            f"{start}..{end} is outside that range"
        )
    return calendar.sessions_in_range(start, end).as_unit("us")
