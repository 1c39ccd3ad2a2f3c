{{ config(tags=['story']) }}
-- NVIDIA fell 16.97% on 2025-01-27 (142.62 -> 118.42), the headline move of the DeepSeek sell-off.
select 'NVDA day-0 row missing' as failure
where not exists (
    select 1 from {{ ref('fct_event_impact') }}
    where event_id = 'deepseek_selloff' and ticker = 'NVDA'
)
union all
select 'NVDA day-0 return ' || day0_return
from {{ ref('fct_event_impact') }}
where event_id = 'deepseek_selloff'
  and ticker = 'NVDA'
  and not coalesce(day0_return between -0.18 and -0.16, false)
