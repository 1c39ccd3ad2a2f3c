-- Correlation of the estimation-window market-model residuals of every pair of equities in an
-- event: the input of the Kolari-Pynnonen r-bar. Pairs are matched on calendar date, the only clock
-- Tokyo, Frankfurt and New York share. This is the one O(firms^2 x estimation days) step of the
-- event study, kept in its own model so its cost stays visible.
with estimation_residuals as (
    select
        days.event_id,
        days.ticker,
        days.trade_date,
        days.security_return - estimation.alpha - estimation.beta * days.benchmark_return as residual
    from {{ ref('int_event_security_days') }} as days
    inner join {{ ref('int_event_estimation') }} as estimation using (event_id, ticker)
    inner join {{ ref('int_event_securities') }} as event_securities using (event_id, ticker)
    where days.in_estimation_sample
      and estimation.alpha is not null
      and event_securities.role = 'equity'
)

select
    first_firm.event_id,
    first_firm.ticker as first_ticker,
    second_firm.ticker as second_ticker,
    count(*) as common_days,
    corr(first_firm.residual, second_firm.residual) as residual_correlation
from estimation_residuals as first_firm
inner join estimation_residuals as second_firm
    on second_firm.event_id = first_firm.event_id
    and second_firm.trade_date = first_firm.trade_date
    and second_firm.ticker > first_firm.ticker
group by first_firm.event_id, first_firm.ticker, second_firm.ticker
