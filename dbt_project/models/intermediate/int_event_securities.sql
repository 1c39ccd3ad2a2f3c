-- Why a macro: the same SQL also builds the ad-hoc table macro marts.event_impact(date)
-- (macros/event_study/create_event_impact_table_macro.sql), so it is written once, as the macro
-- event_securities() in macros/event_study/int_event_securities.sql.
{{ event_securities(
    ref('events'),
    ref('int_exchange_sessions'),
    ref('dim_security'),
    ref('fct_daily_returns')
) }}
