"""The thresholds of the quality rules as one configurable resource, ``quality_rules``: the single
place they are set. The dbt quality models read them as the vars ``quality_<field>``
(``quality_rules_vars``), whose defaults in dbt_project.yml equal this resource's (a test holds
them equal); the Python checks read the clock of freshness from it.

Defaults come from the rule dataclasses in ``warehouse.quality.rules``; override a field in the
launchpad's resource config, or construct the resource with other values in tests."""

import math
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from warehouse.quality.rules import IntegrityRules, MoveRules, StalenessRules

# The fields dbt reads, as var quality_<field>; evaluation_time is the Python checks' clock only.
DBT_RULE_FIELDS = (
    "drop_threshold",
    "rise_threshold",
    "benchmark_min_move",
    "min_peers",
    "peer_move_share",
    "peer_move_ratio",
    "reversal_share",
    "adjustment_gap",
    "max_quarantined_share",
    "spike_factor",
    "stale_sessions",
)
DBT_VAR_PREFIX = "quality_"
# A spike_factor of float('inf') quarantines no spike; --vars is JSON/YAML, which has no infinity.
_LARGEST_FACTOR = 1e308


class QualityRulesResource(dg.ConfigurableResource):
    """Thresholds of the large-move, integrity and staleness rules, and the clock of freshness."""

    drop_threshold: float = Field(
        default=MoveRules.drop_threshold,
        description="A one-day adjusted return at or below this is a large drop.",
    )
    rise_threshold: float = Field(
        default=MoveRules.rise_threshold,
        description="A one-day adjusted return at or above this is a large rise.",
    )
    benchmark_min_move: float = Field(
        default=MoveRules.benchmark_min_move,
        description="market_event when the benchmark moved at least this much the same way.",
    )
    min_peers: int = Field(
        default=MoveRules.min_peers,
        description="market_event when this many industry (or sector) peers moved the same way.",
    )
    peer_move_share: float = Field(
        default=MoveRules.peer_move_share,
        description="A peer moves with a flagged security when its return reaches this share of "
        "the threshold, the same way.",
    )
    peer_move_ratio: float = Field(
        default=MoveRules.peer_move_ratio,
        description="A benchmark or peer move more than this many times smaller than the "
        "security's does not make it a market event.",
    )
    reversal_share: float = Field(
        default=MoveRules.reversal_share,
        description="suspect_data when the next session gives back this share of the move.",
    )
    adjustment_gap: float = Field(
        default=MoveRules.adjustment_gap,
        description="suspect_data when the adjusted and the raw close returns differ by more.",
    )
    max_quarantined_share: float = Field(
        default=IntegrityRules.max_quarantined_share,
        description="The load_is_not_broken test fails (severity error: dbt skips the price "
        "staging models and the marts) when more than this share of the window's bars is "
        "quarantined.",
    )
    spike_factor: float = Field(
        default=IntegrityRules.spike_factor,
        description="A bar this many times above or below both its neighbours is quarantined "
        "as suspect_spike (kept out of the marts).",
    )
    stale_sessions: int = Field(
        default=StalenessRules.stale_sessions,
        description="The same close on this many consecutive sessions is stale.",
    )
    evaluation_time: str | None = Field(
        default=None,
        description="ISO-8601 time with a UTC offset the freshness check takes as now, to "
        "re-check a past refresh; unset: the wall clock.",
    )

    def quality_rules_vars(self) -> dict[str, float | int]:
        """The thresholds as the dbt vars of the quality models: ``{"quality_drop_threshold":
        -0.1, ...}``, once the rule dataclasses accepted them (a ValueError names the first field
        out of range)."""
        for rules in (MoveRules, IntegrityRules, StalenessRules):
            rules(**{name: getattr(self, name) for name in rules.__dataclass_fields__})
        values = {name: getattr(self, name) for name in DBT_RULE_FIELDS}
        if math.isinf(values["spike_factor"]):
            values["spike_factor"] = _LARGEST_FACTOR
        return {DBT_VAR_PREFIX + name: value for name, value in values.items()}

    def now(self) -> datetime:
        if self.evaluation_time is None:
            return datetime.now(UTC)
        moment = datetime.fromisoformat(self.evaluation_time)
        if moment.tzinfo is None:
            raise ValueError(f"evaluation_time needs a UTC offset, got {self.evaluation_time!r}")
        return moment


def quality_rules_vars(rules: QualityRulesResource | None = None) -> dict[str, float | int]:
    """The dbt vars of the quality rules, of ``rules`` (default: the resource's defaults), for
    ``dbt build --vars`` (orchestration.defs.dbt.assets.dbt_build_args). They stay the same from
    run to run while the rules do, so dbt's partial parsing keeps its state."""
    return (rules or QualityRulesResource()).quality_rules_vars()


@dg.definitions
def quality_resources() -> dg.Definitions:
    return dg.Definitions(resources={"quality_rules": QualityRulesResource()})
