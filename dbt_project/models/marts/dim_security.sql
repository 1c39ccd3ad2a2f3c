-- Current version of every security's attributes; the full history stays in snp_security_attributes.
with versions as (
    select
        *,
        count(*) over (partition by ticker) as attribute_versions
    from {{ ref('snp_security_attributes') }}
)

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
