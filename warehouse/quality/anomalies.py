"""The record of every price check's flags (``quality.price_anomalies``) and of the market shocks
the large moves add up to (``quality.detected_market_events``), written in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from warehouse.quality.coverage import MISSING_SESSIONS_SQL, STALE_CLOSES_SQL, scan_parameters
from warehouse.quality.integrity import FX_RANGE_QUIRKS_SQL
from warehouse.quality.moves import CLASSIFIED_MOVES_SQL, DETECTED_EVENTS_SQL, move_parameters
from warehouse.quality.rules import MoveRules, StalenessRules, sql_parameters
from warehouse.storage import transaction
from warehouse.quality.tables import (
    DETECTED_MARKET_EVENTS,
    PRICE_ANOMALIES,
    RecordStats,
    ensure_quality_tables,
    record_findings,
    replace_rows,
)

ANOMALIES_SQL = f"""
-- the moves from $since on and each security's last one before it (its next session is new)
select * from ({CLASSIFIED_MOVES_SQL})
union all
select * exclude (table_name, last_date) from ({STALE_CLOSES_SQL})
union all
select * exclude (table_name, last_date) from ({MISSING_SESSIONS_SQL})
union all
select * from ({FX_RANGE_QUIRKS_SQL})
"""


@dataclass(frozen=True)
class AnomalyReport:
    anomalies: RecordStats
    market_events: int


def record_anomalies(
    con: duckdb.DuckDBPyConnection,
    *,
    moves: MoveRules,
    staleness: StalenessRules,
    run_id: str,
    now: datetime,
    since: date = date.min,
) -> AnomalyReport:
    """Merges this run's flags into ``quality.price_anomalies`` (history kept: a flag no longer
    found keeps its last_seen) and recomputes ``quality.detected_market_events``, both for the
    dates from ``since`` on (a run's window; the default, the whole history). Each finding is
    computed from the days it needs only (the moves' neighbours, the start of a stale run), and
    equals what a computation over the whole history finds."""
    parameters = {**sql_parameters(moves, staleness), **move_parameters(con, moves, since),
                  **scan_parameters(con, since, staleness), "run_id": run_id}
    with transaction(con):
        ensure_quality_tables(con)
        anomalies = record_findings(con, PRICE_ANOMALIES, ANOMALIES_SQL, parameters,
                                    run_id=run_id, now=now, release_absent=False)
        events = replace_rows(con, DETECTED_MARKET_EVENTS, DETECTED_EVENTS_SQL, parameters,
                              scope="event_date >= $since")
    return AnomalyReport(anomalies, events)
