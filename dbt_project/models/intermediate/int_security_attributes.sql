-- Descriptive attributes of every security, the input of the snp_security_attributes history.
with securities as (
    select * from {{ ref('stg_securities') }}
),

fundamentals as (
    select * from {{ ref('stg_fundamentals') }}
),

sector_map as (
    select * from {{ ref('sector_map') }}
),

latest_fundamentals as (
    select
        ticker,
        sector,
        industry
    from fundamentals
    qualify row_number() over (partition by ticker order by as_of_date desc) = 1
),

curated_classification as (
    select
        ticker,
        sector,
        industry
    from sector_map
),

final as (
    select
        securities.ticker,
        securities.security_name,
        securities.role,
        securities.exchange,
        securities.currency,
        securities.benchmark_ticker,
        -- sector and industry travel together so a security never mixes two classification schemes
        coalesce(latest_fundamentals.sector, curated_classification.sector) as sector,
        case
            when latest_fundamentals.sector is not null then latest_fundamentals.industry
            else curated_classification.industry
        end as industry,
        case
            when latest_fundamentals.sector is not null then 'fundamentals'
            when curated_classification.sector is not null then 'sector_map'
        end as classification_source
    from securities
    left join latest_fundamentals using (ticker)
    left join curated_classification using (ticker)
)

select * from final
