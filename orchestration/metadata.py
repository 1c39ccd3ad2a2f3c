"""Metadata that makes each asset explain itself in the Dagster UI."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd

from warehouse import storage

PREVIEW_ROWS = 5


def column_schema(table: str) -> dg.TableSchema:
    """The raw table's columns, types and descriptions, from the one spec that also writes its DDL."""
    spec = storage.RAW_TABLES[table]
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=column.name, type=column.type, description=column.description)
            for column in spec.columns
        ]
    )


def preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows as a table; values go through JSON so dates and NaN render plainly."""
    head = json.loads(frame.head(rows).to_json(orient="records", date_format="iso"))
    return dg.MetadataValue.table(
        records=[dg.TableRecord(record) for record in head],
        schema=dg.TableSchema(
            columns=[dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in frame.dtypes.items()]
        ),
    )


def date_range(frame: pd.DataFrame, date_column: str) -> str:
    if frame.empty:
        return "no rows"
    return f"{pd.Timestamp(frame[date_column].min()).date()}..{pd.Timestamp(frame[date_column].max()).date()}"


def load_metadata(
    report: storage.LoadReport, table: str, frame: pd.DataFrame, *, date_column: str
) -> dict[str, object]:
    """What a materialization wrote: rows by outcome, tickers loaded and failed, dates, a preview."""
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
