{{ config(materialized='table') }}
-- The sessions of each security's exchange (raw.exchange_sessions; FX: every weekday) between its
-- first and last loaded bar that have no bar, dated in the run's window. A security with no bar in
-- the window ended before it: none of its sessions is in question.

{%- set since = quality_window_start() %}

with

prices as (

    select * from {{ source('raw', 'daily_prices') }}

),

fx_rates as (

    select * from {{ source('raw', 'fx_rates') }}

),

securities as (

    select * from {{ ref('stg_securities') }}

),

exchange_sessions as (

    select * from {{ ref('stg_exchange_sessions') }}

),

all_bars as (

    select
        'raw.daily_prices' as table_name,
        ticker,
        trade_date
    from prices

    union all

    select
        'raw.fx_rates' as table_name,
        ticker,
        rate_date as trade_date
    from fx_rates

),

-- each security's first bar, wherever it lies (the sessions before it are not missing): an
-- aggregate of two columns, cheap next to reading every bar
first_bars as (

    select
        table_name,
        ticker,
        min(trade_date) as first_date
    from all_bars
    group by table_name, ticker

),

window_bars as (

    select * from all_bars
    where trade_date >= {{ since }}

),

loaded as (

    select
        window_bars.table_name,
        window_bars.ticker,
        any_value(first_bars.first_date) as first_date,
        max(window_bars.trade_date) as last_date
    from window_bars
    inner join first_bars using (table_name, ticker)
    group by window_bars.table_name, window_bars.ticker

)

select
    loaded.ticker,
    exchange_sessions.session_date as trade_date,
    'missing_session' as check_name,
    'missing_data' as classification,
    null::double as daily_return,
    printf(
        'no bar for this %s session (bars loaded %s..%s)',
        securities.exchange, loaded.first_date, loaded.last_date
    ) as reason,
    loaded.table_name,
    exchange_sessions.session_date as last_date
from loaded
inner join securities using (ticker)
inner join exchange_sessions
    on
        securities.exchange = exchange_sessions.exchange
        and exchange_sessions.session_date between loaded.first_date and loaded.last_date
        and exchange_sessions.session_date >= {{ since }}
where not exists (
    select 1
    from window_bars
    where
        window_bars.ticker = loaded.ticker
        and window_bars.trade_date = exchange_sessions.session_date
)
