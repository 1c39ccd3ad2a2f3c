-- Why a macro: the same SQL also builds the ad-hoc table macro marts.event_impact(date)
-- (macros/event_study/create_event_impact_table_macro.sql), so it is written once, as the macro
-- event_window_impact() in macros/event_study/fct_event_window_impact.sql.
{{ event_window_impact(ref('int_event_security_days'), ref('int_event_estimation')) }}
