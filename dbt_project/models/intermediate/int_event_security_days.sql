{{ event_security_days(ref('int_event_securities'), ref('fct_daily_returns')) }}
