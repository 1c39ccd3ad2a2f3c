-- Event impact aggregated over equities (ETFs are not companies) for the whole event, each sector
-- and each sector x industry, with the cross-sectional test statistics that are valid when every
-- firm shares the same event date. All statistics use market-model CARs. Floating-point
-- aggregates run in ticker order, so a rebuild of the same data gives the same bits.
{%- set windows = event_windows() %}
-- noqa: disable=LT02
-- (indentation is not checked in this file: sqlfluff cannot parse its GROUPING SETS and then
-- mis-reads the indentation of the column lists the jinja loops generate)

with event_impact as (
    select * from {{ ref('fct_event_impact') }}
),

residual_correlation_groups as (
    select * from {{ ref('int_event_residual_correlation_groups') }}
),

equities as (
    select
        *,
        coalesce(sector, 'Unclassified') as sector_group,
        coalesce(industry, 'Unclassified') as industry_group
    from event_impact
    where role = 'equity'
),

group_measures as (
    select
        event_id,
        {{ sector_grouping_level('sector_group', 'industry_group') }} as grouping_level,
        sector_group as sector,
        industry_group as industry,
        count(*) as securities_in_group,
        count(day0_return) as securities_counted,
        avg(day0_return order by ticker) as ew_day0_return,
        {{ weighted_average('day0_return', 'market_value_usd_before_day0', 'ticker') }} as vw_day0_return,
        sum(market_value_usd_before_day0 order by ticker) as market_value_usd_before_day0,
        sum(day0_usd_value_change order by ticker) as total_day0_usd_value_change,
        sum(least(day0_usd_value_change, 0) order by ticker) as total_day0_usd_value_lost,
        avg(case when day0_return < 0 then 1.0 when day0_return is not null then 0.0 end) as share_decliners,
        arg_min(ticker, day0_usd_value_change)
            filter (where day0_usd_value_change < 0) as largest_loser_ticker,
        min(day0_usd_value_change)
            filter (where day0_usd_value_change < 0) as largest_loser_day0_usd_value_change
        -- noqa: disable=LT04
        -- (leading commas: the columns of each window come from a jinja loop)
        {%- for window in windows %}
        {%- set car = 'car_mm_' ~ window.name %}
        {%- set scar = 'tstat_car_mm_' ~ window.name %}
        , count({{ car }}) as n_car_mm_{{ window.name }}
        , avg({{ car }} order by ticker) as ew_car_mm_{{ window.name }}
        , {{ weighted_average(car, 'market_value_usd_before_day0', 'ticker') }} as vw_car_mm_{{ window.name }}
        , sum(usd_value_change_{{ window.name }} order by ticker) as total_usd_value_change_{{ window.name }}
        , avg({{ car }} order by ticker)
            / (stddev_samp({{ car }} order by ticker) / sqrt(count({{ car }})))
            as t_cross_sectional_{{ window.name }}
        , sum({{ scar }} order by ticker)
            / sqrt(sum(
                case when {{ scar }} is not null then (estimation_obs - 2.0) / (estimation_obs - 4.0) end
                order by ticker
            )) as patell_z_{{ window.name }}
        , avg({{ scar }} order by ticker)
            / (stddev_samp({{ scar }} order by ticker) / sqrt(count({{ scar }}))) as bmp_t_{{ window.name }}
        , count({{ scar }}) as n_scar_{{ window.name }}
        , count(*) filter (where {{ car }} > 0) as n_positive_car_mm_{{ window.name }}
        , avg(positive_residual_share_mm order by ticker)
            filter (where {{ car }} is not null) as expected_positive_share_{{ window.name }}
        {%- endfor %}
        -- noqa: enable=LT04
    from equities
    -- sqlfluff's DuckDB dialect does not parse GROUPING SETS
    group by grouping sets ((event_id), (event_id, sector_group), (event_id, sector_group, industry_group))  -- noqa
),

-- Kolari-Pynnonen needs the average pairwise residual correlation within each group (a pair belongs
-- to a group only when both firms are in it), from int_event_residual_correlation_groups
with_group_correlation as (
    select
        group_measures.*,
        correlations.avg_residual_correlation,
        coalesce(correlations.residual_correlation_pairs, 0) as residual_correlation_pairs
    from group_measures
    left join residual_correlation_groups as correlations
        on
            group_measures.event_id = correlations.event_id
            and group_measures.grouping_level = correlations.grouping_level
            -- sector (industry) is null above its level on both sides
            and group_measures.sector is not distinct from correlations.sector
            and group_measures.industry is not distinct from correlations.industry
),

final as (
    select
        event_id,
        grouping_level,
        sector,
        industry,
        securities_in_group,
        securities_counted,
        ew_day0_return,
        vw_day0_return,
        market_value_usd_before_day0,
        total_day0_usd_value_change,
        total_day0_usd_value_lost,
        share_decliners,
        largest_loser_ticker,
        largest_loser_day0_usd_value_change,
        avg_residual_correlation,
        residual_correlation_pairs
        -- noqa: disable=LT04
        {%- for window in windows %}
        , n_car_mm_{{ window.name }}
        , ew_car_mm_{{ window.name }}
        , vw_car_mm_{{ window.name }}
        , total_usd_value_change_{{ window.name }}
        , t_cross_sectional_{{ window.name }}
        , patell_z_{{ window.name }}
        , bmp_t_{{ window.name }}
        , bmp_t_{{ window.name }}
            * sqrt((1 - avg_residual_correlation)
                   / nullif(1 + (n_scar_{{ window.name }} - 1) * avg_residual_correlation, 0))
            as bmp_kp_t_{{ window.name }}
        , n_positive_car_mm_{{ window.name }}
        , expected_positive_share_{{ window.name }}
        , (n_positive_car_mm_{{ window.name }}
           - n_car_mm_{{ window.name }} * expected_positive_share_{{ window.name }})
            / sqrt(n_car_mm_{{ window.name }} * expected_positive_share_{{ window.name }}
                   * (1 - expected_positive_share_{{ window.name }})) as generalized_sign_z_{{ window.name }}
        {%- endfor %}
        -- noqa: enable=LT04
    from with_group_correlation
)

select * from final
