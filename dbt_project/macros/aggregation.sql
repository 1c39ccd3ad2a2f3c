{#- Weighted mean over the rows where both value and weight are known: rows without a weight must
    not dilute the denominator, rows without a value must not count their weight. -#}
{% macro weighted_average(value, weight) -%}
    sum({{ value }} * {{ weight }}) / nullif(sum(case when {{ value }} is not null then {{ weight }} end), 0)
{%- endmacro %}

{#- Label of a GROUPING SETS row over (sector) and (sector, industry): 'all', 'sector' or
    'sector_industry'. -#}
{% macro sector_grouping_level(sector, industry) -%}
    case
        when grouping({{ sector }}) = 1 then 'all'
        when grouping({{ industry }}) = 1 then 'sector'
        else 'sector_industry'
    end
{%- endmacro %}
