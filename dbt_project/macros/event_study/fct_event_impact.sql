{#- The SQL of model fct_event_impact, also used by marts.event_impact(date) (see
    event_study_windows_and_models.sql). One row per event x security: day-0 facts, estimation
    results and every window x model pivoted into columns named
    <measure>_<model abbreviation>_<window name>, plus ranks within the event. -#}
{% macro event_impact_wide(event_securities, event_security_days, event_estimation, event_window_impact) %}
with event_securities as (
    select * from {{ event_securities }}
),

event_security_days as (
    select * from {{ event_security_days }}
),

event_estimation as (
    select * from {{ event_estimation }}
),

event_window_impact as (
    select * from {{ event_window_impact }}
),

day0 as (
    select
        event_id,
        ticker,
        trade_date as day0_trade_date,
        close_price as day0_close_price,
        security_return as day0_return,
        benchmark_return as day0_benchmark_return,
        sessions_spanned as day0_sessions_spanned,
        spans_missing_session as day0_spans_missing_session,
        previous_market_value_usd as market_value_usd_before_day0,
        market_value_change_usd as day0_usd_value_change
    from event_security_days
    where relative_day = 0
),

windows_pivoted as (
    select
        event_id,
        ticker
        -- noqa: disable=LT04
        -- (leading commas: the columns of each window x model come from jinja loops)
        {%- for window in event_windows() %}
        {%- set in_window = "window_name = '" ~ window.name ~ "'" %}
        , max(window_return) filter (where {{ in_window }} and model = 'market_adjusted') as return_{{ window.name }}
        , max(expected_window_return) filter (where {{ in_window }} and model = 'market_adjusted') as benchmark_return_{{ window.name }}
        {%- for model in event_expected_return_models() %}
        , max(cumulative_abnormal_return) filter (where {{ in_window }} and model = '{{ model.name }}') as car_{{ model.abbreviation }}_{{ window.name }}
        , max(buy_and_hold_abnormal_return) filter (where {{ in_window }} and model = '{{ model.name }}') as bhar_{{ model.abbreviation }}_{{ window.name }}
        {%- endfor %}
        , max(car_t_stat) filter (where {{ in_window }} and model = 'market_model') as tstat_car_mm_{{ window.name }}
        , max(usd_value_change) filter (where {{ in_window }} and model = 'market_adjusted') as usd_value_change_{{ window.name }}
        {%- endfor %}
        -- noqa: enable=LT04
    from event_window_impact
    group by event_id, ticker
),

assembled as (
    select
        event_securities.event_id,
        event_securities.event_date,
        event_securities.ticker,
        event_securities.role,
        event_securities.exchange,
        event_securities.currency,
        event_securities.benchmark_ticker,
        event_securities.sector,
        event_securities.industry,
        event_securities.day0_date,
        day0.day0_trade_date,
        day0.day0_close_price,
        day0.day0_return,
        day0.day0_benchmark_return,
        day0.day0_sessions_spanned,
        day0.day0_spans_missing_session,
        day0.market_value_usd_before_day0,
        day0.day0_usd_value_change,
        case
            when day0.day0_return is not null then null
            when event_securities.day0_date is null
                then 'no ' || event_securities.exchange || ' session on or after the event date'
            when event_securities.first_price_date is null then 'no price data for the security'
            when event_securities.first_price_date > event_securities.day0_date
                then 'price history starts ' || event_securities.first_price_date || ', after day 0'
            when event_securities.last_price_date < event_securities.day0_date
                then 'price history ends ' || event_securities.last_price_date || ', before day 0'
            when day0.day0_trade_date is null then 'no price on day 0 (' || event_securities.day0_date || ')'
            else 'no previous close before day 0'
        end as missing_reason,
        estimation.estimation_obs,
        estimation.estimation_first_date,
        estimation.estimation_last_date,
        estimation.alpha as alpha_mm,
        estimation.beta as beta_mm,
        estimation.residual_variance as residual_variance_mm,
        estimation.mean_return as mean_return_estimation,
        estimation.positive_residual_share as positive_residual_share_mm,
        estimation.estimation_reason,
        windows_pivoted.* exclude (event_id, ticker)
    from event_securities
    left join day0 using (event_id, ticker)
    left join event_estimation as estimation using (event_id, ticker)
    left join windows_pivoted using (event_id, ticker)
),

final as (
    select
        *,
        -- most negative first; securities without the value get no rank
        case when day0_usd_value_change is not null then
            rank() over (partition by event_id order by day0_usd_value_change asc nulls last)
        end as rank_day0_usd_value_change,
        case when day0_return is not null then
            rank() over (partition by event_id order by day0_return asc nulls last)
        end as rank_day0_return
    from assembled
)

select * from final
{% endmacro %}
