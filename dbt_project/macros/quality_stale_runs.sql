{#- The runs of unchanged closes in `bars` (a CTE of table_name, ticker, trade_date, close), on the
    sessions of each security's exchange (`sessions`: exchange, session_date, session_number), so
    a holiday neither breaks nor extends a run, and a missing session breaks it. One row per run:
    table_name, ticker, exchange, close, first_date, last_date, sessions, and may_start_earlier
    (the run begins on the first session read from `bars_from` on: it may go on before it). Used
    twice by models/findings/stale_closes.sql, over the recent bars and then back to where the
    truncated runs begin. -#}
{% macro quality_stale_runs(bars, securities, sessions, bars_from) -%}
    select
        runs.* exclude (run_number, first_session_number),
        runs.run_number = 1
        and runs.first_session_number = first_read.session_number
        and {{ bars_from }} > date '0001-01-01' as may_start_earlier
    from (
        select
            table_name,
            ticker,
            run_number,
            any_value(exchange) as exchange,
            any_value(close) as close,
            min(trade_date) as first_date,
            max(trade_date) as last_date,
            count(*) as sessions,
            min(session_number) as first_session_number
        from (
            select
                *,
                sum(starts_run) over (partition by ticker order by trade_date) as run_number
            from (
                select
                    {{ bars }}.table_name,
                    {{ bars }}.ticker,
                    {{ bars }}.trade_date,
                    {{ bars }}.close,
                    {{ securities }}.exchange,
                    {{ sessions }}.session_number,
                    -- a run goes on while the close repeats on the exchange's very next session
                    case
                        when
                            {{ bars }}.close = lag({{ bars }}.close) over by_ticker
                            and {{ sessions }}.session_number
                            = lag({{ sessions }}.session_number) over by_ticker + 1
                            then 0
                        else 1
                    end as starts_run
                from {{ bars }}
                inner join {{ securities }} using (ticker)
                inner join {{ sessions }}
                    on
                        {{ securities }}.exchange = {{ sessions }}.exchange
                        and {{ bars }}.trade_date = {{ sessions }}.session_date
                window by_ticker as (partition by {{ bars }}.ticker order by {{ bars }}.trade_date)
            ) as marked
        ) as numbered
        group by table_name, ticker, run_number
    ) as runs
    left join (
        -- each exchange's first session read: a run starting there may go on before it
        select
            exchange,
            min(session_number) as session_number
        from {{ sessions }}
        where session_date >= {{ bars_from }}
        group by exchange
    ) as first_read using (exchange)
{%- endmacro %}
