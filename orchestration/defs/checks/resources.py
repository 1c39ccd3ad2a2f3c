"""The thresholds of the quality checks as one configurable resource, ``quality_rules``.

Defaults come from the rule dataclasses in ``warehouse.quality.rules``; override a field in the
launchpad's resource config, or construct the resource with other values in tests."""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from warehouse.quality.rules import IntegrityRules, MoveRules, StalenessRules


class QualityRulesResource(dg.ConfigurableResource):
    """Thresholds of the large-move, integrity and staleness checks, and the clock of freshness."""

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
        description="The integrity check fails ERROR (and blocks dbt) when more than this share "
        "of the latest load's bars is quarantined.",
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

    def move_rules(self) -> MoveRules:
        return MoveRules(
            drop_threshold=self.drop_threshold,
            rise_threshold=self.rise_threshold,
            benchmark_min_move=self.benchmark_min_move,
            min_peers=self.min_peers,
            peer_move_share=self.peer_move_share,
            peer_move_ratio=self.peer_move_ratio,
            reversal_share=self.reversal_share,
            adjustment_gap=self.adjustment_gap,
        )

    def integrity_rules(self) -> IntegrityRules:
        return IntegrityRules(max_quarantined_share=self.max_quarantined_share,
                              spike_factor=self.spike_factor)

    def staleness_rules(self) -> StalenessRules:
        return StalenessRules(stale_sessions=self.stale_sessions)

    def now(self) -> datetime:
        if self.evaluation_time is None:
            return datetime.now(UTC)
        moment = datetime.fromisoformat(self.evaluation_time)
        if moment.tzinfo is None:
            raise ValueError(f"evaluation_time needs a UTC offset, got {self.evaluation_time!r}")
        return moment


@dg.definitions
def quality_resources() -> dg.Definitions:
    return dg.Definitions(resources={"quality_rules": QualityRulesResource()})
