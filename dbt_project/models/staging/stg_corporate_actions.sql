with raw_corporate_actions as (
    select * from {{ source('raw', 'corporate_actions') }}
),

renamed as (
    select
        cast(ticker as varchar) as ticker,
        cast(action_date as date) as action_date,
        cast(action_type as varchar) as action_type,
        cast(value as double) as action_value,
        cast(source as varchar) as data_source,
        cast(run_id as varchar) as run_id,
        cast(loaded_at as timestamp) as loaded_at
    from raw_corporate_actions
)

select * from renamed
