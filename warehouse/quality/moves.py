"""Large one-day moves, classified set-based, and the market shocks they add up to.

A move is a one-day adjusted return (``marts.fct_daily_returns.simple_return``) at or beyond the
drop or rise threshold. Each is classified by the first rule that holds:

1. corporate_action: a split or dividend on that date, once undone from the raw close, leaves no
   large move. It is recorded as ``corporate_action_move``, never as a drop or a rise. Raw close
   moves the adjusted return does not show are examined for this rule too.
2. suspect_data, impossible values: the bar is dated on a day its exchange did not trade, or the
   adjusted return and the raw close return (its corporate actions undone) disagree by more than
   ``adjustment_gap``: close and adj_close cannot both be right.
3. market_event: the security's benchmark moved at least ``benchmark_min_move`` the same way over
   the same interval; or at least ``min_peers`` equities of its industry, or of its sector, moved
   the same way by at least ``peer_move_share`` of the threshold. A benchmark or peer move more
   than ``peer_move_ratio`` times smaller than the security's explains nothing. An index is the
   market it measures: its own large move is a market event.
4. suspect_data, a spike: the next session gives back at least ``reversal_share`` of the move, or
   the move gives back that share of a large move the session before (both days of a spike are
   flagged).
5. idiosyncratic: none of these.

A reversal is the signature of a bad tick only when nothing else moved: the tariff whipsaw of
2025-04-07/08 (SoftBank -12.3% then +12.1%, the Nikkei -7.8% then +6.0%) is real, so market
confirmation goes first. A move whose last session has no successor yet is classified again by the
next run, when the next session can show it was a spike.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from warehouse.quality.rules import Check, Classification, MoveRules, sql_parameters
from warehouse.quality.sql import PRICES_TABLE, WHOLE_HISTORY, load_window, query

_PCT = "printf('%+.1f%%', 100 * {})"
_IS_LARGE = "({r} <= $drop_threshold or {r} >= $rise_threshold)"

_RETURNS = """
    select
        returns.ticker,
        returns.trade_date,
        returns.role,
        returns.exchange,
        returns.close_price,
        returns.simple_return,
        returns.raw_close_return,
        returns.benchmark_ticker,
        returns.benchmark_return,
        returns.is_exchange_session,
        returns.sessions_spanned,
        returns.market_value_change_usd,
        securities.sector,
        securities.industry,
        lag(returns.simple_return) over by_ticker as previous_return,
        lag(returns.trade_date) over by_ticker as previous_trade_date,
        lead(returns.simple_return) over by_ticker as next_return,
        lead(returns.trade_date) over by_ticker as next_trade_date
    from marts.fct_daily_returns as returns
    left join marts.dim_security as securities using (ticker)
    -- filtered before the lag and lead: the rows from $scan_start on hold every neighbour of the
    -- moves a run classifies (scan_start() finds how far back that is)
    where returns.trade_date >= $scan_start
    window by_ticker as (partition by returns.ticker order by returns.trade_date)
