{#- The refresh window of an incremental run starts at the first trade date of its partition range;
    incremental models recompute from there to the end of the data.

    Where the start comes from: the var `refresh_start`, else the environment variable
    MARKET_WAREHOUSE_REFRESH_START (an ISO date), else none. The orchestration sets the environment
    variable rather than --vars, because changed --vars make dbt re-parse the whole project on
    every run; a user running dbt by hand can pass the var refresh_start instead. -#}
{% macro refresh_start_value() -%}
    {{ return(var('refresh_start') or env_var('MARKET_WAREHOUSE_REFRESH_START', '') or none) }}
{%- endmacro %}

{#- refresh_window_value('refresh_start') = refresh_start_value(), kept for the callers that name the
    setting (the only one there is). -#}
{% macro refresh_window_value(name='refresh_start') -%}
    {%- if name != 'refresh_start' -%}
        {{ exceptions.raise_compiler_error("refresh_window_value: unknown setting " ~ name) }}
    {%- endif -%}
    {{ return(refresh_start_value()) }}
{%- endmacro %}

{#- First trade date an incremental model recomputes: the window's start when a run has one, else a
    few days before the newest day already built (late corrections to recent prices get picked up). -#}
{% macro refresh_start_date() -%}
    {%- set start = refresh_start_value() -%}
    {%- if start -%}
        cast('{{ start }}' as date)
    {%- else -%}
        (select coalesce(max(trade_date) - {{ var('refresh_lookback_days') | int }}, date '1900-01-01') from {{ this }})
    {%- endif -%}
{%- endmacro %}

{#- A data test's filter to the rows an incremental run rebuilt: `trade_date >= <start>` when the run
    has a window and is not a --full-refresh, else `1=1` (the whole table is tested). Rows of tickers
    rebuilt from before the window (see daily_chain_incremental.sql) are left to the next full run. -#}
{% macro refresh_window_filter(column='trade_date') -%}
    {%- set start = refresh_start_value() -%}
    {%- if start and not flags.FULL_REFRESH -%}
        {{ column }} >= cast('{{ start }}' as date)
    {%- else -%}
        1=1
    {%- endif -%}
{%- endmacro %}

{#-
  ==================================================================================================
  NOTE: THIS OVERRIDES A DBT BUILT-IN. get_where_subquery is the macro dbt calls for EVERY data test
  that has a `where:` config; defining it in the project replaces dbt's own for the whole project.
  ==================================================================================================
  Why: a test's `where` config cannot call project macros (it is rendered at parse time, in the yml
  context), yet the tests of the incremental models should read only the rows the run rebuilt. So a
  `where` may contain the placeholder __refresh_window__, which this macro replaces, when the test
  runs, by refresh_window_filter(): e.g. `where: "__refresh_window__ and simple_return is not null"`
  becomes `trade_date >= cast('2025-06-23' as date) and simple_return is not null` (or `1=1 and ...`
  on a run without a window / on --full-refresh). A `where` without the placeholder goes to dbt's own
  get_where_subquery unchanged. The Dagster asset checks show the placeholder as "in the run's window"
  (orchestration/defs/dbt/assets.py).
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__refresh_window__' in where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where | replace('__refresh_window__', refresh_window_filter()) }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) -%}
    {%- endif -%}
{%- endmacro %}
