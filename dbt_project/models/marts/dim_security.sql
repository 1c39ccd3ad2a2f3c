-- Current version of every security's attributes; the full history stays in snp_security_attributes.
with security_attributes as (
    select * from {{ ref('snp_security_attributes') }}
),

versions as (
    select
        *,
        count(*) over (partition by ticker) as attribute_versions
    from security_attributes
),

final as (
    select
        ticker,
        security_name,
        role,
        exchange,
        currency,
        benchmark_ticker,
        sector,
        industry,
        classification_source,
        dbt_valid_from as valid_from,
        attribute_versions
    from versions
    where dbt_valid_to is null
)

select * from final
