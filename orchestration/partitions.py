"""The one partitioning scheme of the warehouse: one partition per weekday, keyed by the
exchange-local trading date. Tokyo, Xetra and New York all trade Monday to Friday, so a weekday
partition holds each exchange's session of that local date (or none on its holidays)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime

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
        raise ValueError(f"{HISTORY_START_ENV}={value!r} is not a date in YYYY-MM-DD form") from error
    return value


trading_day_partitions = dg.TimeWindowPartitionsDefinition(
    start=history_start(),
    fmt=PARTITION_DATE_FORMAT,
    cron_schedule=WEEKDAYS_CRON,
    timezone=MARKET_TIMEZONE,
    # Today's partition exists from midnight on, so the evening refresh can load today's session.
    end_offset=1,
)


def partition_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """First and last trading date (inclusive) of the run's partition key range."""
    key_range = context.partition_key_range
    return (
        datetime.strptime(key_range.start, PARTITION_DATE_FORMAT).date(),
        datetime.strptime(key_range.end, PARTITION_DATE_FORMAT).date(),
    )


def run_window(tags: Mapping[str, str]) -> tuple[date, date] | None:
    """The trading dates a run covers, from its tags (a partition range, or one partition); None
    for a run without partitions. Unpartitioned steps of a partitioned run read it here."""
    start = tags.get(ASSET_PARTITION_RANGE_START_TAG) or tags.get(PARTITION_NAME_TAG)
    end = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get(PARTITION_NAME_TAG)
    if not start or not end:
        return None
    return (
        datetime.strptime(start, PARTITION_DATE_FORMAT).date(),
        datetime.strptime(end, PARTITION_DATE_FORMAT).date(),
    )