"""

# How far back the rows of a run reach: the moves classified are those from $since on and each
# security's last move before it (its next session is new, so it may now be a spike), and the
# previous return of that move reaches one bar further back. previous_trade_date is the mart's own
# lag of trade_date, so two steps back cover both, whatever gaps a security has.
_PREVIOUS_DATE_FROM = """
select min(previous_trade_date) from marts.fct_daily_returns where trade_date >= $start
"""

CLASSIFIED_MOVES_SQL = f"""
with returns as ({_RETURNS}),
actions as (
    select
        ticker,
        action_date as trade_date,
        product(value) filter (where action_type = 'split') as split_ratio,
        sum(value) filter (where action_type = 'dividend') as dividend
    from raw.corporate_actions
    where action_date >= $scan_start
    group by all
),
candidates as (
    select
        returns.*,
        actions.split_ratio,
        actions.dividend,
        {_IS_LARGE.format(r="simple_return")} as adjusted_is_large,
        case when adjusted_is_large then simple_return else raw_close_return end as move,
        -- the raw close move with the day's split and dividend undone: what is left for the market
        (1 + raw_close_return) * coalesce(split_ratio, 1)
            + coalesce(dividend, 0) * (1 + raw_close_return) / close_price - 1
            as move_without_actions,
        -(1 + simple_return) * next_return / nullif(simple_return, 0) as next_session_reverted,
        -(1 + previous_return) * simple_return / nullif(previous_return, 0) as reverted_previous,
        case when simple_return < 0 then $drop_threshold else $rise_threshold end as threshold
    from returns
    left join actions using (ticker, trade_date)
    where ({_IS_LARGE.format(r="simple_return")} or {_IS_LARGE.format(r="raw_close_return")})
        -- the moves of the window, and the last one before it, whose next session is in it
        and (trade_date >= $since or next_trade_date >= $since)
),
peers as (
    select
        candidates.ticker,
        candidates.trade_date,
        count(*) filter (where peer.industry = candidates.industry) as industry_peers,
        count(*) filter (where peer.sector = candidates.sector) as sector_peers,
        string_agg(peer.ticker || ' ' || {_PCT.format("peer.simple_return")}, ', '
                   order by abs(peer.simple_return) desc)
            filter (where peer.industry = candidates.industry) as industry_peer_moves,
        string_agg(peer.ticker || ' ' || {_PCT.format("peer.simple_return")}, ', '
                   order by abs(peer.simple_return) desc)
            filter (where peer.sector = candidates.sector) as sector_peer_moves
    from candidates
    join returns as peer
        on peer.trade_date = candidates.trade_date
        and peer.ticker <> candidates.ticker
        and peer.role = 'equity'
        and (peer.industry = candidates.industry or peer.sector = candidates.sector)
        and sign(peer.simple_return) = sign(candidates.simple_return)
        and abs(peer.simple_return) >= $peer_move_share * abs(candidates.threshold)
        -- a move an order of magnitude beyond the peer's is not the peer's market
        and abs(candidates.simple_return) <= $peer_move_ratio * abs(peer.simple_return)
    where candidates.adjusted_is_large
    group by all
),
evidence as (
    select
        candidates.*,
        coalesce(peers.industry_peers, 0) as industry_peers,
        coalesce(peers.sector_peers, 0) as sector_peers,
        peers.industry_peer_moves,
        peers.sector_peer_moves,
        (split_ratio is not null or dividend is not null)
            and move_without_actions > $drop_threshold
            and move_without_actions < $rise_threshold as explained_by_actions,
        adjusted_is_large and next_session_reverted >= $reversal_share as reverts_next_session,
        adjusted_is_large and {_IS_LARGE.format(r="previous_return")}
            and reverted_previous >= $reversal_share as reverts_previous_session,
        not is_exchange_session as off_calendar,
        abs(coalesce(simple_return, 0) - move_without_actions) > $adjustment_gap
            as adjustment_disagrees,
        sign(benchmark_return) = sign(move) and abs(benchmark_return) >= $benchmark_min_move
            and abs(move) <= $peer_move_ratio * abs(benchmark_return) as benchmark_moved,
        coalesce(peers.industry_peers, 0) >= $min_peers as industry_moved,
        coalesce(peers.sector_peers, 0) >= $min_peers as sector_moved
    from candidates
    left join peers using (ticker, trade_date)
),
classified as (
    select
        *,
        case
            when explained_by_actions then '{Classification.CORPORATE_ACTION}'
            when off_calendar or adjustment_disagrees then '{Classification.SUSPECT_DATA}'
            -- a raw close move the adjusted return does not show is only ever one of the above
            when not adjusted_is_large then null
            when role = 'index' or benchmark_moved or industry_moved or sector_moved
                then '{Classification.MARKET_EVENT}'
            when reverts_next_session or reverts_previous_session
                then '{Classification.SUSPECT_DATA}'
            else '{Classification.IDIOSYNCRATIC}'
        end as classification
    from evidence
)
select
    ticker,
    trade_date,
    case
        when classification = '{Classification.CORPORATE_ACTION}'
            then '{Check.CORPORATE_ACTION_MOVE}'
        when move < 0 then '{Check.LARGE_DROP}'
        else '{Check.LARGE_RISE}'
    end as check_name,
    classification,
    move as daily_return,
    concat_ws('; ',
        case when split_ratio is not null then printf('%g-for-1 split', split_ratio) end,
        case when dividend is not null then printf('dividend %g', dividend) end,
        case when split_ratio is not null or dividend is not null then printf(
            'raw close %s, %s with the action undone',
            {_PCT.format("raw_close_return")}, {_PCT.format("move_without_actions")}) end,
        case when reverts_next_session then printf(
            'gave back %.0f%% of it on %s (%s)', 100 * next_session_reverted, next_trade_date,
            {_PCT.format("next_return")}) end,
        case when reverts_previous_session then printf(
            'gave back %.0f%% of the %s move on %s', 100 * reverted_previous,
            {_PCT.format("previous_return")}, previous_trade_date) end,
        case when off_calendar then printf('dated on a day %s did not trade', exchange) end,
        case when adjustment_disagrees and not explained_by_actions then printf(
            'adjusted return %s but raw close %s: close and adj_close disagree',
            coalesce({_PCT.format("simple_return")}, 'none'), {_PCT.format("move_without_actions")})
        end,
        case when role = 'index' then 'an index: its move is its market''s move' end,
        case when benchmark_ticker is not null then printf(
            'benchmark %s %s', benchmark_ticker,
            coalesce({_PCT.format("benchmark_return")}, 'unknown'))
        end,
        case
            when industry_moved then printf('%d %s peers moved with it: %s',
                                            industry_peers, industry, industry_peer_moves)
            when sector_moved then printf('%d %s sector peers moved with it: %s',
                                          sector_peers, sector, sector_peer_moves)
            when role = 'equity' and adjusted_is_large then printf(
                '%d peer(s) moved %.0f%% or more the same way', sector_peers,
                100 * $peer_move_share * abs(threshold))
        end,
        case when sessions_spanned > 1 then printf(
            'the return spans %d sessions (bars missing before it)', sessions_spanned) end
    ) as reason
