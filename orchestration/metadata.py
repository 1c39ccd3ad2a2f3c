"""Metadata that makes each asset explain itself in the Dagster UI."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime

import dagster as dg
import pandas as pd

from warehouse import storage

PREVIEW_ROWS = 5
# Who answers for the warehouse's assets and checks (Dagster owners: an email or `team:name`).
OWNERS = ["team:market-warehouse"]
# Fenced code blocks and inline code spans: markdown shows their text as it is.
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
# A word holding one or more <placeholders>, e.g. <measure>_<model>_<window> or <dir>/<id>.png.
_PLACEHOLDER = re.compile(r"((?:[\w./$-]*<[^<>`\n]+>)+[\w./$-]*)")


def markdown_text(text: str) -> str:
    """Text the UI renders as markdown, with placeholders such as `<measure>_<model>_<window>`
    or `<reports dir>/<event_id>.png` shown as typed: left bare, they read as HTML tags and
    vanish (and `_<model>_` as emphasis). They become code spans; any other `<` or `>` outside
    code an entity."""
    parts = _CODE.split(text)
    return "".join(part if index % 2 else _plain_markdown(part) for index, part in enumerate(parts))


def _plain_markdown(text: str) -> str:
    pieces = _PLACEHOLDER.split(text)
    return "".join(
        f"`{piece}`" if index % 2 else piece.replace("<", "&lt;").replace(">", "&gt;")
        for index, piece in enumerate(pieces)
    )


def percent(fraction: float | None, digits: int = 1) -> str | None:
    """0.133121628 -> '13.3%'; a return read as a percentage, the way people quote it."""
    if fraction is None or fraction != fraction:  # None or NaN: the cell stays empty
        return None
    return f"{fraction * 100:.{digits}f}%"


def day(value: object) -> str:
    """A date or a midnight timestamp as a date: 2025-06-12T00:00:00.000 -> '2025-06-12'."""
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return pd.Timestamp(str(value)).date().isoformat()


def column_schema(table: str) -> dg.TableSchema:
    """The raw table's columns, types and descriptions, from the one spec that also writes its
    DDL."""
    spec = storage.RAW_TABLES[table]
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=column.name, type=column.type, description=column.description)
            for column in spec.columns
        ]
    )


def preview(
    frame: pd.DataFrame, rows: int = PREVIEW_ROWS, *, percent_columns: Sequence[str] = ()
) -> dg.MetadataValue:
    """The first rows as a table; values go through JSON so NaN renders plainly, dates show as
    dates (a DATE column comes back from DuckDB as a midnight timestamp), and the fractions of
    ``percent_columns`` as percentages (13.3%, not 0.133121628)."""
    head = readable(frame.head(rows))
    for name in percent_columns:
        head[name] = head[name].map(percent).astype(object)
    records = json.loads(head.to_json(orient="records", date_format="iso"))
    return dg.MetadataValue.table(
        records=[dg.TableRecord(record) for record in records],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=str(name),
                    type="percent" if name in percent_columns else type_name(frame[name]),
                )
                for name in frame.columns
            ]
        ),
    )


def type_name(column: pd.Series) -> str:
    """The kind of values a column holds, as the UI's column list shows it."""
    if pd.api.types.is_bool_dtype(column):
        return "bool"
    if pd.api.types.is_integer_dtype(column):
        return "int"
    if pd.api.types.is_float_dtype(column):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(column):
        times = column.dropna()
        return "date" if times.empty or (times == times.dt.normalize()).all() else "timestamp"
    if column.map(lambda value: isinstance(value, date)).any():
        return "date"
    return "string"


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with date-only datetime columns as ISO date strings."""
    frame = frame.copy()
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            times = column.dropna()
            if times.empty or (times == times.dt.normalize()).all():
                frame[name] = column.dt.strftime("%Y-%m-%d").where(column.notna(), None)
        elif column.dtype == object and column.map(lambda v: isinstance(v, date)).any():
            frame[name] = column.map(lambda v: day(v) if isinstance(v, date) else v)
    return frame


def date_range(frame: pd.DataFrame, date_column: str) -> str:
    if frame.empty:
        return "no rows"
    first, last = frame[date_column].min(), frame[date_column].max()
    return f"{pd.Timestamp(first).date()}..{pd.Timestamp(last).date()}"


def load_metadata(
    report: storage.LoadReport, table: str, frame: pd.DataFrame, *, date_column: str
) -> dict[str, object]:
    """What a materialization wrote: rows by outcome, tickers loaded and failed, dates, a
    preview."""
    stats = report.tables[table]
    return {
        "dagster/row_count": int(stats.rows_written),
        "rows_inserted": int(stats.rows_inserted),
        "rows_changed": int(stats.rows_changed),
        "rows_unchanged": int(stats.rows_unchanged),
        "tickers_requested": int(report.tickers_requested),
        "tickers_loaded": int(report.tickers_loaded),
        "tickers_failed": dg.MetadataValue.json(
            {failure.ticker: failure.reason for failure in report.failures}
        ),
        "date_range": date_range(frame, date_column),
        "preview": preview(frame),
    }
