{#- What the quality models re-judge, and under which run they record it.

    A quality model recomputes the trade dates from the run's window start on (refresh_start, the
    orchestration's MARKET_WAREHOUSE_REFRESH_START; see refresh_window.sql): a nightly run loaded
    only those days, so only their bars and moves can have changed, and earlier rows stay as
    earlier runs recorded them. Without a window, or with --full-refresh, the whole history is
    judged: that is also how to re-classify it after a rule changes. -#}
{% macro quality_window_start() -%}
    {#- flags is undefined where sqlfluff renders the models (.sqlfluff) -#}
    {%- set full_refresh = flags.FULL_REFRESH if flags is defined else false -%}
    {%- set start = refresh_start_value() -%}
    {%- if start and not full_refresh -%}
        cast('{{ start }}' as date)
    {%- else -%}
        date '0001-01-01'
    {%- endif -%}
{%- endmacro %}

{#- The time every row a run records carries in first_seen / last_seen: the same for every model of
    one dbt invocation, so a row this run did not find again is the one with an older last_seen. -#}
{% macro quality_run_time() -%}
    {#- run_started_at is undefined where sqlfluff renders the models -#}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") if run_started_at is defined
             else "1970-01-01" }}' as timestamp)
{%- endmacro %}

{#- The run a recorded row comes from: the Dagster run id when the orchestration passes it
    (MARKET_WAREHOUSE_RUN_ID), else dbt's own invocation id (dbt run by hand). -#}
{% macro quality_run_id() -%}
    {#- env_var is undefined where sqlfluff renders the models -#}
    '{{ env_var("MARKET_WAREHOUSE_RUN_ID", invocation_id) if env_var is defined else invocation_id }}'
{%- endmacro %}

{#- Text of a return as a signed percentage with one decimal, e.g. '-17.0%'. -#}
{% macro quality_pct(value) -%}
    printf('%+.1f%%', 100 * {{ value }})
{%- endmacro %}

{#- Whether a return is a large move: at or beyond the drop or the rise threshold. -#}
{% macro quality_is_large(value) -%}
    ({{ value }} <= {{ quality_rule('drop_threshold') }} or {{ value }} >= {{ quality_rule('rise_threshold') }})
{%- endmacro %}

{#- A threshold of the quality rules (var quality_<name>, dbt_project.yml; the orchestration passes
    the quality_rules resource's values), as a DOUBLE like the returns it is compared with. -#}
{% macro quality_rule(name) -%}
    cast({{ var('quality_' ~ name) }} as double)
{%- endmacro %}
