from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from warehouse.calendars import (
    CalendarRangeError,
    exchange_timezone,
    exchanges_trading_on,
    latest_completed_session,
    sessions,
    sessions_frame,
)


def test_nyse_closed_for_the_national_day_of_mourning() -> None:
    assert sessions("XNYS", date(2025, 1, 7), date(2025, 1, 10)) == [
        date(2025, 1, 7),
        date(2025, 1, 8),
        date(2025, 1, 10),
    ]


def test_tokyo_trades_monday_2025_01_27_but_not_on_coming_of_age_day() -> None:
    assert sessions("XTKS", date(2025, 1, 27), date(2025, 1, 27)) == [date(2025, 1, 27)]
    assert date(2025, 1, 13) not in sessions("XTKS", date(2025, 1, 10), date(2025, 1, 14))


def test_fx_trades_every_weekday_including_holidays() -> None:
    assert sessions("FX", date(2024, 12, 31), date(2025, 1, 6)) == [
        date(2024, 12, 31),
        date(2025, 1, 1),
        date(2025, 1, 2),
        date(2025, 1, 3),
        date(2025, 1, 6),
    ]


def test_twenty_years_of_history_are_available() -> None:
    nyse = sessions("XNYS", date(2004, 1, 1), date(2024, 12, 31))

    assert nyse[0] == date(2004, 1, 2)
    assert 5000 < len(nyse) < 5300


def test_dates_outside_the_calendar_raise_a_clear_error() -> None:
    with pytest.raises(CalendarRangeError, match=r"XTKS sessions are known from 1997-01-06"):
        sessions("XTKS", date(1995, 1, 1), date(2000, 1, 1))
    with pytest.raises(ValueError, match="unknown exchange 'XXXX'"):
        sessions("XXXX", date(2025, 1, 1), date(2025, 1, 2))


def test_sessions_frame_lists_each_exchange_sessions() -> None:
    frame = sessions_frame(["XNYS", "FX", "XNYS"], date(2025, 1, 8), date(2025, 1, 10))

    assert list(frame.columns) == ["exchange", "session_date"]
    assert str(frame["session_date"].dtype) == "datetime64[us]"
    assert frame.groupby("exchange")["session_date"].apply(
        lambda s: [d.date() for d in s]
    ).to_dict() == {
        "FX": [date(2025, 1, 8), date(2025, 1, 9), date(2025, 1, 10)],
        "XNYS": [date(2025, 1, 8), date(2025, 1, 10)],
    }


@pytest.mark.parametrize(
    ("exchange", "now_utc", "expected"),
    [
        # NYSE closes 16:00 New York = 21:00 UTC in January.
        ("XNYS", datetime(2025, 1, 27, 20, 59, tzinfo=UTC), date(2025, 1, 24)),
        ("XNYS", datetime(2025, 1, 27, 21, 0, tzinfo=UTC), date(2025, 1, 27)),
        # Tokyo closes 15:30 JST = 06:30 UTC.
        ("XTKS", datetime(2025, 1, 27, 6, 0, tzinfo=UTC), date(2025, 1, 24)),
        ("XTKS", datetime(2025, 1, 27, 7, 0, tzinfo=UTC), date(2025, 1, 27)),
        # Xetra closes 17:30 CET = 16:30 UTC.
        ("XETR", datetime(2025, 1, 27, 16, 29, tzinfo=UTC), date(2025, 1, 24)),
        ("XETR", datetime(2025, 1, 27, 16, 31, tzinfo=UTC), date(2025, 1, 27)),
        # Black Friday early close at 13:00 New York.
        ("XNYS", datetime(2024, 11, 29, 18, 30, tzinfo=UTC), date(2024, 11, 29)),
        # A London weekday completes at London midnight; weekends have no session.
        ("FX", datetime(2025, 1, 27, 23, 59, tzinfo=UTC), date(2025, 1, 24)),
        ("FX", datetime(2025, 1, 28, 0, 1, tzinfo=UTC), date(2025, 1, 27)),
    ],
)
def test_latest_completed_session_respects_each_close(
    exchange: str, now_utc: datetime, expected: date
) -> None:
    assert latest_completed_session(exchange, now_utc) == expected


def test_latest_completed_session_reads_the_clock_in_the_exchange_timezone() -> None:
    # 09:00 in New York on Tuesday is already after Tuesday's close in Tokyo.
    now = datetime(2025, 1, 28, 9, 0, tzinfo=ZoneInfo("America/New_York"))

    assert latest_completed_session("XTKS", now) == date(2025, 1, 28)
    assert latest_completed_session("XNYS", now) == date(2025, 1, 27)


def test_latest_completed_session_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        latest_completed_session("XNYS", datetime(2025, 1, 27, 22, 0))


def test_exchanges_trading_on_a_day() -> None:
    assert exchanges_trading_on(date(2025, 1, 9)) == {"XTKS", "XETR", "FX"}
    assert exchanges_trading_on(date(2025, 1, 13)) == {"XNYS", "XNAS", "XETR", "FX"}
    assert exchanges_trading_on(date(2025, 1, 25)) == set()
    assert exchanges_trading_on(date(2025, 1, 27), ["XTKS"]) == {"XTKS"}


def test_exchange_timezones() -> None:
    assert exchange_timezone("XTKS") == ZoneInfo("Asia/Tokyo")
    assert exchange_timezone("XETR") == ZoneInfo("Europe/Berlin")
    assert exchange_timezone("FX") == ZoneInfo("Europe/London")
