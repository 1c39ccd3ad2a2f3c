"""Resources injected into the assets: the warehouse file, the universe and the market-data source."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Literal

import dagster as dg
import duckdb
from pydantic import Field

from warehouse import settings, storage
from warehouse.sources import MarketDataSource, SnapshotSource, make_source
from warehouse.universe import Universe, load_universe


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse. DuckDB admits one writing process per file, so every step that writes
    it runs in the same process (see the nightly job's executor) and in the `warehouse` pool."""

    path: str = Field(description="Path of the DuckDB file; resolved to an absolute path.")
    lock_timeout_seconds: float = Field(
        default=60.0, description="How long to wait for another process to release the file."
    )

    @property
    def database_path(self) -> Path:
        return Path(self.path).expanduser().resolve()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # dbt runs as a subprocess inside dbt_project/ and reads the path from this variable in
        # profiles.yml: exporting the resolved absolute path here guarantees both write one file.
        os.environ[settings.WAREHOUSE_PATH_ENV] = str(self.database_path)

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = storage.connect(
            self.database_path,
            read_only=read_only,
            lock_timeout_seconds=self.lock_timeout_seconds,
        )
        try:
            if not read_only:
                storage.ensure_schema(connection)
            yield connection
        finally:
            connection.close()


class UniverseResource(dg.ConfigurableResource):
    """The list of securities: the one source of truth for what the warehouse holds."""

    path: str = Field(description="CSV with ticker, name, role, exchange, currency, benchmark.")

    def load(self) -> Universe:
        return load_universe(Path(self.path))


class MarketDataResource(dg.ConfigurableResource):
    """Where market data comes from: Yahoo Finance online, or a replayed snapshot offline."""

    source: Literal["yfinance", "snapshot"] = Field(
        default="yfinance", description="`yfinance` (online) or `snapshot` (replays snapshot_dir)."
    )
    snapshot_dir: str = Field(
        default=str(settings.DEFAULT_SNAPSHOT_DIR),
        description="Directory of snapshot files (prices.csv, fundamentals.csv, ...).",
    )
    chunk_size: int = Field(default=50, description="Tickers per yfinance download call.")
    max_retries: int = Field(default=5, description="Retries on rate limits and timeouts.")
    backoff_base_seconds: float = Field(default=2.0, description="First retry delay; doubles.")
    timeout_seconds: float = Field(default=30.0, description="Timeout of one source request.")
    max_failed_share: float = Field(
        default=0.2,
        description="Fail the load when more than this share of the requested tickers fails.",
    )

    def coverage(self) -> tuple[date, date] | None:
        """First and last day a replayed snapshot holds; None for a live source."""
        if self.source == "snapshot":
            return SnapshotSource(Path(self.snapshot_dir)).coverage()
        return None

    def build(self) -> MarketDataSource:
        if self.source == "snapshot":
            return make_source("snapshot", directory=Path(self.snapshot_dir))
        return make_source(
            "yfinance",
            chunk_size=self.chunk_size,
            max_retries=self.max_retries,
            backoff_base_seconds=self.backoff_base_seconds,
            timeout_seconds=self.timeout_seconds,
            max_failed_share=self.max_failed_share,
        )
