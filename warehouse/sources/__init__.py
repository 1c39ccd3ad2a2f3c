"""Market-data sources behind one interface: Yahoo Finance online, a replayed snapshot offline."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from warehouse import settings
from warehouse.sources.base import (
    FetchResult,
    MarketDataSource,
    NoDataError,
    PriceBatch,
    SourceDataError,
    SourceError,
    SourceUnavailableError,
    TickerFailure,
    check_failure_budget,
)
from warehouse.sources.snapshot_source import SnapshotSource
from warehouse.sources.yfinance_source import YFinanceConfig, YFinanceSource

SOURCE_KINDS = ("yfinance", "snapshot")

__all__ = [
    "SOURCE_KINDS",
    "FetchResult",
    "MarketDataSource",
    "PriceBatch",
    "SnapshotSource",
    "NoDataError",
    "SourceDataError",
    "SourceError",
    "SourceUnavailableError",
    "TickerFailure",
    "YFinanceConfig",
    "YFinanceSource",
    "check_failure_budget",
    "make_source",
]


def make_source(kind: str, **options: Any) -> MarketDataSource:
    """``make_source("snapshot", directory=...)`` (default: the settings' snapshot directory) or
    ``make_source("yfinance", chunk_size=..., max_retries=..., ...)``: YFinanceConfig fields build
    the config, the rest (yf_module, sleep, jitter) go to the constructor."""
    if kind == "snapshot":
        return SnapshotSource(
            Path(options.pop("directory", None) or settings.snapshot_dir()), **options
        )
    if kind == "yfinance":
        config_fields = {field.name for field in fields(YFinanceConfig)}
        config = YFinanceConfig(
            **{key: value for key, value in options.items() if key in config_fields}
        )
        rest = {key: value for key, value in options.items() if key not in config_fields}
        return YFinanceSource(config, **rest)
    raise ValueError(
        f"unknown market data source {kind!r}; choose one of {', '.join(SOURCE_KINDS)}"
    )
