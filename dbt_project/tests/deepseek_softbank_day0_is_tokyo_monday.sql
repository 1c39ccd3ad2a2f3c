{{ config(tags=['story']) }}
-- Tokyo reacted on Monday 2025-01-27 in its own session: day 0 follows the security's exchange.
select
    ticker,
    day0_date,
    day0_trade_date,
    day0_return
from {{ ref('fct_event_impact') }}
where
    event_id = 'deepseek_selloff'
    and ticker = '9984.T'
    and not (day0_date = date '2025-01-27' and day0_trade_date = date '2025-01-27' and day0_return < 0)
