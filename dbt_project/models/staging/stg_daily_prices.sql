-- Quarantined bars (models/quality/quarantined_prices.sql) never reach the marts:
-- macros/exclude_quarantined.sql.
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
{{ exclude_quarantined('daily_prices', 'prices', 'trade_date') }}
