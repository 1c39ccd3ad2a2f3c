{#- The SQL of model int_event_securities, also used by marts.event_impact(date) (see
    event_study_windows_and_models.sql). One row per event x equity/ETF, whether or not the security
    has data around the event. -#}
{% macro event_securities(events, sessions, securities, daily_returns) %}
with events as (
    select * from {{ events }}
),

sessions as (
    select * from {{ sessions }}
),

securities as (
    select * from {{ securities }}
),

daily_returns as (
    select * from {{ daily_returns }}
),

price_history as (
    select
        ticker,
        min(trade_date) as first_price_date,
        max(trade_date) as last_price_date
    from daily_returns
    group by ticker
),

event_securities as (
    select
        events.event_id,
        events.event_date,
        securities.ticker,
        securities.role,
        securities.exchange,
        securities.currency,
        securities.benchmark_ticker,
        securities.sector,
        securities.industry
    from events
    cross join securities
    where securities.role in ('equity', 'etf')
),

final as (
    select
        event_securities.*,
        day0.session_date as day0_date,
        day0.session_number as day0_session_number,
        price_history.first_price_date,
        price_history.last_price_date
    from event_securities
    asof left join sessions as day0
        on
            event_securities.exchange = day0.exchange
            and event_securities.event_date <= day0.session_date
    left join price_history using (ticker)
)

select * from final
{% endmacro %}
