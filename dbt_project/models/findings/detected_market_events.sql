{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    tags=['incremental'],
    pre_hook=[
        "{% if is_incremental() %}delete from {{ this }} where event_date >= {{ quality_window_start() }}{% endif %}",
    ],
) }}
-- Market shocks the warehouse found by itself: the days with large moves classified market_event
-- (large_moves), over the whole market and over each sector, with how many securities moved the
-- same way and what they lost or gained in USD. Incremental: the pre-hook deletes the window's
-- days and the run adds them again from its flags; earlier days keep the events earlier runs found.

with

large_moves as (

    select * from {{ ref('large_moves') }}

),

daily_returns as (

    select * from {{ ref('fct_daily_returns') }}

),

securities as (

    select * from {{ ref('dim_security') }}

),

-- indices are evidence of a shock, not holdings in it
returns as (

    select
        daily_returns.ticker,
        daily_returns.trade_date,
        daily_returns.simple_return,
        daily_returns.market_value_change_usd,
        securities.sector
    from daily_returns
    left join securities using (ticker)
    where
        daily_returns.role in ('equity', 'etf')
        and daily_returns.simple_return is not null
        and daily_returns.trade_date >= {{ quality_window_start() }}

),

members as (

    select
        trade_date,
        'market' as scope,
        ticker,
        simple_return,
        market_value_change_usd
    from returns

    union all

    select
        trade_date,
        sector as scope,
        ticker,
        simple_return,
        market_value_change_usd
    from returns
    where sector is not null

),

events as (

    select
        members.trade_date,
        members.scope,
        case when large_moves.daily_return < 0 then 'drop' else 'rise' end as direction,
        count(*) as securities_flagged
    from large_moves
    inner join members using (ticker, trade_date)
    where large_moves.classification = 'market_event'
    group by members.trade_date, members.scope, direction

),

scoped as (

    select
        events.*,
        members.ticker,
        members.simple_return,
        members.market_value_change_usd,
        case events.direction
            when 'drop'
                then
                    members.simple_return
                    <= {{ quality_rule('peer_move_share') }} * {{ quality_rule('drop_threshold') }}
            else
                members.simple_return
                >= {{ quality_rule('peer_move_share') }} * {{ quality_rule('rise_threshold') }}
        end as is_moving
    from events
    inner join members using (trade_date, scope)

)

select
    trade_date as event_date,
    scope,
    direction,
    any_value(securities_flagged) as securities_flagged,
    count(*) filter (where is_moving) as securities_moving,
    count(*) as securities_in_scope,
    -- breadth is the published column name, a keyword in some dialect but not DuckDB's
    count(*) filter (where is_moving) / count(*) as breadth,  -- noqa: RF04
    avg(simple_return) filter (where is_moving) as average_return,
    sum(market_value_change_usd) filter (where is_moving) as value_change_usd,
    string_agg(
        ticker || ' ' || {{ quality_pct('simple_return') }}, ', ' order by abs(simple_return) desc
    ) filter (where is_moving) as tickers_moving,
    {{ quality_run_id() }} as run_id
from scoped
group by trade_date, scope, direction
