"""The rules that find an impossible bar from its own values, as the raw writes apply them to a
re-delivered bar before it may replace a stored one (``warehouse.storage.writes``). The quarantine
of the stored bars is the dbt model ``quality/quarantined_prices``, which applies the same rules in
dbt's SQL; tests/unit/test_quality_bar_rules_in_dbt.py holds the two equal on a crafted frame.

This module imports no storage code, so ``warehouse.storage`` can use it without a cycle."""

from __future__ import annotations

from warehouse.quality.rules import QuarantineReason

_OUTSIDE_RANGE = "({price} > high or {price} < low)"


def shown(*prices: str) -> str:
    """SQL text showing prices to eight significant digits, e.g. 'open 142.62, high null'."""
    parts = [f"'{price} ' || coalesce(printf('%.8g', {price}), 'null')" for price in prices]
    return " || ', ' || ".join(parts)


OHLC = shown("open", "high", "low", "close")

PRICES_TABLE = "raw.daily_prices"

# (reason, condition on one bar, SQL text of its evidence). A bar has the columns table_name,
# ticker, trade_date, open, high, low, close, adj_close, volume (FX bars: no adj_close, no volume).
# Currency bars are exempt from the range rules: Yahoo's FX open and close now and then lie just
# outside a stale [low, high], and the close is the rate the warehouse uses (docs/QUALITY.md).
BAR_RULES: tuple[tuple[QuarantineReason, str, str], ...] = (
    (QuarantineReason.MISSING_CLOSE, "close is null", "'close is null'"),
    (
        QuarantineReason.NON_POSITIVE_PRICE,
        "least(open, high, low, close, adj_close) <= 0",
        shown("open", "high", "low", "close", "adj_close"),
    ),
    (QuarantineReason.HIGH_BELOW_LOW, "high < low", OHLC),
    (
        QuarantineReason.OPEN_OUTSIDE_RANGE,
        f"table_name = '{PRICES_TABLE}' and {_OUTSIDE_RANGE.format(price='open')}",
        OHLC,
    ),
    (
        QuarantineReason.CLOSE_OUTSIDE_RANGE,
        f"table_name = '{PRICES_TABLE}' and {_OUTSIDE_RANGE.format(price='close')}",
        OHLC,
    ),
    (QuarantineReason.NEGATIVE_VOLUME, "volume < 0", "'volume ' || volume"),
)


# A spike is a one-day thing: neighbours further than this from the bar do not make one.
SPIKE_NEIGHBOUR_DAYS = 31


def is_spike(price: str, previous: str, following: str) -> str:
    """SQL: ``price`` is at least ``$spike_factor`` times above, or below, BOTH neighbouring
    prices: it jumped and came back the next session. No market does that; a decimal slip or a
    unit change does."""
    return (
        f"({price} >= $spike_factor * greatest({previous}, {following}) "
        f"or {price} * $spike_factor <= least({previous}, {following}))"
    )


def spike_detail(
    price: str, previous: str, previous_date: str, following: str, following_date: str
) -> str:
    """SQL text of a spike's evidence, e.g. 'price 15000 between 150 on 2025-01-22 and 150 on
    2025-01-24: 100.0x off both, a one-day spike'."""
    return (
        f"printf('price %.8g between %.8g on %s and %.8g on %s: %.1fx off both, a one-day "
        f"spike', {price}, {previous}, {previous_date}, {following}, {following_date}, "
        f"greatest(least({price} / {previous}, {price} / {following}), "
        f"least({previous} / {price}, {following} / {price})))"
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
