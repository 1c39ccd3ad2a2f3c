-- Quarantined bars (models/quality/quarantined_prices.sql) never reach the marts:
-- macros/exclude_quarantined.sql.
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
{{ exclude_quarantined('fx_rates', 'rates', 'rate_date') }}
