"""Raw bars whose values are impossible: found set-based, quarantined so they never reach the
marts, and judged a bad tick (reported) or a broken load (the refresh must stop).

Currency bars are the exception to the range rules. Yahoo's FX bars now and then carry an open and
a close just outside the day's [low, high] (53 of the snapshot's 1,296, by at most 0.05%): the close
is the quote the warehouse uses as the day's reference rate, the high and low are the stale part.
Such bars are kept and recorded as ``fx_range_quirk`` findings; every other rule applies to them as
to any bar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pandas as pd

from warehouse.quality.bar_rules import (
    OHLC,
    SPIKE_NEIGHBOUR_DAYS,
    bar_problems,
    is_spike,
    outside_range,
    spike_detail,
)
from warehouse.quality.rules import Check, Classification, IntegrityRules, QuarantineReason
from warehouse.quality.sql import (
    FX_TABLE,
    LOADED_BY,
    bars_between,
    load_window,
    query,
)
from warehouse.quality.tables import (
    QUARANTINED_PRICES,
    RecordStats,
    ensure_quality_tables,
    record_findings,
)
from warehouse.storage import transaction

DEFAULT_RULES = IntegrityRules()
_BARS_SINCE = bars_between("$since", "date '9999-12-31'")
_NEIGHBOURS = bars_between(f"cast($since as date) - {SPIKE_NEIGHBOUR_DAYS}",
                           "date '9999-12-31'")

# Every rule judges one bar, or the bars of one date (duplicate_key), or one bar against its two
# neighbours (suspect_spike), so the bars of the run's window ($since on), and for the spikes a
# few weeks before it, are all the quarantine needs: bars outside it are those earlier runs judged.
QUARANTINE_SQL = f"""
with bars as ({_BARS_SINCE}),
with_copies as (
    -- raw's primary key makes exact duplicates impossible, so a duplicated key shows up as the
    -- same security spelt twice ('NVDA' and 'nvda ', say) on one date
    select *, count(*) over (partition by table_name, upper(trim(ticker)), trade_date) as copies
    from bars
),
priced as (
    select table_name, ticker, trade_date, coalesce(adj_close, close) as price
    from ({_NEIGHBOURS})
    where coalesce(adj_close, close) > 0
),
with_neighbours as (
    select bar.*, before.trade_date as previous_date, before.price as previous_price,
           after.trade_date as next_date, after.price as next_price
    from priced as bar
    asof join priced as before
        on before.table_name = bar.table_name and before.ticker = bar.ticker
        and before.trade_date < bar.trade_date
    asof join priced as after
        on after.table_name = bar.table_name and after.ticker = bar.ticker
        and after.trade_date > bar.trade_date
    where bar.trade_date >= $since
        and bar.trade_date - before.trade_date <= {SPIKE_NEIGHBOUR_DAYS}
        and after.trade_date - bar.trade_date <= {SPIKE_NEIGHBOUR_DAYS}
),
-- a split on the bar's date or the next one moves an unadjusted close without reverting, but is
-- excluded anyway
spikes as (
    select *
    from with_neighbours as spike
    where {is_spike("price", "previous_price", "next_price")}
        and not exists (
            select 1 from raw.corporate_actions as actions
            where actions.ticker = spike.ticker and actions.action_type = 'split'
                and actions.action_date in (spike.trade_date, spike.next_date)
        )
),
problems as (
    select table_name, ticker, trade_date, reason, detail from ({bar_problems("with_copies")})
    union all
    -- the row spelt as the universe spells tickers is kept; every other spelling is quarantined
    select table_name, ticker, trade_date, '{QuarantineReason.DUPLICATE_KEY}',
           printf('%d rows for %s on this date', copies, upper(trim(ticker)))
    from with_copies where copies > 1 and ticker <> upper(trim(ticker))
    union all
    select table_name, ticker, trade_date, '{QuarantineReason.SUSPECT_SPIKE}',
           {spike_detail("price", "previous_price", "previous_date", "next_price", "next_date")}
    from spikes
)
select table_name, ticker, trade_date, reason, detail from problems
"""

FX_RANGE_QUIRKS_SQL = f"""
select
    ticker,
    trade_date,
    '{Check.FX_RANGE_QUIRK}' as check_name,
    '{Classification.SOURCE_QUIRK}' as classification,
    null::double as daily_return,
    {OHLC} || ': outside [low, high]; the close is kept as the reference rate, the high and low '
        || 'are stale' as reason
