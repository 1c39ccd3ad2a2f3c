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

# Every raw bar, prices and currency quotes alike, under one set of column names so each rule is
# written once. FX bars have no adj_close and no volume.
BARS = f"""
    select '{PRICES_TABLE}' as table_name, ticker, trade_date, open, high, low, close, adj_close,
           volume
    from {PRICES_TABLE}
    union all
    select '{FX_TABLE}', ticker, rate_date, open, high, low, close, null, null
    from {FX_TABLE}
"""

# The trading window of the latest load of each raw price table: the checks judge what the last
# refresh brought, while quality.price_anomalies keeps every earlier finding. A table no load has
# logged (a warehouse built by other means) is judged whole.
_TABLES_AND_KEYS = ", ".join(f"('{table}', '{key}')" for table, key in LOADED_BY.items())
LOAD_WINDOWS = f"""
    with tables as (
        select * from (values {_TABLES_AND_KEYS}) as t (table_name, asset_key)
    ),
    latest_loads as (
        select tables.table_name, load_log.partition_start, load_log.partition_end
        from tables
        join raw.load_log as load_log
            on list_contains(string_split(load_log.asset_key, '+'), tables.asset_key)
        qualify row_number() over (
            partition by tables.table_name
            order by load_log.finished_at desc, load_log.partition_start desc
        ) = 1
    )
    select
        tables.table_name,
        coalesce(latest_loads.partition_start, date '0001-01-01') as window_start,
        coalesce(latest_loads.partition_end, date '9999-12-31') as window_end
    from tables
    left join latest_loads using (table_name)
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


def load_window(con: duckdb.DuckDBPyConnection, table_name: str) -> tuple[date, date]:
    """The window the latest load of a raw price table covered (everything when none is logged)."""
    (row,) = con.execute(
        f"select window_start, window_end from ({LOAD_WINDOWS}) where table_name = ?", [table_name]
    ).fetchall()
    return row[0], row[1]
