-- USD value of one unit of each currency per quote date, whichever way round the source quotes it
-- (JPY=X is yen per dollar, so a yen is worth 1/close dollars; EURUSD=X is dollars per euro).
with fx_rates as (
    select * from {{ ref('stg_fx_rates') }}
),

final as (
    select
        case when quote_currency = 'USD' then base_currency else quote_currency end as currency,
        rate_date,
        case when quote_currency = 'USD' then close_rate else 1.0 / close_rate end as usd_per_unit,
        fx_ticker
    from fx_rates
    where
        'USD' in (base_currency, quote_currency)
        and base_currency != quote_currency
)

select * from final
