"""Ingestion: the universe, exchange calendars and market data into the warehouse's `raw` schema.

Every write is one transaction per run (all partitions of a backfill, or the nightly trailing
window), so a failure part-way leaves the warehouse as it was.

The daily market data is partitioned by trading day; its partitions definition reads the history
start setting, so those assets are defined when the definitions are built (``ingest_definitions``),
not at import."""

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pandas as pd

from orchestration.build import PROGRESS_NOTICE
from orchestration.metadata import column_schema, load_metadata, preview
from orchestration.partitions import RunWindow, history_start, run_window, trading_day_partitions
from orchestration.pools import WAREHOUSE_POOL
from orchestration.resources import MarketDataResource, UniverseResource, WarehouseResource
from orchestration.retries import retry_transient_errors
from warehouse import storage
from warehouse.calendars import sessions_frame
from warehouse.loading import securities_trading_between, with_restated_history
from warehouse.sources import MarketDataSource, check_failure_budget
from warehouse.sources.base import FetchResult, TickerFailure
from warehouse.universe import Security, universe_frame

GROUP = "ingest"
KINDS = {"python", "duckdb"}
OWNERS = ["team:market-data"]
TAGS = {"layer": "raw"}
# Loaded every weekday evening: Friday's load is three days old on Monday evening, a long weekend
# makes it four; five days without a load means the nightly refresh is not running.
DAILY_MARKET_DATA_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=5), warn_window=timedelta(days=3, hours=6)
)
# Sessions listed ahead of today, so day 0 of an event announced after the close is known.
SESSIONS_AHEAD = timedelta(days=30)


def _table_metadata(table: str) -> dict[str, object]:
    return {"dagster/column_schema": column_schema(table), "dagster/table_name": f"raw.{table}"}


