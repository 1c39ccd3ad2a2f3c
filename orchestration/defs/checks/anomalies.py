"""The record of the price checks' flags and the market shocks they add up to, written after the
marts: ``quality.price_anomalies`` and ``quality.detected_market_events``."""

from datetime import UTC, date, datetime

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.defs.checks.metadata import (
    FINDINGS_GROUP,
    KINDS,
    WAREHOUSE_POOL,
    counts,
    flagged_rows,
    table_metadata,
)
from orchestration.defs.checks.resources import QualityRulesResource
from orchestration.defs.dbt.assets import dbt_models
from orchestration.metadata import OWNERS
from orchestration.resources import WarehouseResource
from orchestration.retries import retry_transient_errors
from warehouse.quality.anomalies import record_anomalies
from warehouse.quality.sql import run_window
from warehouse.quality.tables import DETECTED_MARKET_EVENTS, PRICE_ANOMALIES
from warehouse.storage.writes import utc_naive

DAILY_RETURNS = get_asset_key_for_model([dbt_models], "fct_daily_returns")
SECURITIES = get_asset_key_for_model([dbt_models], "dim_security")
PRICE_ANOMALIES_KEY = dg.AssetKey(["quality", "price_anomalies"])
DETECTED_MARKET_EVENTS_KEY = dg.AssetKey(["quality", "detected_market_events"])

_THIS_RUN = "where run_id = $run_id order by trade_date desc, ticker, check_name"
_EVENTS = (f"select * from {DETECTED_MARKET_EVENTS.qualified_name} "
           "order by abs(value_change_usd) desc nulls last, breadth desc")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PRICE_ANOMALIES_KEY,
            description="Every flag of the price checks with its classification and evidence, "
            "kept across runs (first_seen from the first run that found it; each run flags the "
            "dates it loaded, and the move just before them): large drops and "
            "rises (market_event, corporate_action, suspect_data or idiosyncratic), stale "
            "closes, missing sessions, and FX bars outside their own range.",
            deps=[DAILY_RETURNS, SECURITIES, ["raw", "corporate_actions"], ["raw", "daily_prices"],
                  ["raw", "fx_rates"], ["raw", "exchange_sessions"]],
            group_name=FINDINGS_GROUP,
            kinds=KINDS,
            owners=OWNERS,
            tags={"layer": FINDINGS_GROUP},
            metadata=table_metadata(PRICE_ANOMALIES),
        ),
        dg.AssetSpec(
            DETECTED_MARKET_EVENTS_KEY,
            description="Market shocks found by the warehouse itself: the days whose large "
            "moves were classified market_event, over the whole market and per sector, with "
            "their breadth and USD value change (e.g. 2025-01-27, the DeepSeek sell-off). Each "
            "run recomputes the days it loaded.",
            deps=[DAILY_RETURNS, SECURITIES, ["raw", "corporate_actions"]],
            group_name=FINDINGS_GROUP,
            kinds=KINDS,
            owners=OWNERS,
            tags={"layer": FINDINGS_GROUP},
            metadata=table_metadata(DETECTED_MARKET_EVENTS),
        ),
    ],
    pool=WAREHOUSE_POOL,
    name="price_anomalies",
)
def price_anomalies(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    quality_rules: QualityRulesResource,
):
    """Classifies and records the flags of the dates this run loaded, then recomputes the detected
    market events of those dates."""
    run_id = context.run.run_id
    with retry_transient_errors(context), warehouse.connect() as connection:
        # the dates this run loaded (all of them when it loaded no prices) are flagged again;
        # earlier flags and events are kept as earlier runs found them
        since = run_window(connection, run_id)[0]
        report = record_anomalies(
            connection,
            moves=quality_rules.move_rules(),
            staleness=quality_rules.staleness_rules(),
            run_id=run_id,
            now=utc_naive(datetime.now(UTC), "now"),
            since=since,
        )
        (stored,), = connection.execute(
            f"select count(*) from {PRICE_ANOMALIES.qualified_name}").fetchall()
        found = connection.execute(
            f"select * exclude (run_id) from {PRICE_ANOMALIES.qualified_name} {_THIS_RUN}",
            {"run_id": run_id},
        ).df()
        events = connection.sql(_EVENTS).df()
    yield dg.MaterializeResult(
        asset_key=PRICE_ANOMALIES_KEY,
        metadata={
            "dagster/row_count": int(stored),
            "flagged_since": str(since) if since > date.min else "the whole history",
            "found": report.anomalies.found,
            "new": report.anomalies.new,
            "by_check": dg.MetadataValue.json(counts(found, "check_name")),
            "by_classification": dg.MetadataValue.json(counts(found, "classification")),
            "latest_flags": flagged_rows(found),
        },
    )
    yield dg.MaterializeResult(
        asset_key=DETECTED_MARKET_EVENTS_KEY,
        metadata={"dagster/row_count": len(events), "recomputed": report.market_events,
                  "largest": flagged_rows(events)},
    )
