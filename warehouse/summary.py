"""The summary `market-warehouse build` prints: what the warehouse holds, and the reference
story."""

from __future__ import annotations

from pathlib import Path

from warehouse import publish
from warehouse.formatting import format_table
from warehouse.reports import REFERENCE_EVENT, UnknownEventError, event_impact, render_event
from warehouse.storage.reads import table_overview


def build_summary(published: Path) -> str:
    """Tables with their rows and dates, then the reference event's biggest USD movers and its
    sector table, read from the published copy, exactly what every reader sees."""
    with publish.open_published(published) as connection:
        lines = [
            "Warehouse contents:",
            format_table(["table", "rows", "first date", "last date"], table_overview(connection)),
        ]
        try:
            lines.append(render_event(event_impact(connection, REFERENCE_EVENT)))
        except UnknownEventError:
            lines.append(f"(no {REFERENCE_EVENT} event in this warehouse's events seed)")
    return "\n".join(lines)