def _raw_spec(
    table: str,
    description: str,
    *,
    deps: Sequence[str] = (),
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetSpec:
    partitioned = partitions_def is not None
    return dg.AssetSpec(
        key=["raw", table],
        description=description,
        group_name=GROUP,
        kinds=KINDS,
        deps=[["raw", dep] for dep in deps],
        partitions_def=partitions_def,
        freshness_policy=DAILY_MARKET_DATA_FRESHNESS if partitioned else None,
        metadata=_table_metadata(table),
        owners=OWNERS,
        tags=TAGS,
        # A window after a replayed snapshot's last day loads nothing (see nothing_to_load).
        skippable=partitioned,
    )


def nothing_to_load(window: tuple[date, date], coverage: tuple[date, date] | None) -> str | None:
    """Why a run over ``window`` has nothing to load from a source covering ``coverage`` (a
    replayed snapshot; None for a live source), or None when it has.

    A window wholly after the snapshot's last day is not an error: offline, the nightly schedule
    asks for today, and the right answer is a successful run that changes nothing."""
    if coverage is None or window[0] <= coverage[1]:
        return None
    return (
        f"Nothing new to load: the snapshot's last day is {coverage[1]}, the run asks for "
        f"{window[0]}..{window[1]}; the warehouse is left as it was."
    )


@dataclass(frozen=True)
class Fetched:
    """What one ingestion step got from the source: frames by raw table, and the tickers it
    lacks."""

    tables: dict[str, pd.DataFrame]
    failures: Sequence[TickerFailure]


def _ingest(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
    *,
    window: tuple[date, date],
    requested: Sequence[Security],
    fetch: Callable[[MarketDataSource], Fetched],
    max_failed_share: float,
) -> tuple[storage.LoadReport, Fetched]:
    """Fetches, refuses a load that lost too much of the universe, then writes every table and
    the load log in one transaction."""
    started_at = datetime.now(UTC)
    with retry_transient_errors(context):
        source = market_data.build()
        fetched = fetch(source)
        check_failure_budget(len(requested), fetched.failures, max_failed_share)
        for failure in fetched.failures:
            context.log.warning(f"{failure.ticker}: {failure.reason}")
        report = _write_load(
            context, warehouse, source.name, window, requested, fetched, started_at
        )
    return report, fetched


def _write_load(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    source_name: str,
    window: tuple[date, date],
    requested: Sequence[Security],
    fetched: Fetched,
    started_at: datetime,
) -> storage.LoadReport:
    with warehouse.connect() as connection:
        return storage.write_load(
            connection,
            run_id=context.run.run_id,
            asset_key="+".join(sorted(key.to_user_string() for key in context.selected_asset_keys)),
            source=source_name,
            partition_start=window[0],
            partition_end=window[1],
            tables=fetched.tables,
            failures=fetched.failures,
            tickers_requested=len(requested),
            started_at=started_at,
        )


def _write_reference(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    table: str,
    frame: pd.DataFrame,
    *,
    source: str,
) -> storage.WriteStats:
    """Reference data is written whole, in one transaction."""
    with (
        retry_transient_errors(context),
        warehouse.connect() as connection,
        storage.transaction(connection),
    ):
        return storage.replace_reference_rows(
            connection, table, frame, run_id=context.run.run_id, source=source
        )


def _skip_reason(context: dg.AssetExecutionContext, market_data: MarketDataResource) -> str | None:
    """Why this run has nothing to load (see nothing_to_load), logged once per step."""
    window = run_window(context)
    if window is None:
        return None
    with retry_transient_errors(context):
        reason = nothing_to_load(window, market_data.coverage())
    if reason is not None:
        context.log.warning(reason, extra=PROGRESS_NOTICE)
    return reason


@dg.asset(
    key=["raw", "securities"],
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    tags=TAGS,
    pool=WAREHOUSE_POOL,
    metadata=_table_metadata("securities"),
    # The first step of every run: in a run with nothing to load it yields nothing, and Dagster
    # skips every step downstream (all of them: prices, dbt, checks, publish), so the warehouse,
    # its published copy and the check history stay as they were. Reference data is not
    # rewritten either, since exchange_sessions would otherwise grow with today's date.
    output_required=False,
)
def securities(
    context: dg.AssetExecutionContext,
    universe: UniverseResource,
    market_data: MarketDataResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    """The universe file (tickers, exchange, currency, role, benchmark), validated and written to
    `raw.securities`: the list every other asset loads."""
    if _skip_reason(context, market_data) is not None:
        return
    frame = universe_frame(universe.load())
    stats = _write_reference(context, warehouse, "securities", frame, source="universe")
    yield dg.MaterializeResult(
        metadata={
            "securities": len(frame),
            "by_role": dg.MetadataValue.json(frame["role"].value_counts().to_dict()),
            "rows_changed": stats.rows_changed,
            "preview": preview(frame),
        }
    )


@dg.asset(
    key=["raw", "exchange_sessions"],
    deps=[securities],
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    tags=TAGS,
    pool=WAREHOUSE_POOL,
    metadata=_table_metadata("exchange_sessions"),
)
def exchange_sessions(
    context: dg.AssetExecutionContext, universe: UniverseResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every trading session of every exchange in the universe (exchange_calendars), from the start
    of history to a month ahead: dbt counts event windows and finds missing sessions with it."""
    exchanges = sorted({security.exchange for security in universe.load().securities})
    start = date.fromisoformat(history_start())
    end = date.today() + SESSIONS_AHEAD
    frame = sessions_frame(exchanges, start, end)
    _write_reference(context, warehouse, "exchange_sessions", frame, source="exchange_calendars")
    return dg.MaterializeResult(
        metadata={
            "sessions": len(frame),
            "exchanges": dg.MetadataValue.json(frame.groupby("exchange").size().to_dict()),
            "date_range": f"{start}..{end}",
        }
    )


def _partition_window(context: dg.AssetExecutionContext) -> RunWindow:
    window = run_window(context)
    if window is None:  # Dagster tags every run of a partitioned asset with its partitions
        raise dg.Failure(f"{context.op_def.name} runs over partitions, and this run has none")
    return window


@functools.cache
def partitioned_assets() -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """The daily prices (with corporate actions) and FX rates, on the trading-day partitions.
    Defined once per process: every definition of the code location shares the same objects."""
    partitions_def = trading_day_partitions()

    @dg.multi_asset(
        specs=[
            _raw_spec(
                "daily_prices",
                "Daily OHLC, close, adjusted close and volume per security and exchange-local "
                "trading date. Partitioned by trading day; a backfill is one run with batched "
                "downloads.",
                deps=["securities"],
                partitions_def=partitions_def,
            ),
            _raw_spec(
                "corporate_actions",
                "Dividends (per share, ex-date) and splits (ratio) seen in the same download as "
                "the prices.",
                deps=["securities"],
                partitions_def=partitions_def,
            ),
        ],
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        name="daily_prices",
    )
    def daily_prices(
        context: dg.AssetExecutionContext,
        universe: UniverseResource,
        market_data: MarketDataResource,
        warehouse: WarehouseResource,
    ):
        """Prices and corporate actions of every equity, ETF and index trading in the run's
        window."""
        if _skip_reason(context, market_data) is not None:
            return
        window = _partition_window(context)
        requested = securities_trading_between(universe.load().priced_securities(), *window)

        def fetch(source: MarketDataSource) -> Fetched:
            batch = source.fetch_prices(requested, *window)
            # a new split (or adj_close dividend) restates history: re-fetch it, one basis stored
            with warehouse.connect() as connection:
                batch = with_restated_history(connection, source, requested, batch, window[1])
            tables = {"daily_prices": batch.prices, "corporate_actions": batch.actions}
            return Fetched(tables, batch.failures)

        report, fetched = _ingest(
            context,
            warehouse,
            market_data,
            window=window,
            requested=requested,
            fetch=fetch,
            max_failed_share=market_data.max_failed_share,
        )
        for table, date_column in (
            ("daily_prices", "trade_date"),
            ("corporate_actions", "action_date"),
        ):
            yield dg.MaterializeResult(
                asset_key=["raw", table],
                metadata=load_metadata(
                    report, table, fetched.tables[table], date_column=date_column
                ),
            )

    @dg.asset(
        key=["raw", "fx_rates"],
        deps=[securities],
        group_name=GROUP,
        kinds=KINDS,
        owners=OWNERS,
        tags=TAGS,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        freshness_policy=DAILY_MARKET_DATA_FRESHNESS,
        pool=WAREHOUSE_POOL,
        metadata=_table_metadata("fx_rates"),
        output_required=False,  # nothing to load after a replayed snapshot's last day
    )
    def fx_rates(
        context: dg.AssetExecutionContext,
        universe: UniverseResource,
        market_data: MarketDataResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult]:
        """Daily FX quotes for every non-USD currency of the universe (e.g. JPY=X yen per dollar,
        EURUSD=X dollars per euro), used to put every market value in USD."""
        if _skip_reason(context, market_data) is not None:
            return
        window = _partition_window(context)
        requested = securities_trading_between(universe.load().fx_pairs(), *window)

        def fetch(source: MarketDataSource) -> Fetched:
            result = source.fetch_fx(requested, *window)
            return Fetched({"fx_rates": result.frame}, result.failures)

        report, fetched = _ingest(
            context,
            warehouse,
            market_data,
            window=window,
            requested=requested,
            fetch=fetch,
            max_failed_share=market_data.max_failed_share,
        )
        yield dg.MaterializeResult(
            metadata=load_metadata(
                report, "fx_rates", fetched.tables["fx_rates"], date_column="rate_date"
            )
        )

    return daily_prices, fx_rates


def _company_facts_asset(
    table: str,
    description: str,
    fetch: Callable[[MarketDataSource, list[Security], date], FetchResult],
    date_column: str,
) -> dg.AssetsDefinition:
    """Unpartitioned loads of company facts. Gaps here are common (Yahoo has no share history for
    many listings) and the marts degrade gracefully, so failures are recorded, never fatal."""

    @dg.asset(
        key=["raw", table],
        deps=[securities],
        group_name=GROUP,
        kinds=KINDS,
        owners=OWNERS,
        tags=TAGS,
        pool=WAREHOUSE_POOL,
        description=description,
        metadata=_table_metadata(table),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        universe: UniverseResource,
        market_data: MarketDataResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        requested = universe.load().equities()
        today = date.today()

        def fetch_table(source: MarketDataSource) -> Fetched:
            result = fetch(source, list(requested), today)
            return Fetched({table: result.frame}, result.failures)

        report, fetched = _ingest(
            context,
            warehouse,
            market_data,
            window=(today, today),
            requested=requested,
            fetch=fetch_table,
            max_failed_share=1.0,
        )
        return dg.MaterializeResult(
            metadata=load_metadata(report, table, fetched.tables[table], date_column=date_column)
        )

    return _asset


shares_outstanding = _company_facts_asset(
    "shares_outstanding",
    "Historical share counts as reported (not split-adjusted: dbt puts them on the price basis).",
    lambda source, requested, today: source.fetch_share_counts(
        requested, date.fromisoformat(history_start()), today
    ),
    "as_of_date",
)
fundamentals = _company_facts_asset(
    "fundamentals",
    "Company facts (name, sector, industry, shares, market cap, valuation ratios): one snapshot "
    "per ticker per as-of date, so their history is kept.",
    lambda source, requested, today: source.fetch_fundamentals(requested, today),
    "as_of_date",
)
quarterly_financials = _company_facts_asset(
    "quarterly_financials",
    "Key quarterly statement lines (revenue, net income, diluted EPS) where the source has them.",
    lambda source, requested, today: source.fetch_quarterly_financials(requested),
    "period_end",
)


load_log = _raw_spec(
    "load_log",
    "One row per ingestion step and window: source, tickers requested, loaded and failed, rows "
    "inserted, changed (the source's late corrections) and unchanged. Written in the same "
    "transaction as the data it describes.",
)
load_failures = _raw_spec(
    "load_failures", "Tickers the source could not deliver in a load, with the reason."
)


def __getattr__(name: str) -> dg.AssetsDefinition:
    # `assets.daily_prices` and `assets.fx_rates`, defined on first use (see partitioned_assets)
    by_name = {"daily_prices": 0, "fx_rates": 1}
    if name in by_name:
        return partitioned_assets()[by_name[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dg.definitions
def ingest_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            securities,
            exchange_sessions,
            *partitioned_assets(),
            shares_outstanding,
            fundamentals,
            quarterly_financials,
            load_log,
            load_failures,
        ]
    )
