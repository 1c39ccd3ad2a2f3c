{#- The refresh window of an incremental run: the trade dates [start, end] its partition range covers.

    The orchestration passes it in the environment (MARKET_WAREHOUSE_REFRESH_START / _END, ISO dates)
    rather than as --vars, because changed --vars make dbt re-parse the whole project on every run;
    a user running dbt by hand can pass the vars refresh_start / refresh_end instead. -#}
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

{#- `and trade_date <= <end>` when the run's window has an end, else nothing. -#}
{% macro refresh_end_filter(column='trade_date') -%}
    {%- set end = refresh_window_value('refresh_end') -%}
    {%- if end %} and {{ column }} <= cast('{{ end }}' as date){% endif -%}
{%- endmacro %}
