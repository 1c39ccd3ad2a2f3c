{{ config(tags=['story']) }}
-- The sell-off hit AI chip makers hardest: semiconductors must be the sector x industry group with
-- the largest USD loss, inside the sector (Technology) with the largest loss.
with ranked as (
    select
        grouping_level,
        sector,
        industry,
        row_number() over (partition by grouping_level order by total_day0_usd_value_change) as loss_rank
    from {{ ref('agg_event_sector_impact') }}
    where
        event_id = 'deepseek_selloff'
        and grouping_level in ('sector', 'sector_industry')
)

select
    grouping_level,
    sector,
    industry
from ranked
where loss_rank = 1
-- only for a universe that holds the reference story's chip makers
and exists (
    select 1 from {{ ref('dim_security') }} as securities
    where securities.ticker = 'NVDA'
)
and not (sector = 'Technology' and (grouping_level = 'sector' or industry = 'Semiconductors'))
