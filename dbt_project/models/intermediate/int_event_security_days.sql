-- Why a macro: the same SQL also builds the ad-hoc table macro marts.event_impact(date)
-- (macros/event_study/create_event_impact_table_macro.sql), so it is written once, as the macro
-- event_security_days() in macros/event_study/int_event_security_days.sql.
{{ event_security_days(ref('int_event_securities'), ref('fct_daily_returns')) }}
