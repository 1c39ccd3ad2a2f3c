"""The nightly refresh: after the US close on weekdays, ingest a trailing window of sessions, build
the dbt models and run every check, in one run and one process."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.partitions import MARKET_TIMEZONE, RunWindow
from warehouse.loading import trailing_weekdays

NIGHTLY_CRON = "30 18 * * 1-5"
# Yahoo revises recent bars for a few days (late prints, corrected volumes, dividends):
# re-fetching the last week lets the load log count and apply those corrections.
TRAILING_SESSIONS = 5
# On a nightly_refresh run started by refresh_now: the refresh_now run that started it.
LAUNCHED_BY_TAG = "market_warehouse/launched_by"

nightly_refresh_job = dg.define_asset_job(
    name="nightly_refresh",
    selection=dg.AssetSelection.all(),  # partitioned by trading day, as the assets are
    description="Ingest the trailing sessions, build and test the dbt models, run the checks.",
    # One process: DuckDB allows a single writer, and in-process steps start far faster.
    # Ingestion steps retry themselves, with backoff, on errors a retry can fix (see ingest).
    executor_def=dg.in_process_executor,
)


def tonights_window(now: datetime) -> RunWindow:
    """The trailing sessions the evening run of ``now``'s date loads (New York date)."""
    return RunWindow(
        *trailing_weekdays(now.astimezone(ZoneInfo(MARKET_TIMEZONE)).date(), TRAILING_SESSIONS)
    )


def nightly_run_request(scheduled_for: datetime) -> dg.RunRequest:
    """The run for one evening: the partition range of the trailing sessions, ending today."""
    window = tonights_window(scheduled_for)
    return dg.RunRequest(run_key=f"nightly-{window.last_day.isoformat()}", tags=window.run_tags())


@dg.schedule(
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=MARKET_TIMEZONE,
    job=nightly_refresh_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekdays at 18:30 New York time, after the US close.",
)
def nightly_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return nightly_run_request(context.scheduled_execution_time)


@dg.op(description="Runs nightly_refresh over tonight's trailing sessions, as the schedule would.")
def refresh_trailing_sessions(context: dg.OpExecutionContext) -> None:
    from orchestration.build import run_refresh

    first_day, last_day = tonights_window(datetime.now(UTC))
    context.log.info(f"refreshing {first_day}..{last_day} as a nightly_refresh run")
    result = run_refresh(
        first_day,
        last_day,
        progress=context.log.info,
        instance=context.instance,
        tags={LAUNCHED_BY_TAG: context.run.run_id},
    )
    if not result.success:
        raise dg.Failure(
            f"nightly_refresh run {result.run_id} failed in {', '.join(result.failed_steps)}",
            metadata={"run_id": result.run_id},
        )
    context.log.info(f"nightly_refresh run {result.run_id} succeeded")


@dg.job(
    description="Tonight's refresh, now: one click, no partitions to pick. Starts a "
    f"nightly_refresh run over the last {TRAILING_SESSIONS} sessions ending today, as the "
    "schedule does.",
    executor_def=dg.in_process_executor,
)
def refresh_now() -> None:
    refresh_trailing_sessions()
