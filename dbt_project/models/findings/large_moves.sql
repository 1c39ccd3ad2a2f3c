{{ config(materialized='table') }}
-- The large one-day moves of the run's window, classified (docs/QUALITY.md, "Large moves"): the
-- moves dated from the window start on, and each security's last move before it, whose next
-- session is new and may now show it was a spike. A table of this run's classification, read by
-- the large_moves check and merged into price_anomalies; detected_market_events adds up its
-- market_event flags. Each move is classified by the first rule that holds: corporate_action,
-- suspect_data (impossible values), market_event, suspect_data (a spike), idiosyncratic.

{%- set since = quality_window_start() %}

with

daily_returns as (

    select * from {{ ref('fct_daily_returns') }}

),

securities as (

    select * from {{ ref('dim_security') }}

),

corporate_actions as (

    select * from {{ ref('stg_corporate_actions') }}

),

-- how far back the rows must reach: the last move before the window and the return before that
-- one, two steps of the mart's own previous_trade_date, whatever gaps a security has
first_step as (

    select least({{ since }}, coalesce(min(previous_trade_date), {{ since }})) as scan_start
    from daily_returns
    where trade_date >= {{ since }}

),

scan as (

    select
        least(first_step.scan_start, coalesce(min(daily_returns.previous_trade_date), first_step.scan_start))
            as scan_start
    from first_step
    left join daily_returns on first_step.scan_start <= daily_returns.trade_date
    group by first_step.scan_start

),

returns as (

    select
        daily_returns.ticker,
        daily_returns.trade_date,
        daily_returns.role,
        daily_returns.exchange,
        daily_returns.close_price,
        daily_returns.simple_return,
        daily_returns.raw_close_return,
        daily_returns.benchmark_ticker,
        daily_returns.benchmark_return,
        daily_returns.is_exchange_session,
        daily_returns.sessions_spanned,
        daily_returns.market_value_change_usd,
        securities.sector,
        securities.industry,
        lag(daily_returns.simple_return) over by_ticker as previous_return,
        lag(daily_returns.trade_date) over by_ticker as previous_trade_date,
        lead(daily_returns.simple_return) over by_ticker as next_return,
        lead(daily_returns.trade_date) over by_ticker as next_trade_date
    from daily_returns
    left join securities using (ticker)
    -- filtered before the lag and lead: these rows hold every neighbour of the moves classified
    where daily_returns.trade_date >= (select scan.scan_start from scan)
    window by_ticker as (partition by daily_returns.ticker order by daily_returns.trade_date)

),

actions as (

    select
        ticker,
        action_date as trade_date,
        product(action_value) filter (where action_type = 'split') as split_ratio,
        sum(action_value) filter (where action_type = 'dividend') as dividend
    from corporate_actions
    where action_date >= (select scan.scan_start from scan)
    group by ticker, action_date

),

candidates as (

    select
        returns.*,
        actions.split_ratio,
        actions.dividend,
        {{ quality_is_large('returns.simple_return') }} as adjusted_is_large,
        case
            when {{ quality_is_large('returns.simple_return') }} then returns.simple_return
            else returns.raw_close_return
        end as flagged_return,
        -- the raw close move with the day's split and dividend undone: what is left for the market
        (1 + returns.raw_close_return) * coalesce(actions.split_ratio, 1)
        + coalesce(actions.dividend, 0) * (1 + returns.raw_close_return) / returns.close_price
        - 1 as move_without_actions,
        -(1 + returns.simple_return) * returns.next_return / nullif(returns.simple_return, 0)
            as next_session_reverted,
        -(1 + returns.previous_return) * returns.simple_return / nullif(returns.previous_return, 0)
            as reverted_previous,
        case
            when returns.simple_return < 0 then {{ quality_rule('drop_threshold') }}
            else {{ quality_rule('rise_threshold') }}
        end as threshold
    from returns
    left join actions using (ticker, trade_date)
    where
        (
            {{ quality_is_large('returns.simple_return') }}
            or {{ quality_is_large('returns.raw_close_return') }}
        )
        -- the moves of the window, and the last one before it, whose next session is in it
        and (returns.trade_date >= {{ since }} or returns.next_trade_date >= {{ since }})

),

peers as (

    select
        candidates.ticker,
        candidates.trade_date,
        count(*) filter (where peer.industry = candidates.industry) as industry_peers,
        count(*) filter (where peer.sector = candidates.sector) as sector_peers,
        string_agg(
            peer.ticker || ' ' || {{ quality_pct('peer.simple_return') }}, ', '
            order by abs(peer.simple_return) desc
        ) filter (where peer.industry = candidates.industry) as industry_peer_moves,
        string_agg(
            peer.ticker || ' ' || {{ quality_pct('peer.simple_return') }}, ', '
            order by abs(peer.simple_return) desc
        ) filter (where peer.sector = candidates.sector) as sector_peer_moves
    from candidates
    inner join returns as peer
        on
            candidates.trade_date = peer.trade_date
            and candidates.ticker <> peer.ticker
            and peer.role = 'equity'
            and (candidates.industry = peer.industry or candidates.sector = peer.sector)
            and sign(candidates.simple_return) = sign(peer.simple_return)
            and abs(peer.simple_return) >= {{ quality_rule('peer_move_share') }} * abs(candidates.threshold)
            -- a move an order of magnitude beyond the peer's is not the peer's market
            and abs(candidates.simple_return)
            <= {{ quality_rule('peer_move_ratio') }} * abs(peer.simple_return)
    where candidates.adjusted_is_large
    group by candidates.ticker, candidates.trade_date

),

