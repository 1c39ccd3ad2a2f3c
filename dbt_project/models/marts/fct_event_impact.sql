{{ config(post_hook="{{ create_event_impact_table_macro() }}") }}
-- Why a macro: the same SQL also builds the ad-hoc table macro marts.event_impact(date)
-- (macros/event_study/create_event_impact_table_macro.sql), so it is written once, as the macro
-- event_impact_wide() in macros/event_study/fct_event_impact.sql.
-- The post-hook (re)creates marts.event_impact(date), the ad-hoc twin of this model; it reads these
-- relations, which dbt must therefore build first:
-- depends_on: {{ ref('int_exchange_sessions') }}, {{ ref('dim_security') }}, {{ ref('fct_daily_returns') }}

{{ event_impact_wide(
    ref('int_event_securities'),
    ref('int_event_security_days'),
    ref('int_event_estimation'),
    ref('fct_event_window_impact')
) }}
