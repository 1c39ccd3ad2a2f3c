{{ config(tags=['story']) }}
-- US names trade every NYSE/Nasdaq session in the snapshot, so their estimation sample is exactly the
-- 250 sessions of relative days [-260, -11].
select
    ticker,
    estimation_obs
from {{ ref('fct_event_impact') }}
where
    event_id = 'deepseek_selloff'
    and ticker in ('NVDA', 'MSFT', 'AMZN')
    and estimation_obs <> 250
