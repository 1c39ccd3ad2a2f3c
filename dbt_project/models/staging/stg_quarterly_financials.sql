with raw_quarterly_financials as (
    select * from {{ source('raw', 'quarterly_financials') }}
),

renamed as (
    select
        cast(ticker as varchar) as ticker,
        cast(period_end as date) as period_end_date,
        cast(revenue as double) as revenue,
        cast(net_income as double) as net_income,
        cast(diluted_eps as double) as diluted_eps,
        cast(source as varchar) as data_source,
        cast(run_id as varchar) as run_id,
        cast(loaded_at as timestamp) as loaded_at
    from raw_quarterly_financials
)

select * from renamed
