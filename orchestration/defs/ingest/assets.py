"""Ingestion: the universe, exchange calendars and market data into the warehouse's `raw` schema.

Every write is one transaction per run (all partitions of a backfill, or the nightly trailing
window), so a failure part-way leaves the warehouse as it was."""


from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pandas as pd

from orchestration.metadata import column_schema, load_metadata, preview
from orchestration.partitions import history_start, partition_dates, trading_day_partitions
from orchestration.resources import MarketDataResource, UniverseResource, WarehouseResource
from warehouse import storage
from warehouse.calendars import sessions_frame
from warehouse.loading import securities_trading_between
from warehouse.sources import MarketDataSource, check_failure_budget
from warehouse.sources.base import FetchResult, TickerFailure
from warehouse.universe import Security, universe_frame

GROUP = "ingest"
KINDS = {"python", "duckdb"}
WAREHOUSE_POOL = "warehouse"
# Sessions listed ahead of today, so day 0 of an event announced after the close is known.
SESSIONS_AHEAD = timedelta(days=30)


def _raw_spec(
    table: str, description: str, *, deps: Sequence[str] = (), partitioned: bool = False
) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=["raw", table],
        description=description,
        group_name=GROUP,
        kinds=KINDS,
        deps=[["raw", dep] for dep in deps],
        partitions_def=trading_day_partitions if partitioned else None,
        metadata={"dagster/column_schema": column_schema(table), "dagster/table_name": f"raw.{table}"},
    )


def _write(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    *,
    source: str,
    window: tuple[date, date],
    tables: dict[str, pd.DataFrame],
    requested: Sequence[Security],
    failures: Sequence[TickerFailure],
    max_failed_share: float,
) -> storage.LoadReport:
    """Refuses a load that lost too much of the universe, then writes it in one transaction."""
    check_failure_budget(len(requested), failures, max_failed_share)
    for failure in failures:
        context.log.warning(f"{failure.ticker}: {failure.reason}")
    with warehouse.connect() as connection:
        return storage.write_load(
            connection,
            run_id=context.run_id,
            asset_key=context.asset_key.to_user_string()
            if len(context.selected_asset_keys) == 1
            else ",".join(sorted(key.to_user_string() for key in context.selected_asset_keys)),
            source=source,
            partition_start=window[0],
            partition_end=window[1],
            tables=tables,
            failures=failures,
            tickers_requested=len(requested),
            started_at=datetime.now(timezone.utc),
        )


@dg.asset(
    key=["raw", "securities"],
    group_name=GROUP,
    kinds=KINDS,
    pool=WAREHOUSE_POOL,
    metadata={"dagster/column_schema": column_schema("securities")},
)
def securities(
    context: dg.AssetExecutionContext, universe: UniverseResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The universe file (tickers, exchange, currency, role, benchmark), validated and written to
    `raw.securities`: the list every other asset loads."""
    frame = universe_frame(universe.load())
    with warehouse.connect() as connection:
        connection.begin()
        stats = storage.replace_reference_rows(
            connection, "securities", frame, run_id=context.run_id, source="universe"
        )
        connection.commit()
    return dg.MaterializeResult(
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
    pool=WAREHOUSE_POOL,
    metadata={"dagster/column_schema": column_schema("exchange_sessions")},
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
    with warehouse.connect() as connection:
        connection.begin()
        storage.replace_reference_rows(
            connection, "exchange_sessions", frame, run_id=context.run_id, source="exchange_calendars"
        )
        connection.commit()
    return dg.MaterializeResult(
        metadata={
            "sessions": len(frame),
            "exchanges": dg.MetadataValue.json(frame.groupby("exchange").size().to_dict()),
            "date_range": f"{start}..{end}",
        }
    )


@dg.multi_asset(
    specs=[
        _raw_spec(
            "daily_prices",
            "Daily OHLC, close, adjusted close and volume per security and exchange-local trading "
            "date. Partitioned by trading day; a backfill is one run with batched downloads.",
            deps=["securities"],
            partitioned=True,
        ),
        _raw_spec(
            "corporate_actions",
            "Dividends (per share, ex-date) and splits (ratio) seen in the same download as the prices.",
            deps=["securities"],
            partitioned=True,
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
    first_day, last_day = partition_dates(context)
    priced = universe.load().priced_securities()
    requested = securities_trading_between(priced, first_day, last_day)
    source = market_data.build()
    batch = source.fetch_prices(requested, first_day, last_day)
    report = _write(
        context,
        warehouse,
        source=source.name,
        window=(first_day, last_day),
        tables={"daily_prices": batch.prices, "corporate_actions": batch.actions},
        requested=requested,
        failures=batch.failures,
        max_failed_share=market_data.max_failed_share,
    )
    yield dg.MaterializeResult(
        asset_key=["raw", "daily_prices"],
        metadata=load_metadata(report, "daily_prices", batch.prices, date_column="trade_date"),
    )
    yield dg.MaterializeResult(
        asset_key=["raw", "corporate_actions"],
        metadata=load_metadata(report, "corporate_actions", batch.actions, date_column="action_date"),
    )


@dg.asset(
    key=["raw", "fx_rates"],
    deps=[securities],
    group_name=GROUP,
    kinds=KINDS,
    partitions_def=trading_day_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    metadata={"dagster/column_schema": column_schema("fx_rates")},
)
def fx_rates(
    context: dg.AssetExecutionContext,
    universe: UniverseResource,
    market_data: MarketDataResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Daily FX quotes for every non-USD currency of the universe (e.g. JPY=X yen per dollar,
    EURUSD=X dollars per euro), used to put every market value in USD."""
    first_day, last_day = partition_dates(context)
    requested = securities_trading_between(universe.load().fx_pairs(), first_day, last_day)
    source = market_data.build()
    result = source.fetch_fx(requested, first_day, last_day)
    report = _write(
        context,
        warehouse,
        source=source.name,
        window=(first_day, last_day),
        tables={"fx_rates": result.frame},
        requested=requested,
        failures=result.failures,
        max_failed_share=market_data.max_failed_share,
    )
    return dg.MaterializeResult(
        metadata=load_metadata(report, "fx_rates", result.frame, date_column="rate_date")
    )


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
        pool=WAREHOUSE_POOL,
        description=description,
        metadata={"dagster/column_schema": column_schema(table), "dagster/table_name": f"raw.{table}"},
    )
    def _asset(
        context: dg.AssetExecutionContext,
        universe: UniverseResource,
        market_data: MarketDataResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        requested = universe.load().equities()
        today = date.today()
        source = market_data.build()
        result = fetch(source, requested, today)
        report = _write(
            context,
            warehouse,
            source=source.name,
            window=(today, today),
            tables={table: result.frame},
            requested=requested,
            failures=result.failures,
            max_failed_share=1.0,
        )
        return dg.MaterializeResult(
            metadata=load_metadata(report, table, result.frame, date_column=date_column)
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
    "Company facts (name, sector, industry, shares, market cap, valuation ratios): one snapshot per "
    "ticker per as-of date, so their history is kept.",
    lambda source, requested, today: source.fetch_fundamentals(requested, today),
    "as_of_date",
)
quarterly_financials = _company_facts_asset(
    "quarterly_financials",
    "Key quarterly statement lines (revenue, net income, diluted EPS) where the source has them.",
    lambda source, requested, today: source.fetch_quarterly_financials(requested),
    "period_end",
)
