{{ config(tags=['story']) }}
-- NVIDIA fell 16.97% on 2025-01-27 (142.62 -> 118.42), the headline move of the DeepSeek sell-off.
-- Only where NVDA is in the universe: a user's own universe need not hold the reference story.
select 'NVDA day-0 row missing' as failure
where
    exists (
        select 1 from {{ ref('dim_security') }}
        where ticker = 'NVDA'
    )
    and not exists (
        select 1 from {{ ref('fct_event_impact') }}
        where event_id = 'deepseek_selloff' and ticker = 'NVDA'
    )
union all
select 'NVDA day-0 return ' || day0_return
from {{ ref('fct_event_impact') }}
where
    event_id = 'deepseek_selloff'
    and ticker = 'NVDA'
    and not coalesce(day0_return between -0.18 and -0.16, false)
