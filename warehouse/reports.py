"""What an event did, as text: its biggest movers in USD and its sector table. One module serves
`market-warehouse event` and the summary `make demo` prints."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from warehouse.formatting import format_table

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REFERENCE_EVENT = "deepseek_selloff"
# The label of the whole-event row of the sector table.
ALL_EQUITIES = "All equities"

SECURITY_COLUMNS = """
    ticker, sector, industry, day0_trade_date, day0_return, car_mm_0_0, car_mm_m1_p1, car_mm_0_p5,
    day0_usd_value_change, day0_spans_missing_session, missing_reason
"""


class UnknownEventError(LookupError):
    """An event id that is not in the events seed."""


@dataclass(frozen=True)
class EventImpact:
    title: str
    securities: pd.DataFrame
    sectors: pd.DataFrame


def is_date(event: str) -> bool:
    return bool(DATE_PATTERN.match(event))


def event_impact(connection: duckdb.DuckDBPyConnection, event: str) -> EventImpact:
    """A seeded event by id (from the marts), or any date (through the `marts.event_impact` table
    macro, with the sector table grouped from its rows)."""
    if is_date(event):
        securities = connection.execute(
            f"select {SECURITY_COLUMNS} from marts.event_impact(cast(? as date)) "
            "where role = 'equity' order by day0_usd_value_change nulls last, day0_return",
            [event],
        ).df()
        return EventImpact(f"Ad-hoc event on {event}", securities, _sectors_from(securities))
    found = connection.execute(
        "select name, event_date from reference.events where event_id = ?", [event]
    ).fetchall()
    if not found:
        known = [
            row[0]
            for row in connection.execute(
                "select event_id from reference.events order by event_date"
            ).fetchall()
        ]
        raise UnknownEventError(
            f"no event {event!r}; known events: {', '.join(known)} (or give a date, YYYY-MM-DD)"
        )
    name, event_date = found[0]
    securities = connection.execute(
        f"select {SECURITY_COLUMNS} from marts.fct_event_impact "
        "where event_id = ? and role = 'equity' "
        "order by rank_day0_usd_value_change nulls last, day0_return",
        [event],
    ).df()
    sectors = connection.execute(
        """
        select
            sector,
            securities_counted as securities,
            ew_day0_return,
            vw_day0_return,
            total_day0_usd_value_change as usd_value_change,
            ew_car_mm_m1_p1,
            share_decliners,
            largest_loser_ticker as largest_loser,
            t_cross_sectional_0_0,
            bmp_kp_t_0_0
        from marts.agg_event_sector_impact
        where event_id = ? and grouping_level in ('sector', 'all')
        order by grouping_level = 'all', usd_value_change nulls last
        """,
        [event],
    ).df()
    sectors["sector"] = sectors["sector"].fillna(ALL_EQUITIES)
    return EventImpact(f"{name} ({event}, {event_date})", securities, sectors)


def _sectors_from(securities: pd.DataFrame) -> pd.DataFrame:
    grouped = securities.assign(
        declined=securities["day0_return"] < 0, sector=securities["sector"].fillna("Unclassified")
    ).groupby("sector", as_index=False)
    sectors = grouped.agg(
        securities=("day0_return", "count"),
        ew_day0_return=("day0_return", "mean"),
        usd_value_change=("day0_usd_value_change", lambda values: values.sum(min_count=1)),
        share_decliners=("declined", "mean"),
    )
    return sectors.sort_values("usd_value_change", na_position="last")


def render_event(impact: EventImpact, *, top: int | None = None) -> str:
    securities = impact.securities.head(top) if top else impact.securities
    return "\n".join(
        [
            impact.title,
            "",
            "By security (day 0 = the security's first session on or after the event date; "
            "returns as fractions, USD in billions):",
            _table(securities, billions=("day0_usd_value_change",)),
            "By sector:",
            _table(impact.sectors, billions=("usd_value_change",)),
        ]
    )


def _table(frame: pd.DataFrame, *, billions: tuple[str, ...]) -> str:
    shown = frame.copy()
    for column in shown.select_dtypes("datetime").columns:
        shown[column] = shown[column].dt.date
    for column in billions:
        if column in shown:
            shown[column] = (shown[column] / 1e9).round(1)
    rows: list[list[Any]] = [
        [None if pd.isna(value) else _python_value(value) for value in row]
        for row in shown.itertuples(index=False, name=None)
    ]
    return format_table([str(column) for column in shown.columns], rows)


def _python_value(value: Any) -> Any:
    """numpy scalars as the plain Python values the table formatter knows."""
    return value.item() if isinstance(value, np.generic) else value
