"""Whether the raw price tables are up to date: the latest completed session of each exchange
loaded (from exchange_calendars, so in Python), and which tickers the source could not deliver.
Stale closes and missing sessions are dbt models (dbt_project/models/findings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from warehouse.calendars import latest_completed_session

# The date column of each raw price table.
_DATE_COLUMNS = {"raw.daily_prices": "trade_date", "raw.fx_rates": "rate_date"}

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
        behind = tuple(
            (ticker, last_loaded.get(ticker))
            for ticker in tickers
            if last_loaded.get(ticker) is None or last_loaded[ticker] < latest
        )
        results.append(
            ExchangeFreshness(exchange, latest, len(tickers), max(loaded, default=None), behind)
        )
    return results


def last_loaded(con: duckdb.DuckDBPyConnection, table_name: str) -> dict[str, date]:
    """Each ticker's latest bar in one raw price table."""
    date_column = _DATE_COLUMNS[table_name]
    rows = con.execute(
        f"select ticker, max({date_column}) from {table_name} group by ticker"
    ).fetchall()
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
