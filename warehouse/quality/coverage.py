"""Whether the raw price tables hold what they should: no stale closes, no missing sessions, the
latest completed sessions loaded, and which tickers the source could not deliver.

Sessions come from ``raw.exchange_sessions`` (FX: every weekday), so exchange holidays are never
mistaken for gaps or for a market that stood still."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from warehouse.calendars import latest_completed_session
from warehouse.quality.rules import Check, Classification, StalenessRules, sql_parameters
from warehouse.quality.sql import BARS, Window, bars_between, bind, query

# Every check below reads the bars from $bars_from on, not the whole history: a nightly run
# recomputes what its window can have changed (findings dated from $since on), and only looks back
# as far as that needs (see scan_parameters). With $since = $bars_from = 0001-01-01 it is the whole
# table, as a full build has it.
_BARS_SCANNED = bars_between("$bars_from", "date '9999-12-31'")

_STALE_RUN_SPANS = f"""
with bars as ({_BARS_SCANNED}),
sessions as (
    select exchange, session_date,
           row_number() over (partition by exchange order by session_date) as session_number
    from raw.exchange_sessions
),
first_scanned as (
    -- each exchange's first session in the scanned range: a run starting there may go on before it
    select exchange, min(session_number) as session_number
    from sessions
    where session_date >= $bars_from
    group by exchange
),
on_sessions as (
    select bars.table_name, bars.ticker, bars.trade_date, bars.close, securities.exchange,
           sessions.session_number
    from bars
    join raw.securities as securities using (ticker)
    join sessions
        on sessions.exchange = securities.exchange and sessions.session_date = bars.trade_date
),
marked as (
    select
        *,
        -- a run goes on while the close repeats on the exchange's very next session
        case when close = lag(close) over by_ticker
                  and session_number = lag(session_number) over by_ticker + 1
             then 0 else 1 end as starts_run
    from on_sessions
    window by_ticker as (partition by ticker order by trade_date)
),
numbered as (
    select *, sum(starts_run) over (partition by ticker order by trade_date) as run_number
    from marked
),
runs as (
    select
        table_name, ticker, any_value(exchange) as exchange, any_value(close) as close,
        min(trade_date) as first_date, max(trade_date) as last_date, count(*) as sessions,
        run_number, min(session_number) as first_session_number
    from numbered
    group by table_name, ticker, run_number
)
select
    runs.* exclude (run_number, first_session_number),
    -- the run may have begun before the scanned range: its first date and length are unknown
    runs.run_number = 1 and runs.first_session_number = first_scanned.session_number
        and $bars_from > date '0001-01-01' as may_start_earlier
from runs
left join first_scanned using (exchange)
-- the runs the window can have changed: those reaching into it
where runs.last_date >= $since
"""

_STALE_RUNS = f"""
select * exclude (may_start_earlier) from ({_STALE_RUN_SPANS}) where sessions >= $stale_sessions
"""

# A stale run is recorded under its first date, which stays put while the run grows night by night.
STALE_CLOSES_SQL = f"""
select
    ticker,
    first_date as trade_date,
    '{Check.STALE_CLOSE}' as check_name,
    '{Classification.SUSPECT_DATA}' as classification,
    null::double as daily_return,
    printf('close %.8g on %d consecutive %s sessions, %s..%s',
           close, sessions, exchange, first_date, last_date) as reason,
    table_name,
    last_date
from ({_STALE_RUNS})
"""

MISSING_SESSIONS_SQL = f"""
with bars as ({_BARS_SCANNED}),
first_bars as (
    -- each security's first bar, wherever it lies (the sessions before it are not missing): an
    -- aggregate of two columns, cheap next to reading every bar
    select table_name, ticker, min(trade_date) as first_date from ({BARS}) group by all
),
loaded as (
    -- a security without a scanned bar ended before $since: none of its sessions is in question
    select table_name, ticker, any_value(first_bars.first_date) as first_date,
           max(bars.trade_date) as last_date
    from bars
    join first_bars using (table_name, ticker)
    group by all
)
select
    loaded.ticker,
    sessions.session_date as trade_date,
    '{Check.MISSING_SESSION}' as check_name,
    '{Classification.MISSING_DATA}' as classification,
    null::double as daily_return,
    printf('no bar for this %s session (bars loaded %s..%s)',
           securities.exchange, loaded.first_date, loaded.last_date) as reason,
    loaded.table_name,
    sessions.session_date as last_date
from loaded
join raw.securities as securities using (ticker)
join raw.exchange_sessions as sessions
    on sessions.exchange = securities.exchange
    and sessions.session_date between loaded.first_date and loaded.last_date
    and sessions.session_date >= $since
where not exists (
    select 1 from bars where bars.ticker = loaded.ticker and bars.trade_date = sessions.session_date
)
"""

_LAST_LOADED_SQL = f"""
select ticker, max(trade_date) as last_date from ({BARS}) where table_name = $table_name group by 1
"""

_LATEST_LOAD_FAILURES_SQL = """
with latest as (
    select * from raw.load_log
    where list_contains(string_split(asset_key, '+'), $asset_key)
    qualify row_number() over (order by finished_at desc, partition_start desc) = 1
)
select
    latest.run_id, latest.finished_at, latest.partition_start, latest.partition_end,
    latest.tickers_requested, failures.ticker, failures.reason
