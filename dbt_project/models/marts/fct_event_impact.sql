{{ config(post_hook="{{ create_event_impact_table_macro() }}") }}
-- The post-hook (re)creates marts.event_impact(date), the ad-hoc twin of this model; it reads these
-- relations, which dbt must therefore build first:
-- depends_on: {{ ref('int_exchange_sessions') }}, {{ ref('dim_security') }}, {{ ref('fct_daily_returns') }}

{{ event_impact_wide(
    ref('int_event_securities'),
    ref('int_event_security_days'),
    ref('int_event_estimation'),
    ref('fct_event_window_impact')
) }}
