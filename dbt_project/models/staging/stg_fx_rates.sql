{%- set quarantine = source('quality', 'quarantined_prices') %}
-- Bars the quality assets quarantined (impossible values, docs/QUALITY.md) never reach the marts.
-- The relation check lets dbt run on a warehouse the quality assets never ran on
-- (tests/dbt_helpers.py builds raw alone).
select
    cast(ticker as varchar) as fx_ticker,
    cast(rate_date as date) as rate_date,
    cast(base_currency as varchar) as base_currency,
    cast(quote_currency as varchar) as quote_currency,
    cast(open as double) as open_rate,
    cast(high as double) as high_rate,
    cast(low as double) as low_rate,
    cast(close as double) as close_rate,
    cast(source as varchar) as data_source,
    cast(run_id as varchar) as run_id,
    cast(loaded_at as timestamp) as loaded_at
from {{ source('raw', 'fx_rates') }} as rates
{%- if load_relation(quarantine) is not none %}
where not exists (
    select 1
    from {{ quarantine }} as quarantined
    where quarantined.table_name = 'raw.fx_rates'
        and quarantined.ticker = rates.ticker
        and quarantined.trade_date = rates.rate_date
)
{%- endif %}
