{#- on-run-end hook: drop every relation whose name contains `__dbt_tmp`, in every schema of the
    warehouse, so that none reaches the published copy. dbt-duckdb stages the new rows of an
    incremental Python model (int_event_residual_correlation_groups) in
    `main.<model>__dbt_tmp<timestamp>`: it writes that table from a cursor of its own, so it has to
    be a real table, yet the materialization takes it for a connection-local temporary table and
    never drops it. At the end of the run it also clears what a run that failed halfway left. -#}
{% macro drop_dbt_temporary_relations() %}
    {%- if execute %}
        {%- set leftovers_query %}
            select 'table' as kind, schema_name, table_name as name
            from duckdb_tables()
            where database_name = current_database() and not temporary and contains(table_name, '__dbt_tmp')
            union all
            select 'view', schema_name, view_name
            from duckdb_views()
            where database_name = current_database() and not temporary and contains(view_name, '__dbt_tmp')
        {%- endset %}
        {%- for kind, schema_name, name in run_query(leftovers_query).rows %}
            {%- do run_query('drop ' ~ kind ~ ' if exists ' ~ adapter.quote(schema_name) ~ '.' ~ adapter.quote(name)) %}
            {%- do log('dropped ' ~ kind ~ ' ' ~ schema_name ~ '.' ~ name, info=true) %}
        {%- endfor %}
    {%- endif %}
{% endmacro %}
