-- Daily returns of every priced security against its OWN previous trading row (not the previous
-- calendar day), with the benchmark's return over exactly the same interval.
with prices as (
    select
        prices.ticker,
        prices.trade_date,
        prices.close_price,
        prices.adj_close_price,
        coalesce(prices.adj_close_price, prices.close_price) as adjusted_close_price,
        securities.exchange,
        securities.benchmark_ticker
    from {{ ref('stg_daily_prices') }} as prices
    inner join {{ ref('stg_securities') }} as securities using (ticker)
),

dividends as (
    select ticker, action_date as trade_date, action_value as dividend_per_share
    from {{ ref('stg_corporate_actions') }}
    where action_type = 'dividend'
),

with_previous_row as (
    select
        prices.*,
        dividends.dividend_per_share,
        lag(prices.trade_date) over by_ticker as previous_trade_date,
        lag(prices.close_price) over by_ticker as previous_close_price,
        lag(prices.adjusted_close_price) over by_ticker as previous_adjusted_close_price
    from prices
    left join dividends using (ticker, trade_date)
    window by_ticker as (partition by prices.ticker order by prices.trade_date)
),

-- A row's place in its exchange calendar; the as-of match keeps a row dated on a non-session day
-- (a source glitch) from vanishing, and is_exchange_session exposes it.
with_session_positions as (
    select
        returns.*,
        current_session.session_number as exchange_session_number,
        current_session.session_date = returns.trade_date as is_exchange_session,
        current_session.session_number - previous_session.session_number as sessions_spanned
    from with_previous_row as returns
    asof left join {{ ref('int_exchange_sessions') }} as current_session
        on current_session.exchange = returns.exchange
        and current_session.session_date <= returns.trade_date
    asof left join {{ ref('int_exchange_sessions') }} as previous_session
        on previous_session.exchange = returns.exchange
        and previous_session.session_date <= returns.previous_trade_date
),

with_returns as (
    select
        *,
        -- adj_close already contains dividends. When the source gives no adj_close, close is either
        -- already adjusted (and corporate_actions then holds no dividend for it) or raw (TSM, QQQ):
        -- on an ex-date the raw close drops by the dividend, which the holder still receives, so
        -- adding it back keeps the return a total return instead of showing a spurious loss.
        (adjusted_close_price
            + case when adj_close_price is null then coalesce(dividend_per_share, 0) else 0 end)
            / previous_adjusted_close_price - 1 as simple_return,
        close_price / previous_close_price - 1 as raw_close_return,
        sessions_spanned > 1 as spans_missing_session
    from with_session_positions
),

-- Cumulative total-return index, so any interval's benchmark return is a ratio of two index levels
-- even when the security's interval covers several benchmark sessions.
with_return_index as (
    select
        *,
        product(1 + coalesce(simple_return, 0)) over (
            partition by ticker order by trade_date rows between unbounded preceding and current row
        ) as total_return_index
    from with_returns
)

select
    security.ticker,
    security.trade_date,
    security.exchange,
    security.close_price,
    security.adj_close_price,
    security.adjusted_close_price,
    security.dividend_per_share,
    security.previous_trade_date,
    security.previous_close_price,
    security.exchange_session_number,
    security.is_exchange_session,
    security.sessions_spanned,
    security.spans_missing_session,
    security.simple_return,
    ln(1 + security.simple_return) as log_return,
    security.raw_close_return,
    security.total_return_index,
    security.benchmark_ticker,
    benchmark_now.total_return_index / benchmark_before.total_return_index - 1 as benchmark_return
from with_return_index as security
left join with_return_index as benchmark_now
    on benchmark_now.ticker = security.benchmark_ticker
    and benchmark_now.trade_date = security.trade_date
left join with_return_index as benchmark_before
    on benchmark_before.ticker = security.benchmark_ticker
    and benchmark_before.trade_date = security.previous_trade_date
