{{ config(materialized='table') }}
-- Whether the quarantine holds a bad tick or a broken load, per raw price table: the share of the
-- bars of the run's window quarantined, and the duplicated keys (any date). Its test
-- load_is_not_broken fails with severity error when a load is broken, and the staging models read
-- this model (macros/exclude_quarantined.sql), so dbt build skips every model after them: a
-- broken load never reaches the marts, one bad tick does not stop the night.

with

quarantined_prices as (

    select * from {{ ref('quarantined_prices') }}

),

prices as (

    select * from {{ source('raw', 'daily_prices') }}

),

fx_rates as (

    select * from {{ source('raw', 'fx_rates') }}

),

load_log as (

    select * from {{ source('raw', 'load_log') }}

),

tables as (

    select
        loaded_by.table_name,
        loaded_by.asset_key
    from (
        values
        ('raw.daily_prices', 'raw/daily_prices'),
        ('raw.fx_rates', 'raw/fx_rates')
    ) as loaded_by (table_name, asset_key)

),

latest_loads as (

    select
        tables.table_name,
        load_log.partition_start,
        load_log.partition_end
    from tables
    inner join load_log
        on list_contains(string_split(load_log.asset_key, '+'), tables.asset_key)
    qualify row_number() over (
        partition by tables.table_name
        order by load_log.finished_at desc, load_log.partition_start desc
    ) = 1

),

-- the window judged: the run's (refresh_start on), else each table's latest logged load, else all
{%- set start = refresh_start_value() %}
{%- set run_start = "cast('" ~ start ~ "' as date)" if start else "null::date" %}
windows as (

    select
        tables.table_name,
        coalesce({{ run_start }}, latest_loads.partition_start, date '0001-01-01') as window_start,
        case
            when {{ run_start }} is null then coalesce(latest_loads.partition_end, date '9999-12-31')
            else date '9999-12-31'
        end as window_end
    from tables
    left join latest_loads using (table_name)

),

-- filtered before the join, so a nightly run counts its days, not the history
bars as (

    select
        'raw.daily_prices' as table_name,
        trade_date
    from prices
    where trade_date >= (select min(windows.window_start) from windows)

    union all

    select
        'raw.fx_rates' as table_name,
        rate_date as trade_date
    from fx_rates
    where rate_date >= (select min(windows.window_start) from windows)

),

bars_in_window as (

    select
        windows.table_name,
        count(bars.trade_date) as bars
    from windows
    left join bars
        on
            windows.table_name = bars.table_name
            and bars.trade_date between windows.window_start and windows.window_end
    group by windows.table_name

),

quarantined_bars as (

    select
        table_name,
        ticker,
        trade_date,
        bool_or(reason = 'duplicate_key') as duplicated
    from quarantined_prices
    group by table_name, ticker, trade_date

),

quarantined as (

    select
        windows.table_name,
        count(quarantined_bars.trade_date) filter (
            where quarantined_bars.trade_date between windows.window_start and windows.window_end
        ) as quarantined_bars,
        -- a duplicated key is never a single bad tick, whatever its date
        count(quarantined_bars.trade_date) filter (where quarantined_bars.duplicated)
            as duplicated_keys
    from windows
    left join quarantined_bars using (table_name)
    group by windows.table_name

)

select
    windows.table_name,
    windows.window_start,
    windows.window_end,
    bars_in_window.bars,
    quarantined.quarantined_bars,
    coalesce(quarantined.quarantined_bars / nullif(bars_in_window.bars, 0), 0) as quarantined_share,
    quarantined.duplicated_keys,
    quarantined.duplicated_keys > 0
    or coalesce(quarantined.quarantined_bars / nullif(bars_in_window.bars, 0), 0)
    > {{ quality_rule('max_quarantined_share') }} as is_systemic
from windows
inner join bars_in_window using (table_name)
inner join quarantined using (table_name)
