{#- A WHERE clause that keeps the quarantined bars of `raw_table` (impossible values, one-day
    spikes; models/quality/quarantined_prices.sql) out of a staging model, so they never reach the
    marts. The staging model also depends on quarantine_load_health, whose test stops dbt build
    before it when the load is broken. The relation check lets a selection that leaves the
    quality models out (`dbt run --select stg_daily_prices` on a new warehouse) still run. -#}
{% macro exclude_quarantined(raw_table, alias, date_column) -%}
-- depends_on: {{ ref('quarantine_load_health') }}
{%- set quarantine = ref('quarantined_prices') -%}
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
