{#- Weighted mean over the rows where both value and weight are known: rows without a weight must
    not dilute the denominator, rows without a value must not count their weight. The sums run in
    the order of `order_by` (a key unique within the group), so the result is the same to the last
    bit on every build (see the conventions in event_study/event_study_windows_and_models.sql). -#}
{% macro weighted_average(value, weight, order_by) -%}
    sum({{ value }} * {{ weight }} order by {{ order_by }})
        / nullif(sum(case when {{ value }} is not null then {{ weight }} end order by {{ order_by }}), 0)
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
