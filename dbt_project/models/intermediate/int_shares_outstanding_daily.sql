{{ daily_chain_config() }}
-- Shares outstanding of each security on each of its trading days, in listed units (ADRs) and on the
-- CURRENT split basis: prices (yfinance closes) are back-adjusted for every split, filings report the
-- count on the share basis of their own date, so a count dated before a split is multiplied by that
-- split's ratio.
-- Incremental (macros/daily_chain_incremental.sql): a run recomputes each ticker's days from its
-- refresh_from on. The counts are computed from every filing as in a full build (they are small);
-- only the trading days are restricted. A count dated before refresh_from, or a changed fallback,
-- moves refresh_from back to it, so the as-of match below gives the full build's rows.
with daily_prices as (
    select * from {{ ref('stg_daily_prices') }}
),

corporate_actions as (
    select * from {{ ref('stg_corporate_actions') }}
),

fundamentals as (
    select * from {{ ref('stg_fundamentals') }}
),

filed_share_counts as (
    select * from {{ ref('stg_shares_outstanding') }}
),

listing_share_ratios as (
    select * from {{ ref('listing_share_ratios') }}
),
{% if is_incremental() %}
refresh_from as {{ daily_chain_refresh_from() }},
{% endif %}

splits as (
    select
        ticker,
        action_date,
        action_value as split_ratio
    from corporate_actions
    where action_type = 'split'
),

latest_fundamentals_shares as (
    select
        ticker,
        as_of_date,
        shares_outstanding
    from fundamentals
    where shares_outstanding is not null
    qualify row_number() over (partition by ticker order by as_of_date desc) = 1
),

-- filings count ordinary shares; an ADR's price is per depositary share (TSM: 5 common each)
reported_counts as (
    select
        filed.ticker,
        filed.as_of_date,
        filed.shares_outstanding_reported
        / coalesce(ratios.reported_shares_per_listed_share, 1) as shares_reported,
        'share_history' as shares_basis
    from filed_share_counts as filed
    left join listing_share_ratios as ratios using (ticker)
    union all
    select
        ticker,
        as_of_date,
        shares_outstanding,
        'fundamentals' as shares_basis
    from latest_fundamentals_shares
),

counts_on_current_split_basis as (
    select
        counts.ticker,
        counts.as_of_date,
        counts.shares_basis,
        -- in date order: a product of inexact ratios is then the same to the last bit on every build
        counts.shares_reported * coalesce(product(splits.split_ratio order by splits.action_date), 1)
            as shares_outstanding
    from reported_counts as counts
    left join splits
        on
            counts.ticker = splits.ticker
            and counts.as_of_date < splits.action_date
    group by counts.ticker, counts.as_of_date, counts.shares_basis, counts.shares_reported
),

share_history as (
    select
        ticker,
        as_of_date,
        shares_outstanding
    from counts_on_current_split_basis
    where shares_basis = 'share_history'
),

fundamentals_count as (
    select
        ticker,
        as_of_date,
        shares_outstanding
    from counts_on_current_split_basis
    where shares_basis = 'fundamentals'
),

-- Last resort: market cap / close on the snapshot's date. The close is on the current split basis,
-- so the implied count is too. market_cap is taken to be in the listing currency.
implied_from_market_cap as (
    select
        snapshot.ticker,
        snapshot.as_of_date,
        snapshot.market_cap / prices.close_price as shares_outstanding
    from (
        select
            ticker,
            as_of_date,
            market_cap
        from fundamentals
        where market_cap is not null
        qualify row_number() over (partition by ticker order by as_of_date desc) = 1
    ) as snapshot
    asof inner join daily_prices as prices
        on
            snapshot.ticker = prices.ticker
            and snapshot.as_of_date >= prices.trade_date
),

trading_days as (
    select
        prices.ticker,
        prices.trade_date
    from daily_prices as prices
    {% if is_incremental() %}
    inner join refresh_from
        on
            prices.ticker = refresh_from.ticker
            and prices.trade_date >= refresh_from.refresh_from
    {% endif %}
)

select
    trading_days.ticker,
    trading_days.trade_date,
    coalesce(
        share_history.shares_outstanding,
        fundamentals_count.shares_outstanding,
        implied_from_market_cap.shares_outstanding
    ) as shares_outstanding,
    case
        when share_history.shares_outstanding is not null then 'share_history'
        when fundamentals_count.shares_outstanding is not null then 'fundamentals'
        when implied_from_market_cap.shares_outstanding is not null then 'implied_from_market_cap'
    end as shares_basis,
    case
        when share_history.shares_outstanding is not null then share_history.as_of_date
        when fundamentals_count.shares_outstanding is not null then fundamentals_count.as_of_date
        else implied_from_market_cap.as_of_date
    end as shares_as_of_date
from trading_days
-- the latest filing on or before the day; the fundamentals fallbacks are company-level snapshots
-- applied to every day (a count from after the day beats no market value at all)
asof left join share_history
    on
        trading_days.ticker = share_history.ticker
        and trading_days.trade_date >= share_history.as_of_date
left join fundamentals_count on trading_days.ticker = fundamentals_count.ticker
left join implied_from_market_cap on trading_days.ticker = implied_from_market_cap.ticker
