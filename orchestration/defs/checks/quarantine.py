"""The quarantine of impossible raw bars, between ingestion and dbt: the dbt source
``quality.quarantined_prices`` resolves to this asset, so every staging model that excludes
quarantined bars runs after it, and after its blocking integrity check."""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import dagster as dg

from orchestration.defs.checks.metadata import (
    GROUP,
    KINDS,
    WAREHOUSE_POOL,
    counts,
    described_counts,
    flagged_rows,
    run_id_of,
    table_metadata,
)
from orchestration.defs.checks.resources import QualityRulesResource
from orchestration.metadata import OWNERS
from orchestration.resources import WarehouseResource
from orchestration.retries import retry_transient_errors
from warehouse.quality.integrity import LoadHealth, fx_range_quirks_found, load_health, quarantine
from warehouse.quality.rules import IntegrityRules
from warehouse.quality.sql import FX_TABLE, load_window, run_window
from warehouse.quality.tables import QUARANTINED_PRICES
from warehouse.storage.writes import utc_naive

_QUARANTINED_ROWS = (
    f"select * from {QUARANTINED_PRICES.qualified_name} order by trade_date desc, ticker, reason"
)


@dg.asset(
    key=["quality", "quarantined_prices"],
    deps=[["raw", "daily_prices"], ["raw", "fx_rates"]],
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    tags={"layer": GROUP},
    pool=WAREHOUSE_POOL,
    metadata=table_metadata(QUARANTINED_PRICES),
)
def quarantined_prices(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Raw bars kept out of the marts: no close, a price at or below zero, high below low, an
    equity open or close outside [low, high], negative volume, or a ticker spelt twice on one date.
    Recomputed set-based from raw.daily_prices and raw.fx_rates by every refresh for the dates
    it loaded (all of them when the run loaded no prices), so a bar the source corrects is
    released; earlier rows are kept. FX bars whose open or close lies outside [low, high] are a
    known Yahoo quirk and stay in (recorded as fx_range_quirk in quality.price_anomalies)."""
    run_id = context.run.run_id
    with retry_transient_errors(context), warehouse.connect() as connection:
        # only the bars this run loaded can have changed: they are judged again, the rest is kept
        since = run_window(connection, run_id)[0]
        stats = quarantine(connection, run_id=run_id, now=utc_naive(datetime.now(UTC), "now"),
                           since=since)
        quarantined = connection.sql(_QUARANTINED_ROWS).df()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(quarantined),
            "judged_since": str(since) if since > date.min else "the whole history",
            "found": stats.found,
            "new": stats.new,
            "released": stats.released,
            "by_reason": dg.MetadataValue.json(counts(quarantined, "reason")),
            "quarantined": flagged_rows(quarantined),
        }
    )


@dg.asset_check(
    asset=quarantined_prices,
    name="integrity",
    pool=WAREHOUSE_POOL,
    blocking=True,
    description="Bars with impossible values are quarantined and reported (WARN). ERROR, which "
    "stops the dbt models of the run, when the load is broken rather than carrying a bad tick: "
    "more than max_quarantined_share of the bars this run loaded (else the latest load's) "
    "quarantined, or any duplicated key. fx_range_quirks_kept counts the FX bars of that load.",
)
def integrity(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    quality_rules: QualityRulesResource,
) -> dg.AssetCheckResult:
    rules = quality_rules.integrity_rules()
    run_id = run_id_of(context)
    with retry_transient_errors(context), warehouse.connect(read_only=True) as connection:
        health = load_health(connection, run_id)
        quarantined = connection.sql(_QUARANTINED_ROWS).df()
        fx_range_quirks = len(fx_range_quirks_found(
            connection, since=load_window(connection, FX_TABLE, run_id)[0]))
    systemic = [table for table in health if table.is_systemic(rules)]
    by_reason = counts(quarantined, "reason")
    if systemic:
        description = "Broken load, dbt models stopped: " + "; ".join(map(_described, systemic))
    elif by_reason:
        bars = len(quarantined.drop_duplicates(["table_name", "ticker", "trade_date"]))
        description = (f"{bars} bar(s) quarantined ({described_counts(by_reason)}), below the "
                       "systemic share: kept out of the marts, the refresh goes on")
    else:
        description = "No bar quarantined"
    return dg.AssetCheckResult(
        passed=quarantined.empty,
        severity=dg.AssetCheckSeverity.ERROR if systemic else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "by_reason": dg.MetadataValue.json(by_reason),
            "latest_loads": dg.MetadataValue.md(_health_table(health, rules)),
            "quarantined": flagged_rows(quarantined),
            "fx_range_quirks_kept": fx_range_quirks,
            "quarantined_rows": len(quarantined),
            "systemic_tables": len(systemic),
        },
    )


def _described(table: LoadHealth) -> str:
    if table.duplicated_keys:
        return f"{table.table_name} has {table.duplicated_keys} duplicated key(s)"
    return (f"{table.quarantined_bars} of {table.bars} bars of {table.table_name} "
            f"({table.quarantined_share:.1%}) quarantined in its latest load")


def _health_table(health: Sequence[LoadHealth], rules: IntegrityRules) -> str:
    lines = ["| table | latest load | bars | quarantined | share | duplicated keys | systemic |",
             "|---|---|---|---|---|---|---|"]
    for table in health:
        lines.append(
            f"| {table.table_name} | {table.window_start}..{table.window_end} | {table.bars} "
            f"| {table.quarantined_bars} | {table.quarantined_share:.2%} "
            f"| {table.duplicated_keys} | {'yes' if table.is_systemic(rules) else 'no'} |"
        )
    return "\n".join(lines)
