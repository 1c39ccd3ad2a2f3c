{{ config(materialized='table') }}
-- The runs of an unchanged close on stale_sessions consecutive sessions of the security's exchange
-- that reach into the run's window: a feed that stopped. Recorded under the run's first date,
-- which stays put while the run grows night by night. Read from a few weeks before the window,
-- and back to its start for a run that begins there (macros/quality_stale_runs.sql), so the runs
-- are those a scan of the whole history finds at the cost of the days they need.

{%- set since = quality_window_start() %}
{#- a few weeks: more than a stale run of stale_sessions, holidays included #}
{%- set lookback_days = 2 * (var('quality_stale_sessions') | int) + 14 %}
{%- set recent_from = "greatest(date '0001-01-01', " ~ since ~ " - " ~ lookback_days ~ ")" %}

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
        trade_date,
        close
    from prices

    union all

    select
        'raw.fx_rates' as table_name,
        ticker,
        rate_date as trade_date,
        close
    from fx_rates

),

sessions as (

    select
        exchange,
        session_date,
        row_number() over (partition by exchange order by session_date) as session_number
    from exchange_sessions

),

recent_bars as (

    select * from all_bars
    where trade_date >= {{ recent_from }}

),

recent_runs as (

    {{ quality_stale_runs('recent_bars', 'securities', 'sessions', recent_from) }}

),

-- the securities whose run reaching into the window began where the recent bars begin
truncated as (

    select distinct ticker
    from recent_runs
    where may_start_earlier and last_date >= {{ since }}

),

truncated_bars as (

    select all_bars.*
    from all_bars
    inner join truncated using (ticker)

),

truncated_runs as (

    {{ quality_stale_runs('truncated_bars', 'securities', 'sessions', "date '0001-01-01'") }}

),

runs as (

    select * from recent_runs
    where ticker not in (select truncated.ticker from truncated)

    union all

    select * from truncated_runs

)

select
    ticker,
    first_date as trade_date,
    'stale_close' as check_name,
    'suspect_data' as classification,
    null::double as daily_return,
    printf(
        'close %.8g on %d consecutive %s sessions, %s..%s',
        close, sessions, exchange, first_date, last_date
    ) as reason,
    table_name,
    last_date
from runs
where sessions >= {{ var('quality_stale_sessions') }} and last_date >= {{ since }}
