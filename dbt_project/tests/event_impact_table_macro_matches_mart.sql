-- marts.event_impact(date) and fct_event_impact come from the same macros; for a seeded event they
-- must agree on every security (a drift here means the hook did not rebuild the table macro).
-- Parallel aggregation may sum in another order, hence a tolerance instead of equality.
{%- set compared = ['day0_return', 'car_mktadj_0_0', 'car_mm_m5_p5', 'bhar_meanadj_0_p1',
                    'tstat_car_mm_0_p5', 'usd_value_change_0_p1'] %}
with ad_hoc as (
    select * from {{ ref('fct_event_impact').schema }}.event_impact(date '2025-01-27')
),

seeded as (
    select * from {{ ref('fct_event_impact') }}
    where event_id = 'deepseek_selloff'
)

select
    seeded.ticker,
    ad_hoc.ticker as ad_hoc_ticker
from seeded
full outer join ad_hoc using (ticker)
where
    seeded.ticker is null
    or ad_hoc.ticker is null
    or seeded.missing_reason is distinct from ad_hoc.missing_reason
    {% for column in compared %}
    or (seeded.{{ column }} is null) <> (ad_hoc.{{ column }} is null)
    or abs(seeded.{{ column }} - ad_hoc.{{ column }}) > 1e-12 * greatest(1, abs(seeded.{{ column }}))
    {% endfor %}
