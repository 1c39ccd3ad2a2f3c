"""The quality thresholds are set in one place, the quality_rules resource: dbt's defaults for
them (dbt_project.yml vars) equal the resource's, and the resource hands them to dbt as vars."""

from __future__ import annotations

import yaml

from orchestration.defs.checks.resources import (
    DBT_RULE_FIELDS,
    DBT_VAR_PREFIX,
    QualityRulesResource,
    quality_rules_vars,
)
from tests.dbt_helpers import DBT_PROJECT_DIR


def _dbt_quality_vars() -> dict[str, object]:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return {
        name: value for name, value in project["vars"].items() if name.startswith(DBT_VAR_PREFIX)
    }


def test_the_dbt_defaults_equal_the_resource_defaults() -> None:
    assert _dbt_quality_vars() == quality_rules_vars()
    assert set(quality_rules_vars()) == {DBT_VAR_PREFIX + name for name in DBT_RULE_FIELDS}


def test_configured_rules_reach_dbt_as_vars() -> None:
    rules = QualityRulesResource(drop_threshold=-0.2, min_peers=3, spike_factor=float("inf"))
    variables = quality_rules_vars(rules)
    assert variables["quality_drop_threshold"] == -0.2
    assert variables["quality_min_peers"] == 3
    # JSON has no infinity: a factor no bar reaches instead
    assert variables["quality_spike_factor"] == 1e308
    assert "quality_evaluation_time" not in variables
