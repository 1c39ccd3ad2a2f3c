"""Event charts: one PNG per seeded event, rendered from the marts after every refresh, written
to the reports folder with an index page, and shown in the Dagster UI on the materialization.

The warehouse is opened read-only inside the run (hence the `warehouse` pool: no writer holds it
meanwhile). An event without rows gets a chart saying so; the run goes on."""

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from orchestration.defs.dbt.assets import dbt_asset_key
from orchestration.defs.reports.inline import inline_chart
from orchestration.metadata import OWNERS
from orchestration.pools import WAREHOUSE_POOL
from orchestration.resources import WarehouseResource
from orchestration.retries import retry_transient_errors
from warehouse import charts, reports, settings

GROUP = "reports"
INDEX_FILE = "index.html"
# How the footnote names each value of raw.daily_prices.source.
SOURCE_NAMES = {
    "yfinance": "Yahoo Finance (yfinance)",
    "snapshot": "the bundled snapshot of public market data (warehouse/snapshot/SOURCES.md)",
}
# What the charts read: two marts and the events seed.
UPSTREAM = [
    dbt_asset_key(name) for name in ("fct_event_impact", "agg_event_sector_impact", "events")
]


@dg.asset(
    key=["reports", "event_charts"],
    group_name=GROUP,
    kinds={"python", "matplotlib"},
    owners=OWNERS,
    tags={"layer": GROUP},
    deps=UPSTREAM,
    pool=WAREHOUSE_POOL,
    description=(
        "One chart per event in reference.events: day-0 USD market value change and abnormal "
        "return (market model) of every equity, grouped by sector. Written as "
        "`<reports dir>/<event_id>.png` with an `index.html` (reports dir: "
        f"`${settings.REPORTS_DIR_ENV}`, default `<warehouse dir>/reports`) and shown on the "
        "materialization: each event's largest USD moves at a glance, its full chart behind "
        "[Show Markdown]."
    ),
)
def event_charts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    reports_dir = settings.reports_dir(warehouse.database_path)
    with retry_transient_errors(context), warehouse.connect(read_only=True) as connection:
        data_source = price_sources(connection)
        events = [
            (event, _chart_data(connection, event.event_id)) for event in seeded_events(connection)
        ]
    rendered = []
    for event, data in events:
        chart, drawn = charts.rendered_event_chart(
            event, data, data_source=data_source, reports_dir=reports_dir
        )
        rendered.append(chart)
        status = "drawn" if drawn else "unchanged"
        context.log.info(f"{event.event_id}: {reports_dir / chart.file_name} ({status})")
    index = reports_dir / INDEX_FILE
    page = charts.index_html(rendered, generated_at=datetime.now(UTC))
    charts.write_atomically(index, page.encode())
    return dg.MaterializeResult(metadata=chart_metadata(rendered, reports_dir, index))


def seeded_events(connection: duckdb.DuckDBPyConnection) -> list[charts.Event]:
    rows = connection.execute(
        "select event_id, name, event_date from reference.events order by event_date, event_id"
    ).fetchall()
    return [charts.Event(event_id, name, event_date) for event_id, name, event_date in rows]


def price_sources(connection: duckdb.DuckDBPyConnection) -> str:
    """Where the warehouse's prices came from, as the footnote says it."""
    sources = connection.execute(
        "select distinct source from raw.daily_prices order by source"
    ).fetchall()
    return " and ".join(SOURCE_NAMES.get(source, source) for (source,) in sources)


def _chart_data(connection: duckdb.DuckDBPyConnection, event_id: str) -> charts.ChartData:
    impact = reports.event_impact(connection, event_id)
    return charts.chart_data(impact.securities, impact.sectors)


def chart_metadata(
    rendered: Sequence[charts.EventChart], reports_dir: Path, index: Path
) -> dict[str, Any]:
    """Paths, a summary row per event, and every chart as an inline image the UI displays."""
    metadata: dict[str, Any] = {
        "reports_dir": dg.MetadataValue.path(str(reports_dir)),
        "index": dg.MetadataValue.path(str(index)),
        "event_count": len(rendered),
        "events": dg.MetadataValue.table(
            records=[_summary_record(chart, reports_dir) for chart in rendered],
            schema=dg.TableSchema(
                columns=[
                    dg.TableColumn("event_id", "string"),
                    dg.TableColumn("event_date", "string"),
                    dg.TableColumn("usd_change_bn", "float", "Day-0 market value change, USD bn."),
                    dg.TableColumn("biggest_loser", "string"),
                    dg.TableColumn("securities", "int", "Equities with a day-0 return."),
                    dg.TableColumn("chart", "string"),
                ]
            ),
        ),
    }
    for chart in rendered:
        # small enough for the UI to draw in place, unlike the full chart
        glance = inline_chart(f"{chart.event.name}: day-0 USD value change", usd_bars(chart.data))
        if glance is not None:
            metadata[f"glance_{chart.event.event_id}"] = dg.MetadataValue.md(glance)
    for chart in rendered:
        encoded = base64.b64encode(chart.preview_png).decode("ascii")
        metadata[f"chart_{chart.event.event_id}"] = dg.MetadataValue.md(
            f"![{chart.event.name}](data:image/png;base64,{encoded})"
        )
    return metadata


def usd_bars(data: charts.ChartData) -> list[tuple[str, float]]:
    """(ticker, day-0 USD value change in bn) of every security the chart draws."""
    plotted = data.plotted
    if plotted.empty or "usd_change_bn" not in plotted:
        return []
    return [
        (str(ticker), float(value))
        for ticker, value in zip(plotted["ticker"], plotted["usd_change_bn"], strict=True)
        if value == value
    ]


def _summary_record(chart: charts.EventChart, reports_dir: Path) -> dg.TableRecord:
    total = chart.data.total_usd_change_bn
    return dg.TableRecord(
        {
            "event_id": chart.event.event_id,
            "event_date": chart.event.event_date.isoformat(),
            "usd_change_bn": None if total is None else round(total, 1),
            "biggest_loser": chart.data.biggest_loser,
            "securities": chart.data.with_return,
            "chart": str(reports_dir / chart.file_name),
        }
    )
