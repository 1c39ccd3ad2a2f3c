{{ config(
    materialized='incremental',
    unique_key=['ticker', 'trade_date', 'check_name'],
    incremental_strategy='merge',
    merge_exclude_columns=['first_seen'],
    on_schema_change='fail',
    tags=['incremental'],
) }}
-- The record of every flag of the price checks, kept across runs: each run merges the findings of
-- its window (large moves, stale closes, missing sessions, FX range quirks); a finding found again
-- keeps its first_seen (the merge leaves it) and takes this run's values, run_id and last_seen; a
-- finding a later run no longer makes keeps its row as it was (its older last_seen says so).

with

large_moves as (

    select * from {{ ref('large_moves') }}

),

stale_closes as (

    select * from {{ ref('stale_closes') }}

),

missing_sessions as (

    select * from {{ ref('missing_sessions') }}

),

fx_range_quirks as (

    select * from {{ ref('fx_range_quirks') }}

),

findings as (

    select
        ticker,
        trade_date,
        check_name,
        classification,
        daily_return,
        reason
    from large_moves

    union all

    select
        ticker,
        trade_date,
        check_name,
        classification,
        daily_return,
        reason
    from stale_closes

    union all

    select
        ticker,
        trade_date,
        check_name,
        classification,
        daily_return,
        reason
    from missing_sessions

    union all

    select
        ticker,
        trade_date,
        check_name,
        classification,
        daily_return,
        reason
    from fx_range_quirks

)

select
    ticker,
    trade_date,
    check_name,
    classification,
    daily_return,
    reason,
    {{ quality_run_id() }} as run_id,
    {{ quality_run_time() }} as first_seen,
    {{ quality_run_time() }} as last_seen
from findings
