{#- The refresh window of an incremental run starts at the first trade date of its partition range;
    incremental models recompute from there to the end of the data.

    The orchestration passes it in the environment (MARKET_WAREHOUSE_REFRESH_START, an ISO date)
    rather than as --vars, because changed --vars make dbt re-parse the whole project on every run;
    a user running dbt by hand can pass the var refresh_start instead. -#}
{% macro refresh_window_value(name) -%}
    {{ return(var(name) or env_var('MARKET_WAREHOUSE_' ~ name | upper, '') or none) }}
{%- endmacro %}

{#- First trade date an incremental model recomputes: the window's start when a run has one, else a
    few days before the newest day already built (late corrections to recent prices get picked up). -#}
{% macro refresh_start_date() -%}
    {%- set start = refresh_window_value('refresh_start') -%}
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
    {%- set start = refresh_window_value('refresh_start') -%}
    {%- if start and not flags.FULL_REFRESH -%}
        {{ column }} >= cast('{{ start }}' as date)
    {%- else -%}
        1=1
    {%- endif -%}
{%- endmacro %}

{#- A test's `where` config cannot call project macros (it is rendered at parse time, in the yml
    context), so the placeholder __refresh_window__ in it is replaced here, when the test runs, by
    refresh_window_filter(): e.g. `where: "__refresh_window__ and simple_return is not null"`.
    Otherwise dbt's own get_where_subquery. -#}
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
