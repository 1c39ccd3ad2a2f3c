"""Planning of a load: which securities a window should return, the nightly window, and the
history a window must bring along when a corporate action changed the price basis."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import duckdb
import pandas as pd

from warehouse.calendars import sessions
from warehouse.sources.base import MarketDataSource, PriceBatch, TickerFailure
from warehouse.universe import Security

_PRICE_COLUMNS = {"ticker", "adj_close"}
_ACTION_COLUMNS = {"ticker", "action_date", "action_type"}
# The stored bars of each ticker with a corporate action the window brings that is not stored yet,
# dated after the ticker's first stored bar: a split (close and adj_close are restated for it), or
# a dividend of a ticker whose bars carry an adj_close (restated for it).
_BASIS_CHANGES_SQL = """
with actions as (
    select distinct ticker, cast(action_date as date) as action_date, action_type
    from _window_actions
    where action_type = 'split'
        or (action_type = 'dividend' and ticker in (select ticker from _adjusted_tickers))
),
new_actions as (
    select * from actions
    where not exists (
        select 1 from raw.corporate_actions as stored
        where stored.ticker = actions.ticker and stored.action_date = actions.action_date
            and stored.action_type = actions.action_type
    )
),
stored_bars as (
    select ticker, min(trade_date) as first_bar, max(trade_date) as last_bar
    from raw.daily_prices
    where ticker in (select ticker from new_actions)
    group by ticker
)
select stored_bars.ticker, stored_bars.first_bar, stored_bars.last_bar,
       string_agg(new_actions.action_type || ' on ' || new_actions.action_date, ', '
                  order by new_actions.action_date) as actions
from stored_bars
join new_actions on new_actions.ticker = stored_bars.ticker
    and new_actions.action_date > stored_bars.first_bar
group by all
order by stored_bars.ticker
"""


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


def with_restated_history(
    con: duckdb.DuckDBPyConnection,
    source: MarketDataSource,
    securities: Sequence[Security],
    batch: PriceBatch,
    window_end: date,
) -> PriceBatch:
    """The window's batch, plus the whole stored history of every ticker whose price basis a new
    corporate action in it changed, re-fetched in the same download.

    Yahoo restates a ticker's closes (and adj_closes) for a split, and its adj_closes for a
    dividend, but only in what is downloaded after it: the five sessions a nightly run reloads come
    on the new basis, the stored history stays on the old one, and the action's day shows a -75%
    return for a 4-for-1 split. So the history is fetched again, from the ticker's first stored bar
    to its last (or the window's end), and replaces the window's rows and actions of that ticker:
    prices, dividends and splits are then on one basis. A ticker whose history cannot be fetched
    is left out of the load (a failure with the reason), the action included, so the next run
    tries again instead of storing two bases."""
    if not (
        _PRICE_COLUMNS.issubset(batch.prices.columns)
        and _ACTION_COLUMNS.issubset(batch.actions.columns)
    ):
        return batch  # a malformed frame: the write refuses it, naming what it lacks
    adjusted = batch.prices.loc[batch.prices["adj_close"].notna(), ["ticker"]].drop_duplicates()
    con.register("_window_actions", batch.actions)
    con.register("_adjusted_tickers", adjusted)
    try:
        changed = con.execute(_BASIS_CHANGES_SQL).df()
    finally:
        con.unregister("_window_actions")
        con.unregister("_adjusted_tickers")
    if changed.empty:
        return batch
    replaced = set(changed["ticker"])
    history = source.fetch_prices(
        [security for security in securities if security.ticker in replaced],
        changed["first_bar"].min().date(),
        max(changed["last_bar"].max().date(), window_end),
    )
    missing = replaced - set(history.prices["ticker"])
    reasons = {failure.ticker: failure.reason for failure in history.failures}
    failures = [
        TickerFailure(
            row.ticker,
            f"{row.actions} changed its price basis and its history could "
            f"not be fetched again ({reasons.get(row.ticker, 'no rows')}): not loaded, "
            "the next run tries again",
        )
        for row in changed.itertuples()
        if row.ticker in missing
    ]
    return PriceBatch(
        pd.concat(
            [
                batch.prices[~batch.prices["ticker"].isin(replaced)],
                history.prices[~history.prices["ticker"].isin(missing)],
            ],
            ignore_index=True,
        ),
        pd.concat(
            [
                batch.actions[~batch.actions["ticker"].isin(replaced)],
                history.actions[~history.actions["ticker"].isin(missing)],
            ],
            ignore_index=True,
        ),
        [*batch.failures, *failures],
    )
