-- Session ordinals turn "n trading days later" into integer arithmetic: relative event days and
-- missing-session detection become differences of session_number instead of calendar lookups.
with sessions as (
    select * from {{ ref('stg_exchange_sessions') }}
),

final as (
    select
        exchange,
        session_date,
        row_number() over by_exchange as session_number,
        lag(session_date) over by_exchange as previous_session_date
    from sessions
    window by_exchange as (partition by exchange order by session_date)
)

select * from final
