"""The rules that find an impossible bar from its own values, written once: the quarantine applies
them to the stored bars, the raw writes to a re-delivered bar before it may replace a stored one.

This module imports no storage code, so ``warehouse.storage`` can use it without a cycle."""

from __future__ import annotations

from warehouse.quality.rules import QuarantineReason
from warehouse.quality.sql import PRICES_TABLE

_OUTSIDE_RANGE = "({price} > high or {price} < low)"


def shown(*prices: str) -> str:
    """SQL text showing prices to eight significant digits, e.g. 'open 142.62, high null'."""
    parts = [f"'{price} ' || coalesce(printf('%.8g', {price}), 'null')" for price in prices]
    return " || ', ' || ".join(parts)


OHLC = shown("open", "high", "low", "close")

# (reason, condition on one bar, SQL text of its evidence). A bar has the columns of
# sql.bars_between: table_name, ticker, trade_date, open, high, low, close, adj_close, volume.
# Currency bars are exempt from the range rules (Yahoo's FX quirk, see integrity.py).
BAR_RULES: tuple[tuple[QuarantineReason, str, str], ...] = (
    (QuarantineReason.MISSING_CLOSE, "close is null", "'close is null'"),
    (QuarantineReason.NON_POSITIVE_PRICE, "least(open, high, low, close, adj_close) <= 0",
     shown("open", "high", "low", "close", "adj_close")),
    (QuarantineReason.HIGH_BELOW_LOW, "high < low", OHLC),
    (QuarantineReason.OPEN_OUTSIDE_RANGE,
     f"table_name = '{PRICES_TABLE}' and {_OUTSIDE_RANGE.format(price='open')}", OHLC),
    (QuarantineReason.CLOSE_OUTSIDE_RANGE,
     f"table_name = '{PRICES_TABLE}' and {_OUTSIDE_RANGE.format(price='close')}", OHLC),
    (QuarantineReason.NEGATIVE_VOLUME, "volume < 0", "'volume ' || volume"),
)


def outside_range(price: str) -> str:
    return _OUTSIDE_RANGE.format(price=price)


def bar_problems(bars: str) -> str:
    """A SELECT of every column of ``bars`` (a relation or a parenthesised query) plus ``reason``
    and ``detail``, one row per bar and rule it breaks."""
    return "\nunion all\n".join(
        f"select *, '{reason}' as reason, {detail} as detail from {bars} where {condition}"
        for reason, condition, detail in BAR_RULES
    )
