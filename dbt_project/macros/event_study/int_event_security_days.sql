{#- The SQL of model int_event_security_days, also used by marts.event_impact(date) (see
    event_study_windows_and_models.sql). One row per event x security x trading day from the start
    of the estimation window to the end of the longest event window, keyed by relative day. -#}
{% macro event_security_days(event_securities, daily_returns) %}
{%- set windows = event_windows() -%}
{%- set first_day = [var('event_estimation_first_day') | int]
    + windows | map(attribute='first_day') | list -%}
{%- set last_day = windows | map(attribute='last_day') | list -%}
with event_securities as (
    select * from {{ event_securities }}
),

daily_returns as (
    select * from {{ daily_returns }}
),

-- one probe per relative day turns the window into an equality join on (ticker, session): its cost
-- grows with events x securities x window length, not with the length of each price history.
-- (The probes are unnested in the select list: DuckDB 2.0 raised an internal "dict-surviving
-- cache" error when a filtered relation was cross-joined with range() and then joined on ticker.)
probes as (
    select
        event_id,
        ticker,
        day0_session_number,
        unnest(range({{ first_day | min }}, {{ (last_day | max) + 1 }})) as relative_day
    from event_securities
),

final as (
    select
        probes.event_id,
        probes.ticker,
        probes.relative_day,
        returns.trade_date,
        returns.close_price,
        returns.simple_return as security_return,
        returns.benchmark_return,
        returns.sessions_spanned,
        returns.spans_missing_session,
        returns.previous_market_value_usd,
        returns.market_value_change_usd,
        probes.relative_day
        between {{ var('event_estimation_first_day') }} and {{ var('event_estimation_last_day') }}
        and returns.simple_return is not null
        and returns.benchmark_return is not null
        and not returns.spans_missing_session as in_estimation_sample
    from probes
    inner join daily_returns as returns
        on
            probes.ticker = returns.ticker
            and probes.day0_session_number + probes.relative_day = returns.exchange_session_number
            and returns.is_exchange_session
)

select * from final
{% endmacro %}