evidence as (

    select
        candidates.*,
        peers.industry_peer_moves,
        peers.sector_peer_moves,
        coalesce(peers.industry_peers, 0) as industry_peers,
        coalesce(peers.sector_peers, 0) as sector_peers,
        (candidates.split_ratio is not null or candidates.dividend is not null)
        and candidates.move_without_actions > {{ quality_rule('drop_threshold') }}
        and candidates.move_without_actions < {{ quality_rule('rise_threshold') }}
            as explained_by_actions,
        candidates.adjusted_is_large
        and candidates.next_session_reverted >= {{ quality_rule('reversal_share') }}
            as reverts_next_session,
        candidates.adjusted_is_large and {{ quality_is_large('candidates.previous_return') }}
        and candidates.reverted_previous >= {{ quality_rule('reversal_share') }}
            as reverts_previous_session,
        not candidates.is_exchange_session as off_calendar,
        abs(coalesce(candidates.simple_return, 0) - candidates.move_without_actions)
        > {{ quality_rule('adjustment_gap') }} as adjustment_disagrees,
        sign(candidates.benchmark_return) = sign(candidates.flagged_return)
        and abs(candidates.benchmark_return) >= {{ quality_rule('benchmark_min_move') }}
        and abs(candidates.flagged_return)
        <= {{ quality_rule('peer_move_ratio') }} * abs(candidates.benchmark_return)
            as benchmark_moved,
        coalesce(peers.industry_peers, 0) >= {{ quality_rule('min_peers') }} as industry_moved,
        coalesce(peers.sector_peers, 0) >= {{ quality_rule('min_peers') }} as sector_moved
    from candidates
    left join peers using (ticker, trade_date)

),

classified as (

    select
        *,
        case
            when explained_by_actions then 'corporate_action'
            when off_calendar or adjustment_disagrees then 'suspect_data'
            -- a raw close move the adjusted return does not show is only ever one of the above
            when not adjusted_is_large then null
            -- real markets whipsaw (SoftBank -12.3% then +12.1% on 2025-04-07/08, with the
            -- Nikkei): market confirmation goes before the reversal test
            when role = 'index' or benchmark_moved or industry_moved or sector_moved
                then 'market_event'
            when reverts_next_session or reverts_previous_session then 'suspect_data'
            else 'idiosyncratic'
        end as classification
    from evidence

)

select
    ticker,
    trade_date,
    case
        when classification = 'corporate_action' then 'corporate_action_move'
        when flagged_return < 0 then 'large_drop'
        else 'large_rise'
    end as check_name,
    classification,
    flagged_return as daily_return,
    concat_ws(
        '; ',
        case when split_ratio is not null then printf('%g-for-1 split', split_ratio) end,
        case when dividend is not null then printf('dividend %g', dividend) end,
        case
            when split_ratio is not null or dividend is not null
                then printf(
                    'raw close %s, %s with the action undone',
                    {{ quality_pct('raw_close_return') }}, {{ quality_pct('move_without_actions') }}
                )
        end,
        case
            when reverts_next_session
                then printf(
                    'gave back %.0f%% of it on %s (%s)', 100 * next_session_reverted,
                    next_trade_date, {{ quality_pct('next_return') }}
                )
        end,
        case
            when reverts_previous_session
                then printf(
                    'gave back %.0f%% of the %s move on %s', 100 * reverted_previous,
                    {{ quality_pct('previous_return') }}, previous_trade_date
                )
        end,
        case when off_calendar then printf('dated on a day %s did not trade', exchange) end,
        case
            when adjustment_disagrees and not explained_by_actions
                then printf(
                    'adjusted return %s but raw close %s: close and adj_close disagree',
                    coalesce({{ quality_pct('simple_return') }}, 'none'),
                    {{ quality_pct('move_without_actions') }}
                )
        end,
        case when role = 'index' then 'an index: its move is its market''s move' end,
        case
            when benchmark_ticker is not null
                then printf(
                    'benchmark %s %s', benchmark_ticker,
                    coalesce({{ quality_pct('benchmark_return') }}, 'unknown')
                )
        end,
        case
            when industry_moved
                then printf(
                    '%d %s peers moved with it: %s', industry_peers, industry, industry_peer_moves
                )
            when sector_moved
                then printf(
                    '%d %s sector peers moved with it: %s', sector_peers, sector, sector_peer_moves
                )
            when role = 'equity' and adjusted_is_large
                then printf(
                    '%d peer(s) moved %.0f%% or more the same way', sector_peers,
                    100 * {{ quality_rule('peer_move_share') }} * abs(threshold)
                )
        end,
        case
            when sessions_spanned > 1
                then printf('the return spans %d sessions (bars missing before it)', sessions_spanned)
        end
    ) as reason
from classified
where classification is not null
