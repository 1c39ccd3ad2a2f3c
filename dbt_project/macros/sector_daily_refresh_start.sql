{#- First trade date agg_sector_daily recomputes in an incremental run: the `refresh_start` var when
    the orchestration passes a partition range, else a few days before the newest day already built
    (late corrections to recent prices get picked up by the nightly run). -#}
{% macro sector_daily_refresh_start() -%}
    {%- if var('refresh_start') -%}
        cast('{{ var("refresh_start") }}' as date)
    {%- else -%}
        (select coalesce(max(trade_date) - {{ var('refresh_lookback_days') | int }}, date '1900-01-01') from {{ this }})
    {%- endif -%}
{%- endmacro %}
