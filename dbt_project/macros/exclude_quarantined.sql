{#- A WHERE clause that keeps the quarantined bars of `raw_table` (impossible values, see
    docs/QUALITY.md) out of a staging model, so they never reach the marts. The relation check lets
    dbt run on a warehouse the quality assets never ran on (tests/dbt_helpers.py builds raw alone). -#}
{% macro exclude_quarantined(raw_table, alias, date_column) -%}
{%- set quarantine = source('quality', 'quarantined_prices') -%}
{%- if load_relation(quarantine) is not none %}
where not exists (
    select 1
    from {{ quarantine }} as quarantined
    where quarantined.table_name = 'raw.{{ raw_table }}'
        and quarantined.ticker = {{ alias }}.ticker
        and quarantined.trade_date = {{ alias }}.{{ date_column }}
)
{%- endif %}
{%- endmacro %}
