{#- The SQL of model fct_event_window_impact, also used by marts.event_impact(date) (see
    event_study_windows_and_models.sql). One row per event x security x window x expected-return
    model (see event_windows and event_expected_return_models). Values are null unless the window's
    returns run from the close of day first_day-1 (or earlier, across a missing session) to the
    close of day last_day. -#}
{% macro event_window_impact(event_security_days, event_estimation) %}
with event_security_days as (
    select * from {{ event_security_days }}
),

event_estimation as (
    select * from {{ event_estimation }}
),

windows as (
    select *
    from (values
        {%- for window in event_windows() %}
        ('{{ window.name }}', {{ window.first_day }}, {{ window.last_day }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as windows (window_name, window_first_day, window_last_day)
),

expected_return_models as (
    select *
    from (values
        {%- for model in event_expected_return_models() %}
        ('{{ model.name }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as models (model)
),

window_days as (
    select days.*, windows.*
    from event_security_days as days
    inner join windows
        on days.relative_day between windows.window_first_day and windows.window_last_day
    where days.security_return is not null
),

with_expected_returns as (
    select
        window_days.*,
        expected_return_models.model,
        case expected_return_models.model
            when 'market_model' then estimation.alpha + estimation.beta * window_days.benchmark_return
            when 'market_adjusted' then window_days.benchmark_return
            when 'mean_adjusted' then estimation.mean_return
        end as expected_return,
        -- variance of the market-model prediction error for this day: residual variance plus the
        -- sampling error of alpha and beta at this day's market return
        case when expected_return_models.model = 'market_model' then
            estimation.residual_variance * (
                1 + 1.0 / estimation.estimation_obs
                + power(window_days.benchmark_return - estimation.mean_benchmark_return, 2) / estimation.benchmark_sxx
            )
        end as forecast_error_variance
    from window_days
    inner join event_estimation as estimation using (event_id, ticker)
    cross join expected_return_models
),

aggregated as (
    select
        event_id,
        ticker,
        window_name,
        model,
        any_value(window_first_day) as window_first_day,
        any_value(window_last_day) as window_last_day,
        count(*) as return_days,
        max(relative_day) = any_value(window_last_day)
            and min(relative_day - sessions_spanned) <= any_value(window_first_day) - 1 as covers_window,
        bool_or(spans_missing_session) as spans_missing_session,
        count(expected_return) = count(*) as has_expected_returns,
        product(1 + security_return order by relative_day) - 1 as window_return,
        product(1 + expected_return order by relative_day) - 1 as expected_window_return,
        sum(security_return - expected_return order by relative_day) as cumulative_abnormal_return,
        sum(forecast_error_variance order by relative_day) as car_variance,
        sum(market_value_change_usd order by relative_day) as usd_value_change
    from with_expected_returns
    group by event_id, ticker, window_name, model
),

final as (
    select
        event_id,
        ticker,
        window_name,
        model,
        window_first_day,
        window_last_day,
        return_days,
        covers_window,
        spans_missing_session,
        case when covers_window then window_return end as window_return,
        case when covers_window and has_expected_returns then expected_window_return end as expected_window_return,
        case when covers_window and has_expected_returns then cumulative_abnormal_return end as cumulative_abnormal_return,
        case when covers_window and has_expected_returns
             then window_return - expected_window_return end as buy_and_hold_abnormal_return,
        case when covers_window and has_expected_returns then car_variance end as car_variance,
        case when covers_window and has_expected_returns
             then cumulative_abnormal_return / sqrt(car_variance) end as car_t_stat,
        case when covers_window then usd_value_change end as usd_value_change
    from aggregated
)

select * from final
{% endmacro %}
