{{ daily_chain_config() }}
-- Market value per security and trading day, in the listing currency and in USD at that day's rate.
-- Incremental (macros/daily_chain_incremental.sql): a run recomputes each ticker's rows from its
-- refresh_from on; the previous-day values of the first one come from the ticker's last stored row
-- before it (its anchor), recomputed from its stored close, rate and count as a full build would.
with daily_prices as (
    select * from {{ ref('stg_daily_prices') }}
),

securities as (
    select * from {{ ref('stg_securities') }}
),

shares_outstanding_daily as (
    select * from {{ ref('int_shares_outstanding_daily') }}
),

fx_usd_rates as (
    select * from {{ ref('int_fx_usd_rates') }}
),
{% if is_incremental() %}
refresh_from as {{ daily_chain_refresh_from() }},

anchors as (
    {{ daily_chain_anchors(['close_price', 'usd_per_local_unit', 'shares_outstanding']) }}
),
{% endif %}

priced_days as (
    select
        prices.ticker,
        prices.trade_date,
        prices.close_price,
        securities.currency,
        shares.shares_outstanding,
        shares.shares_basis,
        shares.shares_as_of_date
    from daily_prices as prices
    inner join securities using (ticker)
    left join shares_outstanding_daily as shares using (ticker, trade_date)
    {% if is_incremental() %}
    inner join refresh_from
        on
            prices.ticker = refresh_from.ticker
            and prices.trade_date >= refresh_from.refresh_from
    {% endif %}
),

-- the latest rate on or before the trading day: FX quotes and exchange sessions do not share holidays
with_usd_rate as (
    select
        priced_days.*,
        case when priced_days.currency = 'USD' then 1.0 else fx.usd_per_unit end as usd_per_local_unit,
        fx.rate_date as fx_rate_date
    from priced_days
    asof left join fx_usd_rates as fx
        on
            priced_days.currency = fx.currency
            and priced_days.trade_date >= fx.rate_date
),

-- the rows to compute, after (incremental run) each ticker's anchor, which only feeds the lags
sequenced as (
    select
        *,
        true as is_recomputed
    from with_usd_rate
    {% if is_incremental() %}
    union all by name
    select
        *,
        false as is_recomputed
    from anchors
    {% endif %}
),

valued as (
    select
        *,
        shares_outstanding * close_price as market_value_local,
        shares_outstanding * close_price * usd_per_local_unit as market_value_usd,
        lag(close_price * usd_per_local_unit) over by_ticker as previous_close_usd,
        lag(shares_outstanding * close_price * usd_per_local_unit) over by_ticker as previous_market_value_usd
    from sequenced
    window by_ticker as (partition by ticker order by trade_date)
)

select
    ticker,
    trade_date,
    currency,
    close_price,
    shares_outstanding,
    shares_basis,
    shares_as_of_date,
    usd_per_local_unit,
    fx_rate_date,
    market_value_local,
    market_value_usd,
    previous_market_value_usd,
    -- price- and FX-driven change at today's share count: a new filing's count changing between two
    -- days is a reporting step, not value created or destroyed by the market
    shares_outstanding * (close_price * usd_per_local_unit - previous_close_usd) as market_value_change_usd
from valued
where is_recomputed
