{{ event_window_impact(ref('int_event_security_days'), ref('int_event_estimation')) }}
