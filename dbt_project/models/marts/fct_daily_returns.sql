{{ daily_chain_config() }}
-- One row per security and trading day: int_daily_returns and int_daily_market_values side by side.
-- Incremental (macros/daily_chain_incremental.sql): a run rewrites each ticker's rows from its
-- refresh_from on, the same rows its two inputs recomputed in this run; every column comes from the
-- inputs' row of the same day, so no older row is needed.
-- depends_on: {{ ref('stg_daily_prices') }}
with daily_returns as (
    select * from {{ ref('int_daily_returns') }}
),

daily_market_values as (
    select * from {{ ref('int_daily_market_values') }}
),

securities as (
    select * from {{ ref('stg_securities') }}
),

final as (
    select
        returns.ticker,
        returns.trade_date,
        universe.role,
        returns.exchange,
        market_values.currency,
        returns.close_price,
        returns.adj_close_price,
        returns.adjusted_close_price,
        returns.dividend_per_share,
        returns.previous_trade_date,
        returns.exchange_session_number,
        returns.is_exchange_session,
        returns.sessions_spanned,
        returns.spans_missing_session,
        returns.simple_return,
        returns.log_return,
        returns.raw_close_return,
        returns.total_return_index,
        returns.benchmark_ticker,
        returns.benchmark_return,
        market_values.shares_outstanding,
        market_values.shares_basis,
        market_values.shares_as_of_date,
        market_values.usd_per_local_unit,
        market_values.fx_rate_date,
        market_values.market_value_local,
        market_values.market_value_usd,
        market_values.previous_market_value_usd,
        market_values.market_value_change_usd
    from daily_returns as returns
    inner join daily_market_values as market_values using (ticker, trade_date)
    inner join securities as universe using (ticker)
    {%- if is_incremental() %}
    inner join {{ daily_chain_refresh_from() }} as refresh_from
        on
            returns.ticker = refresh_from.ticker
            and returns.trade_date >= refresh_from.refresh_from
    {%- endif %}
)

-- Stored in date order: nightly readers (the checks, agg_sector_daily, the event study's session
-- lookups) ask for recent dates, which DuckDB then finds from each row group's min/max instead of
-- reading the whole history.
select * from final
order by trade_date, ticker
