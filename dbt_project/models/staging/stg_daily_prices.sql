{%- set quarantine = source('quality', 'quarantined_prices') %}
-- Bars the quality assets quarantined (impossible values, docs/QUALITY.md) never reach the marts.
-- The relation check lets dbt run on a warehouse the quality assets never ran on
-- (tests/dbt_helpers.py builds raw alone).
select
    cast(ticker as varchar) as ticker,
    cast(trade_date as date) as trade_date,
    cast(open as double) as open_price,
    cast(high as double) as high_price,
    cast(low as double) as low_price,
    cast(close as double) as close_price,
    cast(adj_close as double) as adj_close_price,
    cast(volume as bigint) as volume,
    cast(source as varchar) as data_source,
    cast(run_id as varchar) as run_id,
    cast(loaded_at as timestamp) as loaded_at
from {{ source('raw', 'daily_prices') }} as prices
{%- if load_relation(quarantine) is not none %}
where not exists (
    select 1
    from {{ quarantine }} as quarantined
    where quarantined.table_name = 'raw.daily_prices'
        and quarantined.ticker = prices.ticker
        and quarantined.trade_date = prices.trade_date
)
{%- endif %}
