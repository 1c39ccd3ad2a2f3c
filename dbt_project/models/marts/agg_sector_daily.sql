{{ config(
    materialized='incremental',
    unique_key=['trade_date', 'sector'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    tags=['incremental'],
) }}
-- Per trading day and sector (equities only): cap-weighted and equal-weighted local-currency total
-- returns, total USD market value and market breadth. Incremental: a run recomputes the days from
-- refresh_start (the orchestration's partition range) or, without it, from the last
-- refresh_lookback_days days already in the table, to the end of the data: a backfilled range
-- changes the return of the first day after it too. fct_daily_returns carries each security's
-- previous-day value, so the window needs no look-back into older rows. Floating-point aggregates
-- run in ticker order, so a rebuild of the same data gives the same bits.

with daily_returns as (
    select * from {{ ref('fct_daily_returns') }}
),

securities as (
    select * from {{ ref('dim_security') }}
),

equity_days as (
    select
        returns.trade_date,
        coalesce(securities.sector, 'Unclassified') as sector,
        returns.ticker,
        returns.simple_return,
        returns.spans_missing_session,
        returns.previous_market_value_usd,
        returns.market_value_usd
    from daily_returns as returns
    inner join securities using (ticker)
    where
        securities.role = 'equity'
        {%- if is_incremental() %}
        and returns.trade_date >= {{ refresh_start_date() }}
        {%- endif %}
),

final as (
    select
        trade_date,
        sector,
        count(*) as securities_priced,
        count(simple_return) as securities_counted,
        {{ weighted_average('simple_return', 'previous_market_value_usd', 'ticker') }} as cap_weighted_return,
        count(simple_return * previous_market_value_usd) as cap_weighted_securities,
        avg(simple_return order by ticker) as equal_weighted_return,
        sum(market_value_usd order by ticker) as total_market_value_usd,
        count(*) filter (where simple_return > 0) as advancers,
        count(*) filter (where simple_return < 0) as decliners,
        count(*) filter (where simple_return = 0) as unchanged,
        -- a return measured across a session missing from the source covers more than this day
        count(*) filter (where spans_missing_session) as returns_spanning_missing_session
    from equity_days
    group by trade_date, sector
)

select * from final
