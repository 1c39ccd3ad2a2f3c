{#- Use a node's custom schema verbatim (`marts`, not `main_marts`): the schemas are the warehouse's
    public interface and the orchestration, the checks and SQL users all address them by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
