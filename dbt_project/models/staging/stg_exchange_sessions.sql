with raw_exchange_sessions as (
    select * from {{ source('raw', 'exchange_sessions') }}
),

renamed as (
    select
        cast(exchange as varchar) as exchange,
        cast(session_date as date) as session_date,
        cast(source as varchar) as data_source,
        cast(run_id as varchar) as run_id,
        cast(loaded_at as timestamp) as loaded_at
    from raw_exchange_sessions
)

select * from renamed
