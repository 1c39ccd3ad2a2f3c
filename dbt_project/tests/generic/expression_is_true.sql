{#- Fails for every row where the boolean SQL expression is false; a null result counts as a failure
    so an expression cannot pass by evaluating to unknown. The expression is always complete (it
    names its columns), also when the test is attached to a column; restrict rows with `where`. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
