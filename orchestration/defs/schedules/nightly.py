"""The nightly refresh: after the US close on weekdays, ingest a trailing window of sessions, build
the dbt models and run every check, in one run and one process."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration.partitions import MARKET_TIMEZONE, trading_day_partitions
from warehouse.loading import trailing_weekdays

NIGHTLY_CRON = "30 18 * * 1-5"
# Yahoo revises recent bars for a few days (late prints, corrected volumes, dividends):
# re-fetching the last week lets the load log count and apply those corrections.
TRAILING_SESSIONS = 5

nightly_refresh_job = dg.define_asset_job(
    name="nightly_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=trading_day_partitions,
    description="Ingest the trailing sessions, build and test the dbt models, run the checks.",
    # One process: DuckDB allows a single writer, and in-process steps start far faster.
    # Ingestion steps retry themselves, with backoff, on errors a retry can fix (see ingest).
    executor_def=dg.in_process_executor,
)


def nightly_run_request(scheduled_for: datetime) -> dg.RunRequest:
    """The run for one evening: the partition range of the trailing sessions, ending today."""
    first_day, last_day = trailing_weekdays(scheduled_for.date(), TRAILING_SESSIONS)
    return dg.RunRequest(
        run_key=f"nightly-{last_day.isoformat()}",
        tags={
            ASSET_PARTITION_RANGE_START_TAG: first_day.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: last_day.isoformat(),
        },
    )


@dg.schedule(
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=MARKET_TIMEZONE,
    job=nightly_refresh_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekdays at 18:30 New York time, after the US close.",
)
def nightly_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return nightly_run_request(context.scheduled_execution_time)
