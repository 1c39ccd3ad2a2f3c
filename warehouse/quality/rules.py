"""The thresholds of the quality rules, typed and validated in one place, and the vocabulary the
Python that remains (the raw writes' rejection of bad corrections, the checks) shares with the dbt
quality models.

A threshold is defined once (here), configured once (the Dagster resource ``quality_rules``, built
from these defaults, which passes them to dbt as the vars ``quality_<field>``) and documented once
(docs/QUALITY.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class QuarantineReason(StrEnum):
    """Why a raw bar is kept out of the marts (``quality.quarantined_prices`` has one row per bar
    and reason)."""

    MISSING_CLOSE = "missing_close"
    NON_POSITIVE_PRICE = "non_positive_price"
    HIGH_BELOW_LOW = "high_below_low"
    OPEN_OUTSIDE_RANGE = "open_outside_range"
    CLOSE_OUTSIDE_RANGE = "close_outside_range"
    NEGATIVE_VOLUME = "negative_volume"
    DUPLICATE_KEY = "duplicate_key"
    # possible values, but a bar spike_factor times off both its neighbours (see IntegrityRules)
    SUSPECT_SPIKE = "suspect_spike"


@dataclass(frozen=True)
class MoveRules:
    """When a one-day return is a large move, and how a large move is classified."""

    # A one-day adjusted return at or beyond these is a large move.
    drop_threshold: float = -0.10
    rise_threshold: float = 0.10
    # market_event when the security's benchmark moved at least this much the same way ...
    benchmark_min_move: float = 0.02
    # ... or when at least min_peers equities of its industry (or sector) moved the same way by at
    # least peer_move_share of the threshold (default: 2 peers down 5% or more for a 10% drop).
    min_peers: int = 2
    peer_move_share: float = 0.5
    # ... but a peer, or the benchmark, whose move is more than this many times smaller than the
    # security's explains nothing: +9,900% on a day two peers rose 5% is not their market.
    peer_move_ratio: float = 10.0
    # suspect_data when the next session gives back at least this share of the move (a spike).
    reversal_share: float = 0.8
    # suspect_data when the adjusted return and the raw close return (with the day's corporate
    # actions undone) differ by more than this: close and adj_close disagree.
    adjustment_gap: float = 0.05

    def __post_init__(self) -> None:
        _require(-1 < self.drop_threshold < 0, "drop_threshold must lie in (-1, 0)")
        _require(self.rise_threshold > 0, "rise_threshold must be positive")
        _require(self.benchmark_min_move > 0, "benchmark_min_move must be positive")
        _require(self.min_peers >= 1, "min_peers must be at least 1")
        _require(0 < self.peer_move_share <= 1, "peer_move_share must lie in (0, 1]")
        _require(self.peer_move_ratio >= 1, "peer_move_ratio must be at least 1")
        _require(0 < self.reversal_share <= 1, "reversal_share must lie in (0, 1]")
        _require(self.adjustment_gap > 0, "adjustment_gap must be positive")


@dataclass(frozen=True)
class IntegrityRules:
    """Which possible bars are still kept out of the marts, and when the quarantined bars are a
    broken load rather than a bad tick."""

    # The share of the latest load's bars that may be quarantined before the load counts as broken
    # (the blocking check fails). Any duplicated key is systemic whatever its share.
    max_quarantined_share: float = 0.05
    # A bar at least this many times above, or below, BOTH its neighbouring bars (a 100x tick that
    # reverts the next session) is quarantined as suspect_spike, kept out of the marts like an
    # impossible bar. Smaller spikes stay in, classified suspect_data by the large-move check:
    # real markets whipsaw by tens of percent (ARM +29% then -20% in February 2024), never 3x.
    # float('inf') quarantines no spike.
    spike_factor: float = 3.0

    def __post_init__(self) -> None:
        _require(0 <= self.max_quarantined_share < 1, "max_quarantined_share must lie in [0, 1)")
        _require(self.spike_factor > 1, "spike_factor must be above 1")


@dataclass(frozen=True)
class StalenessRules:
    """When an unchanged close is a stale feed rather than a quiet market."""

    # The same close on this many consecutive sessions of the security's exchange (default: a full
    # trading week) is stale. Sessions come from raw.exchange_sessions, so holidays never count.
    stale_sessions: int = 5

    def __post_init__(self) -> None:
        _require(self.stale_sessions >= 2, "stale_sessions must be at least 2")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
