{#- The SQL of model int_event_estimation, also used by marts.event_impact(date) (see
    event_study_windows_and_models.sql). Estimation-window statistics per event x security: OLS
    market model, mean return, residual variance and the share of positive residuals (for the
    generalized sign test). -#}
{% macro event_estimation(event_securities, event_security_days) %}
{%- set min_obs = var('event_min_estimation_obs') -%}
with event_securities as (
    select * from {{ event_securities }}
),

event_security_days as (
    select * from {{ event_security_days }}
),

estimation_sample as (
    select
        event_id,
        ticker,
        trade_date,
        security_return,
        benchmark_return
    from event_security_days
    where in_estimation_sample
),

fit as (
    select
        event_id,
        ticker,
        count(*) as estimation_obs,
        min(trade_date) as estimation_first_date,
        max(trade_date) as estimation_last_date,
        regr_intercept(security_return, benchmark_return order by trade_date) as alpha,
        regr_slope(security_return, benchmark_return order by trade_date) as beta,
        avg(security_return order by trade_date) as mean_return,
        avg(benchmark_return order by trade_date) as mean_benchmark_return,
        regr_sxx(security_return, benchmark_return order by trade_date) as benchmark_sxx
    from estimation_sample
    group by event_id, ticker
),

-- residuals need the fitted line, hence the second pass (it is also the numerically stable way)
residual_stats as (
    select
        sample.event_id,
        sample.ticker,
        sum(power(sample.security_return - fit.alpha - fit.beta * sample.benchmark_return, 2)
            order by sample.trade_date) / (fit.estimation_obs - 2) as residual_variance,
        avg(case when sample.security_return - fit.alpha - fit.beta * sample.benchmark_return > 0
                 then 1.0 else 0.0 end) as positive_residual_share
    from estimation_sample as sample
    inner join fit using (event_id, ticker)
    where fit.estimation_obs > 2
    group by sample.event_id, sample.ticker, fit.estimation_obs
),

assessed as (
    select
        event_securities.event_id,
        event_securities.ticker,
        coalesce(fit.estimation_obs, 0) as estimation_obs,
        fit.estimation_first_date,
        fit.estimation_last_date,
        fit.alpha,
        fit.beta,
        fit.mean_return,
        fit.mean_benchmark_return,
        fit.benchmark_sxx,
        residual_stats.residual_variance,
        residual_stats.positive_residual_share,
        case
            when event_securities.day0_session_number is null
                then 'no ' || event_securities.exchange || ' session on or after the event date'
            when event_securities.benchmark_ticker is null
                then 'security has no benchmark'
            when coalesce(fit.estimation_obs, 0) < {{ min_obs }}
                then coalesce(fit.estimation_obs, 0) || ' estimation observations, fewer than the {{ min_obs }} required'
            when fit.benchmark_sxx = 0
                then 'benchmark returns are constant over the estimation window'
        end as estimation_reason
    from event_securities
    left join fit using (event_id, ticker)
    left join residual_stats using (event_id, ticker)
),

final as (
    select
        event_id,
        ticker,
        estimation_obs,
        estimation_first_date,
        estimation_last_date,
        case when estimation_reason is null then alpha end as alpha,
        case when estimation_reason is null then beta end as beta,
        case when estimation_reason is null then residual_variance end as residual_variance,
        case when estimation_reason is null then mean_return end as mean_return,
        case when estimation_reason is null then mean_benchmark_return end as mean_benchmark_return,
        case when estimation_reason is null then benchmark_sxx end as benchmark_sxx,
        case when estimation_reason is null then positive_residual_share end as positive_residual_share,
        estimation_reason
    from assessed
)

select * from final
{% endmacro %}
