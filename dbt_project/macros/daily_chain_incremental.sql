{#- Incremental refresh of the daily-returns chain (int_shares_outstanding_daily, int_daily_returns,
    int_daily_market_values, fct_daily_returns): which rows a run recomputes, and the bookkeeping
    that makes an incremental run give the same rows as a full rebuild.

    The rule. For every ticker a run recomputes every row dated on or after the ticker's
    `refresh_from`, up to the END of the data (total_return_index is a running product, so a change
    moves every later row, also past the end of a backfilled range). refresh_from is the earliest of:
      - the run's window start (refresh_start_literal());
      - the earliest date of a raw row of the ticker written since the table was last built
        (raw rows carry loaded_at = time of the write that last CHANGED them; re-loading identical
        data does not touch it): a price bar, a dividend, a share count, from that row's date on;
      - the whole history (date '-infinity') when a split, the ticker's securities row (exchange,
        currency, benchmark) or, for a ticker some of whose days use the fundamentals fallback
        for their share count, a fundamentals snapshot changed: they restate every day;
      - the earliest changed FX quote (every non-USD ticker) and the earliest changed session of
        the ticker's exchange (session numbers);
      - the whole history when the table holds no row of the ticker on or before its first price
        (a ticker new to the universe, or history backfilled before what was built);
      - its benchmark's refresh_from: benchmark_return reads the benchmark's index levels.
    "Since the table was last built" is the table's watermark: the newest raw loaded_at the build
    read, kept in the table's COMMENT (post-hook record_loaded_at_watermark); a table without one
    (built before this rule) has every raw row count as changed, i.e. is rebuilt whole.
    Not seen by loaded_at, so they need `dbt build --full-refresh`: rows DELETED from raw tables
    before the window (e.g. an exchange session a calendar no longer lists), bars newly quarantined
    by a changed quality rule rather than by a changed bar, and edits of the listing_share_ratios
    seed.

    Rows in the recomputed range are deleted by a pre-hook (delete_refreshed_daily_rows) before the
    model runs, in the same transaction: delete+insert by itself only replaces keys the new rows
    have, and would keep a bar that vanished from staging (quarantined, deleted). -#}

{#- The configuration every model of the chain shares: call it first thing in the model. -#}
{% macro daily_chain_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['ticker', 'trade_date'],
        on_schema_change='fail',
        tags=['incremental'],
        pre_hook="{{ delete_refreshed_daily_rows() }}",
        post_hook="{{ record_loaded_at_watermark() }}",
    ) }}
{%- endmacro %}

