with raw_fundamentals as (
    select * from {{ source('raw', 'fundamentals') }}
),

renamed as (
    select
        cast(ticker as varchar) as ticker,
        cast(as_of_date as date) as as_of_date,
        cast(name as varchar) as company_name,
        cast(sector as varchar) as sector,
        cast(industry as varchar) as industry,
        cast(currency as varchar) as currency,
        cast(exchange as varchar) as source_exchange_code,
        cast(shares_outstanding as double) as shares_outstanding,
        cast(market_cap as double) as market_cap,
        cast(trailing_pe as double) as trailing_pe,
        cast(forward_pe as double) as forward_pe,
        cast(price_to_book as double) as price_to_book,
        cast(dividend_yield as double) as dividend_yield,
        cast(beta as double) as reported_beta,
        cast(source as varchar) as data_source,
        cast(run_id as varchar) as run_id,
        cast(loaded_at as timestamp) as loaded_at
    from raw_fundamentals
)

select * from renamed
