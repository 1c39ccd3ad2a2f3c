"""The integrity check: what the dbt quarantine recorded, in words, on the dbt asset
``quality/quarantined_prices``. The quarantine itself, and the block of a broken load, are dbt's:
the model quarantine_load_health's test load_is_not_broken (severity error) stops dbt build before
the price staging models, so a broken load never reaches the marts. This check recomputes
nothing."""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from orchestration.defs.checks.metadata import (
    counts,
    described_counts,
    flagged_rows,
)
from orchestration.defs.dbt.assets import dbt_asset_key
from orchestration.pools import WAREHOUSE_POOL
from orchestration.resources import WarehouseResource
from orchestration.retries import retry_transient_errors

QUARANTINED_PRICES = dbt_asset_key("quarantined_prices")
LOAD_HEALTH = dbt_asset_key("quarantine_load_health")
FX_RANGE_QUIRKS = dbt_asset_key("fx_range_quirks")

_QUARANTINED_ROWS = (
    "select * from quality.quarantined_prices order by trade_date desc, ticker, reason"
)
# dates as text: the window of a run without one ends on 9999-12-31, beyond pandas' timestamps
_LOAD_HEALTH = (
    "select * replace (cast(window_start as varchar) as window_start, "
    "cast(window_end as varchar) as window_end) "
    "from quality.quarantine_load_health order by table_name"
)
_FX_RANGE_QUIRKS = "select count(*) from quality.fx_range_quirks"


@dg.asset_check(
    asset=QUARANTINED_PRICES,
    name="integrity",
    pool=WAREHOUSE_POOL,
    additional_deps=[LOAD_HEALTH, FX_RANGE_QUIRKS],
    description="Bars with impossible values, and one-day spikes, quarantined by the dbt model "
    "quality/quarantined_prices and kept out of the marts (WARN). ERROR when the load is broken "
    "(quality/quarantine_load_health: more than max_quarantined_share of the window's bars "
    "quarantined, or a duplicated key); dbt's test load_is_not_broken has then already stopped "
    "the models after the quarantine. fx_range_quirks_kept counts the FX bars of the window.",
)
def integrity(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with retry_transient_errors(context), warehouse.connect(read_only=True) as connection:
        quarantined = connection.sql(_QUARANTINED_ROWS).df()
        health = connection.sql(_LOAD_HEALTH).df()
        ((fx_range_quirks,),) = connection.sql(_FX_RANGE_QUIRKS).fetchall()
    systemic = health[health["is_systemic"]]
    by_reason = counts(quarantined, "reason")
    if not systemic.empty:
        description = "Broken load, dbt models stopped: " + "; ".join(
            _described(row) for row in systemic.itertuples()
        )
    elif by_reason:
        bars = len(quarantined.drop_duplicates(["table_name", "ticker", "trade_date"]))
        description = (
            f"{bars} bar(s) quarantined ({described_counts(by_reason)}), below the "
            "systemic share: kept out of the marts, the refresh goes on"
        )
    else:
        description = "No bar quarantined"
    return dg.AssetCheckResult(
        passed=quarantined.empty,
        severity=dg.AssetCheckSeverity.ERROR if not systemic.empty else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "by_reason": dg.MetadataValue.json(by_reason),
            "latest_loads": dg.MetadataValue.md(_health_table(list(health.itertuples()))),
            "quarantined": flagged_rows(quarantined),
            "fx_range_quirks_kept": int(fx_range_quirks),
            "quarantined_rows": len(quarantined),
            "systemic_tables": len(systemic),
        },
    )


def _described(table: Any) -> str:
    if table.duplicated_keys:
        return f"{table.table_name} has {table.duplicated_keys} duplicated key(s)"
    return (
        f"{table.quarantined_bars} of {table.bars} bars of {table.table_name} "
        f"({table.quarantined_share:.1%}) quarantined in its latest load"
    )


def _health_table(health: Sequence[Any]) -> str:
    lines = [
        "| table | window | bars | quarantined | share | duplicated keys | systemic |",
        "|---|---|---|---|---|---|---|",
    ]
    for table in health:  # rows of quality.quarantine_load_health
        lines.append(
            f"| {table.table_name} | {_window(table)} | {table.bars} "
            f"| {table.quarantined_bars} | {table.quarantined_share:.2%} "
            f"| {table.duplicated_keys} | {'yes' if table.is_systemic else 'no'} |"
        )
    return "\n".join(lines)


def _window(table: Any) -> str:
    return f"{table.window_start}..{table.window_end}"
