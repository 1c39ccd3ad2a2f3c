with raw_securities as (
    select * from {{ source('raw', 'securities') }}
),

renamed as (
    select
        cast(ticker as varchar) as ticker,
        cast(name as varchar) as security_name,
        cast(role as varchar) as role,
        cast(exchange as varchar) as exchange,
        cast(currency as varchar) as currency,
        cast(benchmark as varchar) as benchmark_ticker,
        cast(source as varchar) as data_source,
        cast(run_id as varchar) as run_id,
        cast(loaded_at as timestamp) as loaded_at
    from raw_securities
)

select * from renamed
