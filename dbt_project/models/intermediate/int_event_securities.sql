{{ event_securities(ref('events'), ref('int_exchange_sessions'), ref('dim_security'), ref('fct_daily_returns')) }}
