{#- marts.event_impact(event_date): the fct_event_impact columns for any date, computed on the fly
    from the same macros (event_id = 'ad_hoc'). Relations are schema-qualified without the database
    name so the macro keeps working in a copy of the warehouse file opened under another name. -#}
{% macro create_event_impact_table_macro() %}
{%- set sessions = ref('int_exchange_sessions').include(database=false) -%}
{%- set securities = ref('dim_security').include(database=false) -%}
{%- set daily_returns = ref('fct_daily_returns').include(database=false) -%}
create or replace macro {{ this.schema }}.event_impact(requested_event_date) as table
with ad_hoc_event as (
    select 'ad_hoc' as event_id, cast(requested_event_date as date) as event_date
),
ad_hoc_event_securities as (
    {{ event_securities('ad_hoc_event', sessions, securities, daily_returns) }}
),
ad_hoc_event_security_days as (
    {{ event_security_days('ad_hoc_event_securities', daily_returns) }}
),
ad_hoc_event_estimation as (
    {{ event_estimation('ad_hoc_event_securities', 'ad_hoc_event_security_days') }}
),
ad_hoc_event_window_impact as (
    {{ event_window_impact('ad_hoc_event_security_days', 'ad_hoc_event_estimation') }}
)
select * from (
    {{ event_impact_wide('ad_hoc_event_securities', 'ad_hoc_event_security_days', 'ad_hoc_event_estimation', 'ad_hoc_event_window_impact') }}
)
{% endmacro %}
