{{ event_estimation(ref('int_event_securities'), ref('int_event_security_days')) }}