from ({_BARS_SINCE})
where table_name = '{FX_TABLE}'
    and ({outside_range("open")} or {outside_range("close")})
    -- a bar impossible for another reason is quarantined, not kept
    and high >= low and least(open, high, low, close) > 0
"""

# One raw table's load health, in the window the caller found (sql.load_window).
_LOAD_HEALTH_SQL = f"""
with quarantined_bars as (
    select table_name, ticker, trade_date,
           bool_or(reason = '{QuarantineReason.DUPLICATE_KEY}') as duplicated
    from {QUARANTINED_PRICES.qualified_name}
    where table_name = $table_name
    group by all
)
select
    (select count(*) from ({bars_between("$window_start", "$window_end")}) as bars
     where bars.table_name = $table_name) as bars,
    (select count(*) from quarantined_bars
     where trade_date between $window_start and $window_end) as quarantined_bars,
    (select count(*) from quarantined_bars where duplicated) as duplicated_keys
"""


@dataclass(frozen=True)
class LoadHealth:
    """How much of a raw table's latest load is quarantined."""

    table_name: str
    window_start: date
    window_end: date
    bars: int  # bars of the table dated in the latest load's window
    quarantined_bars: int  # of which quarantined
    duplicated_keys: int  # quarantined as duplicate_key, in any window: never a single bad tick

    @property
    def quarantined_share(self) -> float:
        return self.quarantined_bars / self.bars if self.bars else 0.0

    def is_systemic(self, rules: IntegrityRules) -> bool:
        """A broken load rather than a bad tick: the refresh must stop before the marts."""
        return self.duplicated_keys > 0 or self.quarantined_share > rules.max_quarantined_share


def quarantine(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    now: datetime,
    since: date = date.min,
    rules: IntegrityRules = DEFAULT_RULES,
) -> RecordStats:
    """Recomputes ``quality.quarantined_prices`` for the bars dated from ``since`` on (a run's
    window; the default, the whole history) in one transaction: impossible bars and one-day
    spikes are added, bars the source has since corrected are released. Earlier rows are kept as
    they are: no load touched their bars."""
    with transaction(con):
        ensure_quality_tables(con)
        return record_findings(con, QUARANTINED_PRICES, QUARANTINE_SQL,
                               {"since": since, "spike_factor": rules.spike_factor},
                               run_id=run_id, now=now, release_absent=True,
                               scope="trade_date >= $since")


def load_health(
    con: duckdb.DuckDBPyConnection, run_id: str | None = None
) -> Sequence[LoadHealth]:
    """Per raw price table, the quarantined share of the load a check judges (run ``run_id``'s,
    else the latest), from the stored quarantine."""
    health = []
    for table_name in sorted(LOADED_BY):
        window = load_window(con, table_name, run_id)
        parameters = {"table_name": table_name, "window_start": window[0],
                      "window_end": window[1]}
        (row,) = con.execute(_LOAD_HEALTH_SQL, parameters).fetchall()
        health.append(LoadHealth(table_name, *window, *row))
    return health


def fx_range_quirks_found(con: duckdb.DuckDBPyConnection, since: date = date.min) -> pd.DataFrame:
    """The FX bars kept despite an open or close outside [low, high], dated from ``since`` on."""
    return query(con, f"{FX_RANGE_QUIRKS_SQL} order by trade_date, ticker", {"since": since})
