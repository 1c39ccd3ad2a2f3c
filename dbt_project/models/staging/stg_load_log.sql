with raw_load_log as (
    select * from {{ source('raw', 'load_log') }}
),

renamed as (
    select
        cast(run_id as varchar) as run_id,
        cast(asset_key as varchar) as asset_key,
        cast(partition_start as date) as partition_start_date,
        cast(partition_end as date) as partition_end_date,
        cast(source as varchar) as data_source,
        cast(started_at as timestamp) as started_at,
        cast(finished_at as timestamp) as finished_at,
        cast(tickers_requested as integer) as tickers_requested,
        cast(tickers_loaded as integer) as tickers_loaded,
        cast(tickers_failed as integer) as tickers_failed,
        cast(failures as json) as failures,
        cast(rows_written as bigint) as rows_written,
        cast(rows_inserted as bigint) as rows_inserted,
        cast(rows_changed as bigint) as rows_changed,
        cast(rows_unchanged as bigint) as rows_unchanged
    from raw_load_log
)

select * from renamed
