{{ config(materialized='view') }}
-- Estimation-window market-model residuals of the equities of each event, with the groups
-- agg_event_sector_impact reports on: the input of the Kolari-Pynnonen r-bar
-- (int_event_residual_correlation_groups). A view: that model reads it once to fingerprint each
-- event and again only for the events whose fingerprint changed.
with event_security_days as (
    select * from {{ ref('int_event_security_days') }}
),

event_estimation as (
    select * from {{ ref('int_event_estimation') }}
),

event_securities as (
    select * from {{ ref('int_event_securities') }}
),

final as (
    select
        days.event_id,
        days.ticker,
        days.trade_date,
        days.security_return - estimation.alpha - estimation.beta * days.benchmark_return as residual,
        coalesce(event_securities.sector, 'Unclassified') as sector_group,
        coalesce(event_securities.industry, 'Unclassified') as industry_group
    from event_security_days as days
    inner join event_estimation as estimation using (event_id, ticker)
    inner join event_securities using (event_id, ticker)
    where
        days.in_estimation_sample
        and estimation.alpha is not null
        and event_securities.role = 'equity'
)

select * from final
