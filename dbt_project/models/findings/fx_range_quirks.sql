{{ config(materialized='table') }}
-- FX bars of the run's window whose open or close lies outside the day's [low, high], kept
-- nevertheless: Yahoo's FX close is the quote the warehouse uses as the day's reference rate, the
-- high and low are the stale part (53 bars of the snapshot, by at most 0.05%). An FX bar
-- impossible for another reason is quarantined (quality/quarantined_prices), not kept.

with

fx_rates as (

    select * from {{ source('raw', 'fx_rates') }}

)

select
    ticker,
    rate_date as trade_date,
    'fx_range_quirk' as check_name,
    'source_quirk' as classification,
    null::double as daily_return,
    printf(
        'open %s, high %s, low %s, close %s',
        coalesce(printf('%.8g', open), 'null'), coalesce(printf('%.8g', high), 'null'),
        coalesce(printf('%.8g', low), 'null'), coalesce(printf('%.8g', close), 'null')
    ) || ': outside [low, high]; the close is kept as the reference rate, the high and low '
    || 'are stale' as reason
from fx_rates
where
    rate_date >= {{ quality_window_start() }}
    and (open > high or open < low or close > high or close < low)
    and high >= low
    and least(open, high, low, close) > 0
