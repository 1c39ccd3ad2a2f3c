{{ config(
    materialized='incremental',
    unique_key=['table_name', 'ticker', 'trade_date', 'reason'],
    incremental_strategy='merge',
    merge_exclude_columns=['first_seen'],
    on_schema_change='fail',
    tags=['incremental'],
    post_hook=[
        "{% if is_incremental() %}delete from {{ this }} where trade_date >= {{ quality_window_start() }}
        and last_seen < {{ quality_run_time() }}{% endif %}",
    ],
) }}
-- Raw bars kept out of the marts, one row per bar and reason (docs/QUALITY.md). Judged on the raw
-- sources, before staging, which excludes every bar listed here. Incremental: a run re-judges the
-- bars from its window start on, and for suspect_spike their neighbours up to 31 days before it;
-- a bar found again keeps its first_seen (the merge leaves it), a bar of the window no longer found
-- (the source corrected it) is released by the post-hook, bars before the window stay as earlier
-- runs judged them.
-- The per-bar rules are those of warehouse/quality/bar_rules.py, which the raw writes apply to a
-- re-delivered bar (tests/unit/test_quality_bar_rules_in_dbt.py holds the two equal).

with

prices as (

    select * from {{ source('raw', 'daily_prices') }}

),

fx_rates as (

    select * from {{ source('raw', 'fx_rates') }}

),

corporate_actions as (

    select * from {{ source('raw', 'corporate_actions') }}

),

-- every bar under one set of columns (FX bars have no adj_close and no volume), from 31 days
-- before the window: a spike's neighbours lie within 31 days
bars as (

    select
        'raw.daily_prices' as table_name,
        ticker,
        trade_date,
        open,
        high,
        low,
        close,
        adj_close,
        volume
    from prices
    where trade_date >= {{ quality_window_start() }} - 31

    union all

    select
        'raw.fx_rates' as table_name,
        ticker,
        rate_date as trade_date,
        open,
        high,
        low,
        close,
        null as adj_close,
        null as volume
    from fx_rates
    where rate_date >= {{ quality_window_start() }} - 31

),

judged as (

    select
        *,
        -- raw's primary key makes exact duplicates impossible, so a duplicated key shows up as
        -- the same security spelt twice ('NVDA' and 'nvda ') on one date
        count(*) over (partition by table_name, upper(trim(ticker)), trade_date) as copies,
        printf(
            'open %s, high %s, low %s, close %s',
            coalesce(printf('%.8g', open), 'null'), coalesce(printf('%.8g', high), 'null'),
            coalesce(printf('%.8g', low), 'null'), coalesce(printf('%.8g', close), 'null')
        ) as ohlc
    from bars
    where trade_date >= {{ quality_window_start() }}

),

priced as (

    select
        table_name,
        ticker,
        trade_date,
        coalesce(adj_close, close) as price
    from bars
    where coalesce(adj_close, close) > 0

),

with_neighbours as (

    select
        bar.*,
        previous_bar.trade_date as previous_date,
        previous_bar.price as previous_price,
        next_bar.trade_date as next_date,
        next_bar.price as next_price
    from priced as bar
    asof inner join priced as previous_bar
        on
            bar.table_name = previous_bar.table_name
            and bar.ticker = previous_bar.ticker
            and bar.trade_date > previous_bar.trade_date
    asof inner join priced as next_bar
        on
            bar.table_name = next_bar.table_name
            and bar.ticker = next_bar.ticker
            and bar.trade_date < next_bar.trade_date
    where
        bar.trade_date >= {{ quality_window_start() }}
        and bar.trade_date - previous_bar.trade_date <= 31
        and next_bar.trade_date - bar.trade_date <= 31

),

-- spike_factor times above, or below, BOTH neighbours: it jumped and came back the next session,
-- which no market does (a decimal slip, a unit change). A split on the bar's date or the next
-- bar's moves an unadjusted close without reverting, so it is never a spike.
spikes as (

    select *
    from with_neighbours as spike
    where
        (
            price >= {{ quality_rule('spike_factor') }} * greatest(previous_price, next_price)
            or price * {{ quality_rule('spike_factor') }} <= least(previous_price, next_price)
        )
        and not exists (
            select 1
            from corporate_actions as actions
            where
                actions.ticker = spike.ticker
                and actions.action_type = 'split'
                and actions.action_date in (spike.trade_date, spike.next_date)
        )

),

problems as (

    select
        table_name,
        ticker,
        trade_date,
        'missing_close' as reason,
        'close is null' as detail
    from judged
    where close is null

    union all

    select
        table_name,
        ticker,
        trade_date,
        'non_positive_price' as reason,
        ohlc || ', adj_close ' || coalesce(printf('%.8g', adj_close), 'null') as detail
    from judged
    where least(open, high, low, close, adj_close) <= 0

    union all

    select
        table_name,
        ticker,
        trade_date,
        'high_below_low' as reason,
        ohlc as detail
    from judged
    where high < low

    union all

    -- currency bars are exempt from the range rules: Yahoo's FX open and close now and then lie
    -- just outside a stale [low, high], and the close is the rate the warehouse uses
    select
        table_name,
        ticker,
        trade_date,
        'open_outside_range' as reason,
        ohlc as detail
    from judged
    where table_name = 'raw.daily_prices' and (open > high or open < low)

    union all

    select
        table_name,
        ticker,
        trade_date,
        'close_outside_range' as reason,
        ohlc as detail
    from judged
    where table_name = 'raw.daily_prices' and (close > high or close < low)

    union all

    select
        table_name,
        ticker,
        trade_date,
        'negative_volume' as reason,
        'volume ' || volume as detail
    from judged
    where volume < 0

    union all

    -- the row spelt as the universe spells tickers is kept; every other spelling is quarantined
    select
        table_name,
        ticker,
        trade_date,
        'duplicate_key' as reason,
        printf('%d rows for %s on this date', copies, upper(trim(ticker))) as detail
    from judged
    where copies > 1 and ticker <> upper(trim(ticker))

    union all

    select
        table_name,
        ticker,
        trade_date,
        'suspect_spike' as reason,
        printf(
            'price %.8g between %.8g on %s and %.8g on %s: %.1fx off both, a one-day spike',
            price, previous_price, previous_date, next_price, next_date,
            greatest(
                least(price / previous_price, price / next_price),
                least(previous_price / price, next_price / price)
            )
        ) as detail
    from spikes

)

select
    table_name,
    ticker,
    trade_date,
    reason,
    detail,
    {{ quality_run_id() }} as run_id,
    {{ quality_run_time() }} as first_seen,
    {{ quality_run_time() }} as last_seen
from problems
