"""The one partitioning scheme of the warehouse, and the one window a run works on.

One partition per weekday, keyed by the exchange-local trading date. Tokyo, Xetra and New York all
trade Monday to Friday, so a weekday partition holds each exchange's session of that local date
(or none on its holidays).

A run's window is the trading days of its partition range: ingestion loads them, dbt's incremental
models recompute from the first (passed as MARKET_WAREHOUSE_REFRESH_START, see
defs/dbt/assets.py), the checks judge them. Every step reads it with ``run_window(context)``; the
schedule and the CLI ask for one with ``RunWindow.run_tags()``. Dagster's tag names for a
partition range are not public API: they are imported here only."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import date, datetime
from typing import NamedTuple, Protocol

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

HISTORY_START_ENV = "MARKET_WAREHOUSE_HISTORY_START"
DEFAULT_HISTORY_START = "2023-01-02"
PARTITION_DATE_FORMAT = "%Y-%m-%d"
WEEKDAYS_CRON = "0 0 * * 1-5"
MARKET_TIMEZONE = "America/New_York"


def history_start() -> str:
    """First trading date the warehouse holds; a setting because a user backfilling decades needs
    partitions that reach back that far."""
    value = os.environ.get(HISTORY_START_ENV) or DEFAULT_HISTORY_START
    try:
        datetime.strptime(value, PARTITION_DATE_FORMAT)
    except ValueError as error:
        raise ValueError(
            f"{HISTORY_START_ENV}={value!r} is not a date in YYYY-MM-DD form"
        ) from error
    return value


@functools.cache
def trading_day_partitions() -> dg.TimeWindowPartitionsDefinition:
    """The partitions of the daily market data, from the history start setting. Built when the
    definitions are (not at import, so importing the code location reads no setting), once per
    process: every partitioned asset must share the same definition."""
    return dg.TimeWindowPartitionsDefinition(
        start=history_start(),
        fmt=PARTITION_DATE_FORMAT,
        cron_schedule=WEEKDAYS_CRON,
        timezone=MARKET_TIMEZONE,
        # Today's partition exists from midnight on, so the evening refresh loads today's session.
        end_offset=1,
    )


class RunWindow(NamedTuple):
    """The trading days a run works on, both inclusive. A tuple, so it unpacks as the
    ``(first, last)`` pair the loading and quality code take."""

    first_day: date
    last_day: date

    def run_tags(self) -> dict[str, str]:
        """The tags that make a run of the nightly job cover this window's partitions."""
        return {
            ASSET_PARTITION_RANGE_START_TAG: self.first_day.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: self.last_day.isoformat(),
        }


class _HasRun(Protocol):
    """Any step's context: asset, multi-asset, asset check or op."""

    @property
    def run(self) -> dg.DagsterRun: ...


def run_window(run: _HasRun | Mapping[str, str]) -> RunWindow | None:
    """The window of a step's run (or of a run's tags): its partition range, or its one
    partition; None for a run without partitions (e.g. a check re-executed alone)."""
    tags = run if isinstance(run, Mapping) else run.run.tags
    first = tags.get(ASSET_PARTITION_RANGE_START_TAG) or tags.get(PARTITION_NAME_TAG)
    last = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get(PARTITION_NAME_TAG)
    if not first or not last:
        return None
    return RunWindow(
        datetime.strptime(first, PARTITION_DATE_FORMAT).date(),
        datetime.strptime(last, PARTITION_DATE_FORMAT).date(),
    )
