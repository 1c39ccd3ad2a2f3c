with raw_shares_outstanding as (
    select * from {{ source('raw', 'shares_outstanding') }}
),

renamed as (
    select
        cast(ticker as varchar) as ticker,
        cast(as_of_date as date) as as_of_date,
        cast(shares_outstanding as double) as shares_outstanding_reported,
        cast(note as varchar) as note,
        cast(source as varchar) as data_source,
        cast(run_id as varchar) as run_id,
        cast(loaded_at as timestamp) as loaded_at
    from raw_shares_outstanding
)

select * from renamed