from classified
where classification is not null
"""

# The market shocks: parameters are the move rules and $run_id.
DETECTED_EVENTS_SQL = f"""
with moves as ({CLASSIFIED_MOVES_SQL}),
returns as (
    select returns.ticker, returns.trade_date, returns.simple_return,
           returns.market_value_change_usd, securities.sector
    from marts.fct_daily_returns as returns
    left join marts.dim_security as securities using (ticker)
    -- indices are evidence of a shock, not holdings in it; the days of the window only: earlier
    -- days keep the events earlier runs found
    where returns.role in ('equity', 'etf') and returns.simple_return is not null
        and returns.trade_date >= $since
),
members as (
    select trade_date, 'market' as scope, * exclude (trade_date, sector) from returns
    union all
    select trade_date, sector, * exclude (trade_date, sector) from returns where sector is not null
),
events as (
    select members.trade_date, members.scope,
           case when moves.daily_return < 0 then 'drop' else 'rise' end as direction,
           count(*) as securities_flagged
    from moves
    join members using (ticker, trade_date)
    where moves.classification = '{Classification.MARKET_EVENT}'
    group by all
),
scoped as (
    select
        events.*,
        members.ticker,
        members.simple_return,
        members.market_value_change_usd,
        case events.direction
            when 'drop' then members.simple_return <= $peer_move_share * $drop_threshold
            else members.simple_return >= $peer_move_share * $rise_threshold
        end as moving
    from events
    join members using (trade_date, scope)
)
select
    trade_date as event_date,
    scope,
    direction,
    any_value(securities_flagged) as securities_flagged,
    count(*) filter (where moving) as securities_moving,
    count(*) as securities_in_scope,
    count(*) filter (where moving) / count(*) as breadth,
    avg(simple_return) filter (where moving) as average_return,
    sum(market_value_change_usd) filter (where moving) as value_change_usd,
    string_agg(ticker || ' ' || {_PCT.format("simple_return")}, ', '
               order by abs(simple_return) desc) filter (where moving) as tickers_moving,
    $run_id as run_id
from scoped
group by trade_date, scope, direction
"""


def scan_start(con: duckdb.DuckDBPyConnection, since: date) -> date:
    """The first date of ``marts.fct_daily_returns`` the moves from ``since`` on need: the bar
    before each security's last move before ``since`` (two steps of previous_trade_date)."""
    if since == date.min:
        return date.min
    start = since
    for _ in range(2):
        (previous,), = con.execute(_PREVIOUS_DATE_FROM, {"start": start}).fetchall()
        start = min(start, previous or start)
    return start


def move_parameters(
    con: duckdb.DuckDBPyConnection, rules: MoveRules, since: date = date.min
) -> dict[str, object]:
    """The parameters of CLASSIFIED_MOVES_SQL (and DETECTED_EVENTS_SQL, with $run_id): the rules,
    ``since`` (the first date whose moves are classified) and the scan's start."""
    return {**sql_parameters(rules), "since": since, "scan_start": scan_start(con, since)}


def classified_moves(
    con: duckdb.DuckDBPyConnection,
    rules: MoveRules,
    *,
    latest_load_only: bool = False,
    run_id: str | None = None,
) -> pd.DataFrame:
    """Every large move and explained raw close move, classified, in the columns of
    ``quality.price_anomalies`` (bookkeeping excluded). With ``latest_load_only``, only the moves
    dated in the window of the price load a check judges (run ``run_id``'s, else the latest),
    computed from that window's days and their neighbours only."""
    window = WHOLE_HISTORY
    if latest_load_only:
        window = load_window(con, PRICES_TABLE, run_id)
    sql = (f"select * from ({CLASSIFIED_MOVES_SQL}) "
           "where trade_date between $window_start and $window_end order by trade_date, ticker")
    parameters = {**move_parameters(con, rules, window[0]),
                  "window_start": window[0], "window_end": window[1]}
    return query(con, sql, parameters)
