{{ config(tags=['story']) }}
-- The source has no ENR.DE row for Friday 2025-01-24, so its day-0 return covers two Xetra sessions
-- and must say so.
select
    ticker,
    day0_sessions_spanned,
    day0_spans_missing_session
from {{ ref('fct_event_impact') }}
where
    event_id = 'deepseek_selloff'
    and ticker = 'ENR.DE'
    and not (day0_spans_missing_session and day0_sessions_spanned = 2)
