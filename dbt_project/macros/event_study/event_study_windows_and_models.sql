{#-
  Shared by every event-study macro in this folder: the event windows and the expected-return
  models, listed once, and the conventions all of them follow.

  Why the event study's SQL is in macros. The same SQL is used twice: by the int_event_* /
  fct_event_* models (for the curated events seed) and by the table macro marts.event_impact(date)
  (create_event_impact_table_macro.sql here, for any date a SQL user asks about). Each model's SQL
  is one macro in a file named after the model; it takes relation names or CTE names as arguments
  and returns one SELECT:
    int_event_securities     -> int_event_securities.sql      event_securities(...)
    int_event_security_days  -> int_event_security_days.sql   event_security_days(...)
    int_event_estimation     -> int_event_estimation.sql      event_estimation(...)
    fct_event_window_impact  -> fct_event_window_impact.sql   event_window_impact(...)
    fct_event_impact         -> fct_event_impact.sql          event_impact_wide(...)

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
