{{ daily_chain_config() }}
-- Daily returns of every priced security against its OWN previous trading row (not the previous
-- calendar day), with the benchmark's return over exactly the same interval.
-- Incremental (macros/daily_chain_incremental.sql): a run recomputes each ticker's rows from its
-- refresh_from to the end of the data. The first recomputed row takes its previous row (lag values)
-- and the running index it continues from the ticker's last stored row before refresh_from (its
-- anchor); a benchmark level dated before the benchmark's own refresh_from is read from the table.
with daily_prices as (
    select * from {{ ref('stg_daily_prices') }}
),

securities as (
    select * from {{ ref('stg_securities') }}
),

corporate_actions as (
    select * from {{ ref('stg_corporate_actions') }}
),

exchange_sessions as (
    select * from {{ ref('int_exchange_sessions') }}
),
{% if is_incremental() %}
refresh_from as {{ daily_chain_refresh_from() }},

anchors as (
    {{ daily_chain_anchors(['close_price', 'adjusted_close_price', 'total_return_index']) }}
),

anchor_index_levels as (
    select
        ticker,
        total_return_index
    from anchors
),
{% endif %}

prices as (
    select
        prices.ticker,
        prices.trade_date,
        prices.close_price,
        prices.adj_close_price,
        coalesce(prices.adj_close_price, prices.close_price) as adjusted_close_price,
        securities.exchange,
        securities.benchmark_ticker
    from daily_prices as prices
    inner join securities using (ticker)
    {% if is_incremental() %}
    inner join refresh_from
        on
            prices.ticker = refresh_from.ticker
            and prices.trade_date >= refresh_from.refresh_from
    {% endif %}
),

dividends as (
    select
        ticker,
        action_date as trade_date,
        action_value as dividend_per_share
    from corporate_actions
    where action_type = 'dividend'
),

-- the rows to compute, after (incremental run) each ticker's anchor, which only feeds the lags
sequenced as (
    select
        prices.*,
        dividends.dividend_per_share,
        true as is_recomputed
    from prices
    left join dividends using (ticker, trade_date)
    {% if is_incremental() %}
    union all by name
    select
        ticker,
        trade_date,
        close_price,
        adjusted_close_price,
        false as is_recomputed
    from anchors
    {% endif %}
),

with_previous_row as (
    select * exclude (is_recomputed)
    from (
        select
            *,
            lag(trade_date) over by_ticker as previous_trade_date,
            lag(close_price) over by_ticker as previous_close_price,
            lag(adjusted_close_price) over by_ticker as previous_adjusted_close_price
        from sequenced
        window by_ticker as (partition by ticker order by trade_date)
    ) as lagged
    where is_recomputed
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
    asof left join exchange_sessions as current_session
        on
            returns.exchange = current_session.exchange
            and returns.trade_date >= current_session.session_date
    asof left join exchange_sessions as previous_session
        on
            returns.exchange = previous_session.exchange
            and returns.previous_trade_date >= previous_session.session_date
),

with_returns as (
    select
        *,
        -- adj_close already contains dividends. When the source gives no adj_close, close is either
        -- already adjusted (and corporate_actions then holds no dividend for it) or raw (TSM, QQQ):
        -- on an ex-date the raw close drops by the dividend, which the holder still receives, so
        -- adding it back keeps the return a total return instead of showing a spurious loss.
        (
            adjusted_close_price
            + case when adj_close_price is null then coalesce(dividend_per_share, 0) else 0 end
        )
        / previous_adjusted_close_price - 1 as simple_return,
        close_price / previous_close_price - 1 as raw_close_return,
        sessions_spanned > 1 as spans_missing_session
    from with_session_positions
),

-- Cumulative total-return index, so any interval's benchmark return is a ratio of two index levels
-- even when the security's interval covers several benchmark sessions. An incremental run continues
-- each ticker's product from its anchor's level.
with_return_index as (
    select
        with_returns.*,
        {% if is_incremental() -%}
        coalesce(anchors.total_return_index, 1) *  -- noqa: LT03
        {% endif -%}
        product(1 + coalesce(with_returns.simple_return, 0)) over (
            partition by with_returns.ticker order by with_returns.trade_date
            rows between unbounded preceding and current row
        ) as total_return_index
    from with_returns
    {% if is_incremental() %}
    left join anchor_index_levels as anchors using (ticker)
    {% endif %}
)

{% if is_incremental() %},

-- Benchmark levels: the recomputed ones, and the stored ones dated before the benchmark's
-- refresh_from (a security's interval may start before it: its previous row, or a security
-- recomputed from further back than its benchmark).
index_levels as (
    select
        ticker,
        trade_date,
        total_return_index
    from with_return_index
    union all
    select
        stored.ticker,
        stored.trade_date,
        stored.total_return_index
    from {{ this }} as stored
    inner join refresh_from
        on
            stored.ticker = refresh_from.ticker
            and stored.trade_date < refresh_from.refresh_from
    where
        stored.ticker in (select prices.benchmark_ticker from prices)
        and stored.trade_date >= (select min(with_return_index.previous_trade_date) from with_return_index)
)
{%- set index_levels = 'index_levels' %}
{% else %}
{%- set index_levels = 'with_return_index' %}
{% endif %}

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
left join {{ index_levels }} as benchmark_now
    on
        security.benchmark_ticker = benchmark_now.ticker
        and security.trade_date = benchmark_now.trade_date
left join {{ index_levels }} as benchmark_before
    on
        security.benchmark_ticker = benchmark_before.ticker
        and security.previous_trade_date = benchmark_before.trade_date