{#- Whole-history marker: compares before every date. -#}
{% macro whole_history() -%} date '-infinity' {%- endmacro %}

{#- The window start as a date literal, resolved when the model is rendered: refresh_start_date()
    falls back to a subquery on {{ this }}, which the pre-hook's delete would move. -#}
{% macro refresh_start_literal() -%}
    {%- set start = refresh_start_value() -%}
    {%- if not start and execute and is_incremental() -%}
        {%- set newest = run_query('select max(trade_date) from ' ~ this).columns[0].values()[0] -%}
        {%- set lookback = modules.datetime.timedelta(days=var('refresh_lookback_days') | int) -%}
        {%- set start = (newest - lookback).isoformat() if newest else '1900-01-01' -%}
    {%- endif -%}
    cast('{{ start or "1900-01-01" }}' as date)
{%- endmacro %}

{#- The newest loaded_at of every raw table the chain reads. -#}
{% macro chain_raw_loaded_at_sql() -%}
    select max(loaded_at) as loaded_at from (
        {%- for table in ['daily_prices', 'corporate_actions', 'shares_outstanding', 'fundamentals',
                          'securities', 'fx_rates', 'exchange_sessions'] %}
        select max(loaded_at) as loaded_at from {{ source('raw', table) }}
        {{- '' if loop.last else ' union all' }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Post-hook: remember the newest raw write this build has seen, in the table's comment. Raw tables
    do not change during a dbt run (the dbt process holds the warehouse file). -#}
{% macro record_loaded_at_watermark() -%}
    {%- if execute -%}
        {%- set newest = run_query(chain_raw_loaded_at_sql()).columns[0].values()[0] -%}
        comment on table {{ this }} is 'loaded_at watermark {{ newest }}'
    {%- endif -%}
{%- endmacro %}

{#- The watermark of {{ this }}: a timestamp, or -infinity when the table has none. -#}
{% macro loaded_at_watermark() -%}
    coalesce((
        select try_cast(regexp_extract(comment, 'loaded_at watermark (.*)$', 1) as timestamp)
        from duckdb_tables()
        where database_name = '{{ this.database }}'
            and schema_name = '{{ this.schema }}'
            and table_name = '{{ this.identifier }}'
    ), timestamp '-infinity')
{%- endmacro %}

{#- One row per ticker: (ticker, refresh_from), the first trade date this run recomputes (the rule
    above). Only meaningful in an incremental run: it reads {{ this }}. -#}
{% macro daily_chain_refresh_from() -%}
(
    with watermark as (
        select {{ loaded_at_watermark() }} as loaded_at
    ),

    securities as (
        select ticker, exchange, currency, benchmark, loaded_at
        from {{ source('raw', 'securities') }}
    ),

    -- raw, not staging: a bar changed into a quarantined one still counts as a change
    changed_prices as (
        select ticker, min(trade_date) as changed_from
        from {{ source('raw', 'daily_prices') }}
        where loaded_at > (select loaded_at from watermark)
        group by ticker
    ),

    -- share counts: rows before a count's date use an older count; the fundamentals fallback
    -- (latest snapshot, or market cap / close) applies to every day without a filed count
    first_filings as (
        select ticker, min(as_of_date) as first_filed, bool_or(shares_outstanding is null) as has_null_count
        from {{ source('raw', 'shares_outstanding') }}
        group by ticker
    ),

    priced_ranges as (
        select ticker, min(trade_date) as first_priced
        from {{ ref('stg_daily_prices') }}
        group by ticker
    ),

    uses_fundamentals_fallback as (
        select priced_ranges.ticker
        from priced_ranges
        left join first_filings using (ticker)
        where first_filings.ticker is null
            or first_filings.has_null_count
            or priced_ranges.first_priced < first_filings.first_filed
    ),

    changes as (
        select ticker, changed_from from changed_prices
        union all
        select ticker, case when action_type = 'split' then {{ whole_history() }} else action_date end
        from {{ source('raw', 'corporate_actions') }}
        where loaded_at > (select loaded_at from watermark)
        union all
        select ticker, as_of_date
        from {{ source('raw', 'shares_outstanding') }}
        where loaded_at > (select loaded_at from watermark)
        union all
        select ticker, {{ whole_history() }}
        from {{ source('raw', 'fundamentals') }}
        where loaded_at > (select loaded_at from watermark)
            and ticker in (select ticker from uses_fundamentals_fallback)
        union all
        -- the fallback's market cap / close reads the close on the snapshot's date
        select ticker, {{ whole_history() }}
        from changed_prices
        where ticker in (select ticker from uses_fundamentals_fallback)
            and changed_from <= (
                select max(as_of_date) from {{ source('raw', 'fundamentals') }} as snapshots
                where snapshots.ticker = changed_prices.ticker
            )
        union all
        select ticker, {{ whole_history() }}
        from securities
        where loaded_at > (select loaded_at from watermark)
        union all
        select securities.ticker, fx.changed_from
        from securities
        cross join (
            select min(rate_date) as changed_from
            from {{ source('raw', 'fx_rates') }}
            where loaded_at > (select loaded_at from watermark)
        ) as fx
        where securities.currency <> 'USD'
        union all
        select securities.ticker, sessions.changed_from
        from securities
        inner join (
            select exchange, min(session_date) as changed_from
            from {{ source('raw', 'exchange_sessions') }}
            where loaded_at > (select loaded_at from watermark)
            group by exchange
        ) as sessions using (exchange)
        union all
        -- history the table does not hold yet: a new ticker, or older days backfilled
        select priced_ranges.ticker, {{ whole_history() }}
        from priced_ranges
        left join (
            select ticker, min(trade_date) as first_stored from {{ this }} group by ticker
        ) as stored using (ticker)
        where stored.first_stored is null or stored.first_stored > priced_ranges.first_priced
    ),

    own_refresh_from as (
        select
            securities.ticker,
            securities.benchmark,
            least({{ refresh_start_literal() }}, min(changes.changed_from)) as refresh_from
        from securities
        left join changes using (ticker)
        group by securities.ticker, securities.benchmark
    )

    select
        security.ticker,
        least(security.refresh_from, benchmark.refresh_from) as refresh_from
    from own_refresh_from as security
    left join own_refresh_from as benchmark on benchmark.ticker = security.benchmark
)
{%- endmacro %}

{#- Pre-hook: delete the rows this run recomputes (the model then inserts them again). A no-op in a
    full build. -#}
{% macro delete_refreshed_daily_rows() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as stored
        using {{ daily_chain_refresh_from() }} as refresh
        where stored.ticker = refresh.ticker
            and stored.trade_date >= refresh.refresh_from
    {%- endif -%}
{%- endmacro %}

{#- Each ticker's last stored row before its refresh_from: the previous row of the first
    recomputed one (lag values, running index). Needs a `refresh_from` CTE; `columns` are read from
    {{ this }}. A max per ticker, then a join, rather than a window over the whole stored history. -#}
{% macro daily_chain_anchors(columns) -%}
    select stored.ticker, stored.trade_date{% for column in columns %}, {{ column }}{% endfor %}
    from {{ this }} as stored
    inner join (
        select stored.ticker, max(stored.trade_date) as trade_date
        from {{ this }} as stored
        inner join refresh_from
            on refresh_from.ticker = stored.ticker
            and stored.trade_date < refresh_from.refresh_from
        group by stored.ticker
    ) as last_stored using (ticker, trade_date)
{%- endmacro %}