from latest
left join raw.load_failures as failures using (run_id, asset_key, partition_start)
order by failures.ticker
"""


def stale_closes(
    con: duckdb.DuckDBPyConnection,
    rules: StalenessRules,
    table_name: str,
    window: Window,
) -> pd.DataFrame:
    """The runs of one raw table's unchanged closes that reach into ``window``."""
    parameters = {**sql_parameters(rules), **scan_parameters(con, window[0], rules)}
    return _in_window(con, STALE_CLOSES_SQL, parameters, table_name, window)


def missing_sessions(
    con: duckdb.DuckDBPyConnection, table_name: str, window: Window
) -> pd.DataFrame:
    """The sessions of one raw table's securities, between each one's first and last bar, that
    have no bar, dated in ``window``."""
    return _in_window(con, MISSING_SESSIONS_SQL, scan_parameters(con, window[0]), table_name,
                      window)


def scan_parameters(
    con: duckdb.DuckDBPyConnection, since: date, rules: StalenessRules | None = None
) -> dict[str, date]:
    """``$since`` and ``$bars_from`` of the staleness and missing-session SQL: the findings dated
    from ``since`` on, from the bars dated from ``$bars_from`` on. The scan starts a few weeks
    before ``since`` (more than a stale run of ``stale_sessions``) and goes back further only
    while a stale run reaching into the window begins at the scan's start, so the findings are
    those of the whole history at the cost of the days they need."""
    staleness = rules or StalenessRules()
    lookback = timedelta(days=2 * staleness.stale_sessions + 14)
    while True:
        bars_from = date.min if since - date.min <= lookback else since - lookback
        parameters = {"since": since, "bars_from": bars_from}
        if bars_from == date.min or not _may_start_earlier(con, parameters):
            return parameters
        lookback *= 8


_TRUNCATED_SQL = f"select count(*) from ({_STALE_RUN_SPANS}) where may_start_earlier"


def _may_start_earlier(con: duckdb.DuckDBPyConnection, parameters: Mapping[str, object]) -> bool:
    """Whether a stale run reaching into the window may begin before the scanned range."""
    (count,), = con.execute(_TRUNCATED_SQL, bind(_TRUNCATED_SQL, parameters)).fetchall()
    return bool(count)


def _in_window(
    con: duckdb.DuckDBPyConnection,
    findings_sql: str,
    parameters: Mapping[str, object],
    table_name: str,
    window: Window,
) -> pd.DataFrame:
    sql = (f"select * exclude (table_name, last_date) from ({findings_sql}) "
           "where table_name = $table_name and last_date >= $window_start "
           "and trade_date <= $window_end order by ticker, trade_date")
    return query(con, sql, {**parameters, "table_name": table_name,
                            "window_start": window[0], "window_end": window[1]})


@dataclass(frozen=True)
class ExchangeFreshness:
    exchange: str
    latest_completed_session: date
    securities: int
    loaded_through: date | None  # the latest bar of any of the exchange's securities
    # (ticker, its last bar) of the securities lacking the latest completed session
    tickers_behind: tuple[tuple[str, date | None], ...]

    @property
    def is_fresh(self) -> bool:
        return not self.tickers_behind


def freshness(
    exchanges: Mapping[str, str], last_loaded: Mapping[str, date], now: datetime
) -> Sequence[ExchangeFreshness]:
    """Per exchange, which securities (ticker -> exchange) lack the latest session completed at
    ``now``, given each ticker's last loaded bar."""
    by_exchange: dict[str, list[str]] = {}
    for ticker, exchange in sorted(exchanges.items()):
        by_exchange.setdefault(exchange, []).append(ticker)
    results = []
    for exchange, tickers in sorted(by_exchange.items()):
        latest = latest_completed_session(exchange, now)
        loaded = [last_loaded[ticker] for ticker in tickers if ticker in last_loaded]
        behind = tuple((ticker, last_loaded.get(ticker)) for ticker in tickers
                       if last_loaded.get(ticker) is None or last_loaded[ticker] < latest)
        results.append(
            ExchangeFreshness(exchange, latest, len(tickers), max(loaded, default=None), behind)
        )
    return results


def last_loaded(con: duckdb.DuckDBPyConnection, table_name: str) -> dict[str, date]:
    """Each ticker's latest bar in one raw price table."""
    rows = con.execute(_LAST_LOADED_SQL, {"table_name": table_name}).fetchall()
    return {ticker: last_date for ticker, last_date in rows}


@dataclass(frozen=True)
class LoadFailures:
    run_id: str
    finished_at: datetime
    window: tuple[date, date]
    tickers_requested: int
    failures: tuple[tuple[str, str], ...]  # (ticker, reason)


def latest_load_failures(con: duckdb.DuckDBPyConnection, asset_key: str) -> LoadFailures | None:
    """The tickers the source could not deliver in the latest load of an asset (a Dagster asset
    key such as ``raw/daily_prices``); None when no load of it is logged."""
    rows = con.execute(_LATEST_LOAD_FAILURES_SQL, {"asset_key": asset_key}).fetchall()
    if not rows:
        return None
    run_id, finished_at, start, end, requested = rows[0][:5]
    failures = tuple((ticker, reason) for *_, ticker, reason in rows if ticker is not None)
    return LoadFailures(run_id, finished_at, (start, end), requested, failures)
