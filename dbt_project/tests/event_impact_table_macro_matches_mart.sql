-- marts.event_impact(date) and fct_event_impact come from the same macros; for a seeded event they
-- must agree on every security (a drift here means the hook did not rebuild the table macro).
with ad_hoc as (
    select * from {{ ref('fct_event_impact').schema }}.event_impact(date '2025-01-27')
),

seeded as (
    select * from {{ ref('fct_event_impact') }}
    where event_id = 'deepseek_selloff'
)

select seeded.ticker
from seeded
full outer join ad_hoc using (ticker)
where seeded.ticker is null
   or ad_hoc.ticker is null
   or seeded.day0_return is distinct from ad_hoc.day0_return
   or seeded.car_mktadj_0_0 is distinct from ad_hoc.car_mktadj_0_0
   or seeded.car_mm_m5_p5 is distinct from ad_hoc.car_mm_m5_p5
   or seeded.tstat_car_mm_0_p5 is distinct from ad_hoc.tstat_car_mm_0_p5
   or seeded.usd_value_change_0_p1 is distinct from ad_hoc.usd_value_change_0_p1
   or seeded.missing_reason is distinct from ad_hoc.missing_reason
