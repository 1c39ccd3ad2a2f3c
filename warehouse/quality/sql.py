"""SQL shared by the checks: the raw bars of both price tables, the latest load's window, and the
binding of rule values to a statement's named parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

import duckdb
import pandas as pd

PRICES_TABLE = "raw.daily_prices"
FX_TABLE = "raw.fx_rates"
# The Dagster asset key each raw table is loaded by, as raw.load_log spells it.
LOADED_BY = {PRICES_TABLE: "raw/daily_prices", FX_TABLE: "raw/fx_rates"}

def bars_between(start: str, end: str) -> str:
    """Every raw bar, prices and currency quotes alike, under one set of column names so each rule
    is written once (FX bars have no adj_close and no volume), dated between two SQL expressions
    (parameters such as ``$window_start``). The dates are filtered in each branch, before any
    window function or join, so a nightly run reads days, not years."""
    return f"""
    select '{PRICES_TABLE}' as table_name, ticker, trade_date, open, high, low, close, adj_close,
           volume
    from {PRICES_TABLE}
    where trade_date between {start} and {end}
    union all
    select '{FX_TABLE}', ticker, rate_date, open, high, low, close, null, null
    from {FX_TABLE}
    where rate_date between {start} and {end}
"""


BARS = bars_between("date '0001-01-01'", "date '9999-12-31'")

# A run's window of trade dates, inclusive; WHOLE_HISTORY when nothing narrows it.
Window = tuple[date, date]
WHOLE_HISTORY: Window = (date.min, date.max)

# The trading window of each raw price table's load that a check judges: the load(s) of run $run_id
# when that run loaded the table (the nightly run judges what it brought), else the latest load (a
# check re-executed on its own). quality.price_anomalies keeps every earlier finding. A table no
# load has logged (a warehouse built by other means) is judged whole.
_TABLES_AND_KEYS = ", ".join(f"('{table}', '{key}')" for table, key in LOADED_BY.items())
LOAD_WINDOWS = f"""
    with tables as (
        select * from (values {_TABLES_AND_KEYS}) as t (table_name, asset_key)
    ),
    loads as (
        select tables.table_name, load_log.run_id, load_log.partition_start,
               load_log.partition_end, load_log.finished_at
        from tables
        join raw.load_log as load_log
            on list_contains(string_split(load_log.asset_key, '+'), tables.asset_key)
    ),
    this_run as (
        select table_name, min(partition_start) as partition_start,
               max(partition_end) as partition_end
        from loads
        where run_id = $run_id
        group by table_name
    ),
    latest_loads as (
        select table_name, partition_start, partition_end
        from loads
        where table_name not in (select table_name from this_run)
        qualify row_number() over (
            partition by table_name order by finished_at desc, partition_start desc
        ) = 1
    ),
    chosen as (
        select * from this_run
        union all
        select * from latest_loads
    )
    select
        tables.table_name,
        coalesce(chosen.partition_start, date '0001-01-01') as window_start,
        coalesce(chosen.partition_end, date '9999-12-31') as window_end
    from tables
    left join chosen using (table_name)
"""

# The span of the price and FX loads of run $run_id: what the quality assets recompute. Null
# bounds when the run loaded neither table.
_RUN_WINDOW = f"""
    select min(load_log.partition_start), max(load_log.partition_end)
    from raw.load_log as load_log
    where load_log.run_id = $run_id
        and len(list_intersect(string_split(load_log.asset_key, '+'),
                               [{", ".join(f"'{key}'" for key in LOADED_BY.values())}])) > 0
"""

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def bind(sql: str, values: Mapping[str, object]) -> dict[str, object]:
    """The values a statement names: DuckDB refuses parameters a statement does not use."""
    names = set(_PARAMETER.findall(sql))
    missing = names - set(values)
    if missing:
        raise ValueError(f"no value for the SQL parameter(s) {sorted(missing)}")
    return {name: values[name] for name in names}


def query(con: duckdb.DuckDBPyConnection, sql: str, values: Mapping[str, object]) -> pd.DataFrame:
    return con.execute(sql, bind(sql, values)).df()


def load_window(
    con: duckdb.DuckDBPyConnection, table_name: str, run_id: str | None = None
) -> Window:
    """The window a check on a raw price table judges: what run ``run_id`` loaded into it, else
    its latest load (everything when none is logged)."""
    (row,) = con.execute(
        f"select window_start, window_end from ({LOAD_WINDOWS}) where table_name = $table_name",
        {"table_name": table_name, "run_id": run_id},
    ).fetchall()
    return row[0], row[1]


def run_window(con: duckdb.DuckDBPyConnection, run_id: str | None) -> Window:
    """The trade dates the quality tables recompute for run ``run_id``: the span of the price and
    FX loads it made. A run that loaded neither (a quality asset materialized on its own) or no
    run at all recomputes the whole history, which is also how a user rebuilds the record."""
    if run_id is None:
        return WHOLE_HISTORY
    ((start, end),) = con.execute(_RUN_WINDOW, {"run_id": run_id}).fetchall()
    if start is None or end is None:
        return WHOLE_HISTORY
    return start, end
