with raw_load_failures as (
    select * from {{ source('raw', 'load_failures') }}
),

renamed as (
    select
        cast(run_id as varchar) as run_id,
        cast(asset_key as varchar) as asset_key,
        cast(partition_start as date) as partition_start_date,
        cast(ticker as varchar) as ticker,
        cast(reason as varchar) as reason,
        cast(logged_at as timestamp) as logged_at
    from raw_load_failures
)

select * from renamed
