{#-
  The event-study SQL, written once and used twice: by the int_event_* / fct_event_* models (for the
  curated events seed) and by the marts.event_impact(date) table macro (for any date a SQL user asks
  about). Each macro takes relation names or CTE names as arguments and returns one SELECT.

  Conventions
  - Relative day d of a security = its exchange's session ordinal minus the ordinal of day 0, where
    day 0 is the first session of the security's OWN exchange on or after the event date.
  - R = the security's simple total return against its previous trading row; Rm = the benchmark's
    return over the same interval (fct_daily_returns.benchmark_return), both in local currency.
  - Estimation window: relative days [event_estimation_first_day, event_estimation_last_day]
    (default [-260, -11]); a day enters the sample when R and Rm exist and R does not span a missing
    session. The estimated models need event_min_estimation_obs observations (default 120).
  - Every floating-point aggregate is ordered by a key unique within its group (`sum(x order by
    trade_date)`): without it DuckDB adds the rows up in whatever order its threads deliver them,
    and the last bits of the results change from one build of the same data to the next.
-#}

{% macro event_windows() %}
    {{ return([
        {'name': '0_0', 'first_day': 0, 'last_day': 0},
        {'name': 'm1_p1', 'first_day': -1, 'last_day': 1},
        {'name': '0_p1', 'first_day': 0, 'last_day': 1},
        {'name': '0_p5', 'first_day': 0, 'last_day': 5},
        {'name': 'm5_p5', 'first_day': -5, 'last_day': 5},
    ]) }}
{% endmacro %}

{% macro event_expected_return_models() %}
    {{ return([
        {'name': 'market_model', 'abbreviation': 'mm'},
        {'name': 'market_adjusted', 'abbreviation': 'mktadj'},
        {'name': 'mean_adjusted', 'abbreviation': 'meanadj'},
    ]) }}
{% endmacro %}


{#- One row per event x equity/ETF, whether or not the security has data around the event. -#}
{% macro event_securities(events, sessions, securities, daily_returns) %}
with price_history as (
    select ticker, min(trade_date) as first_price_date, max(trade_date) as last_price_date
    from {{ daily_returns }}
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
    from {{ events }} as events
    cross join {{ securities }} as securities
    where securities.role in ('equity', 'etf')
)

select
    event_securities.*,
    day0.session_date as day0_date,
    day0.session_number as day0_session_number,
    price_history.first_price_date,
    price_history.last_price_date
from event_securities
asof left join {{ sessions }} as day0
    on day0.exchange = event_securities.exchange
    and day0.session_date >= event_securities.event_date
left join price_history using (ticker)
{% endmacro %}


{#- One row per event x security x trading day from the start of the estimation window to the end of
    the longest event window, keyed by relative day. -#}
{% macro event_security_days(event_securities, daily_returns) %}
{%- set windows = event_windows() -%}
{%- set first_day = [var('event_estimation_first_day')] + windows | map(attribute='first_day') | list -%}
{%- set last_day = windows | map(attribute='last_day') | list -%}
-- one probe per relative day turns the window into an equality join on (ticker, session): its cost
-- grows with events x securities x window length, not with the length of each price history.
-- (The probes are unnested in the select list: DuckDB 2.0 raised an internal "dict-surviving
-- cache" error when a filtered relation was cross-joined with range() and then joined on ticker.)
with probes as (
    select
        event_id,
        ticker,
        day0_session_number,
        unnest(range({{ first_day | min }}, {{ (last_day | max) + 1 }})) as relative_day
    from {{ event_securities }}
)

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
    probes.relative_day between {{ var('event_estimation_first_day') }} and {{ var('event_estimation_last_day') }}
        and returns.simple_return is not null
        and returns.benchmark_return is not null
        and not returns.spans_missing_session as in_estimation_sample
from probes
inner join {{ daily_returns }} as returns
    on returns.ticker = probes.ticker
    and returns.exchange_session_number = probes.day0_session_number + probes.relative_day
    and returns.is_exchange_session
{% endmacro %}


{#- Estimation-window statistics per event x security: OLS market model, mean return, residual
    variance and the share of positive residuals (for the generalized sign test). -#}
{% macro event_estimation(event_securities, event_security_days) %}
{%- set min_obs = var('event_min_estimation_obs') -%}
with estimation_sample as (
    select event_id, ticker, trade_date, security_return, benchmark_return
    from {{ event_security_days }}
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
    from {{ event_securities }} as event_securities
    left join fit using (event_id, ticker)
    left join residual_stats using (event_id, ticker)
)

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
{% endmacro %}


{#- One row per event x security x window x expected-return model (see event_windows and
    event_expected_return_models). Values are null unless the window's returns run from the close of
    day first_day-1 (or earlier, across a missing session) to the close of day last_day. -#}
{% macro event_window_impact(event_security_days, event_estimation) %}
with windows as (
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
    from {{ event_security_days }} as days
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
    inner join {{ event_estimation }} as estimation using (event_id, ticker)
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
)

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
{% endmacro %}


{#- One row per event x security: day-0 facts, estimation results and every window x model pivoted
    into columns named <measure>_<model abbreviation>_<window name>, plus ranks within the event. -#}
{% macro event_impact_wide(event_securities, event_security_days, event_estimation, event_window_impact) %}
with day0 as (
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
    from {{ event_security_days }}
    where relative_day = 0
),

windows_pivoted as (
    select
        event_id,
        ticker
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
    from {{ event_window_impact }}
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
    from {{ event_securities }} as event_securities
    left join day0 using (event_id, ticker)
    left join {{ event_estimation }} as estimation using (event_id, ticker)
    left join windows_pivoted using (event_id, ticker)
)

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
{% endmacro %}
