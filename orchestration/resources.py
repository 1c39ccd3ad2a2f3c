"""Resources injected into the assets: the warehouse file, the universe and the market-data
source."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.errors import raise_execution_interrupts
from pydantic import Field

from warehouse import settings, storage
from warehouse.sources import SOURCE_KINDS, MarketDataSource, SnapshotSource, make_source
from warehouse.storage.connection import build_lock
from warehouse.universe import Universe, load_universe

log = logging.getLogger(__name__)
LOCK_TIMEOUT_ENV = "MARKET_WAREHOUSE_LOCK_TIMEOUT_SECONDS"
BUILD_LOCK_TIMEOUT_ENV = "MARKET_WAREHOUSE_BUILD_LOCK_TIMEOUT_SECONDS"


def seconds_setting(name: str, default: float) -> float:
    """A duration in seconds from the environment variable ``name``, or ``default``."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError as error:
        raise ValueError(f"{name}={value!r} is not a number of seconds") from error


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse. DuckDB admits one writing process per file, so every step that writes
    it runs in the same process (see the nightly job's executor) and in the `warehouse` pool (see
    orchestration/pools.py). dbt is told the same path in its own environment (see
    defs/dbt/assets.py: dbt_environment)."""

    path: str | None = Field(
        default=None,
        description="Path of the DuckDB file, resolved to an absolute path; unset: "
        f"${settings.WAREHOUSE_PATH_ENV} (or the default) when the run starts.",
    )
    lock_timeout_seconds: float = Field(
        default=60.0, description="How long to wait for another process to release the file."
    )
    build_lock_timeout_seconds: float = Field(
        default=3600.0,
        description="How long a run waits for another build of this warehouse (a CLI build or "
        "another Dagster run) to finish before it fails, naming that build.",
    )

    @property
    def database_path(self) -> Path:
        # Settings read at run time, not baked into the definitions: the job's snapshot is then the
        # same in `market-warehouse build` and in the UI, whatever each process's environment.
        return Path(self.path or settings.warehouse_path()).expanduser().resolve()

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WarehouseResource]:
        # The whole run holds the build lock (the in-process executor sets resources up once per
        # run), so a second build, from the CLI or Dagster, waits instead of interleaving.
        holder = f"Dagster run {context.run.run_id}" if context.run is not None else "a Dagster run"
        with ExitStack() as held:
            # Dagster defers interrupts while it sets resources up: without this, terminating a
            # run waiting here for another build would only take effect once that build ended.
            with raise_execution_interrupts():
                held.enter_context(
                    build_lock(
                        self.database_path,
                        holder=holder,
                        timeout_seconds=self.build_lock_timeout_seconds,
                        waiting=context.log.warning if context.log is not None else log.warning,
                    )
                )
            yield self

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

    # Not a Literal: Dagster config cannot make an optional one.
    source: str | None = Field(
        default=None,
        description="`yfinance` (online) or `snapshot` (replays snapshot_dir); unset: "
        f"${settings.SOURCE_ENV} (default yfinance) when the step runs.",
    )
    snapshot_dir: str | None = Field(
        default=None,
        description="Directory of snapshot files (prices.csv, fundamentals.csv, ...); unset: "
        f"${settings.SNAPSHOT_DIR_ENV} or the bundled snapshot.",
    )
    chunk_size: int = Field(default=50, description="Tickers per yfinance download call.")
    max_retries: int = Field(default=5, description="Retries on rate limits and timeouts.")
    backoff_base_seconds: float = Field(default=2.0, description="First retry delay; doubles.")
    timeout_seconds: float = Field(default=30.0, description="Timeout of one source request.")
    max_failed_share: float = Field(
        default=0.2,
        description="Fail the load when more than this share of the requested tickers fails.",
    )

    @property
    def source_kind(self) -> str:
        # read when used, like WarehouseResource.database_path: see there
        kind = self.source or settings.source_kind()
        if kind not in SOURCE_KINDS:
            raise ValueError(f"unknown market data source {kind!r}; choose one of {SOURCE_KINDS}")
        return kind

    @property
    def snapshot_path(self) -> Path:
        return Path(self.snapshot_dir) if self.snapshot_dir else settings.snapshot_dir()

    def coverage(self) -> tuple[date, date] | None:
        """First and last day a replayed snapshot holds; None for a live source."""
        if self.source_kind == "snapshot":
            return SnapshotSource(self.snapshot_path).coverage()
        return None

    def build(self) -> MarketDataSource:
        if self.source_kind == "snapshot":
            return make_source("snapshot", directory=self.snapshot_path)
        return make_source(
            "yfinance",
            chunk_size=self.chunk_size,
            max_retries=self.max_retries,
            backoff_base_seconds=self.backoff_base_seconds,
            timeout_seconds=self.timeout_seconds,
            max_failed_share=self.max_failed_share,
        )
