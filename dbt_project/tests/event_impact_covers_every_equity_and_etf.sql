-- No security may drop out of an event silently: every event has one row per equity and ETF.
with expected as (
    select
        events.event_id,
        securities.ticker
    from {{ ref('events') }} as events
    cross join {{ ref('dim_security') }} as securities
    where securities.role in ('equity', 'etf')
)

select
    expected.event_id,
    expected.ticker
from expected
left join {{ ref('fct_event_impact') }} as impact using (event_id, ticker)
where impact.ticker is null
