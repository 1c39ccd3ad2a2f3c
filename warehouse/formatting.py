"""How query results are shown: aligned tables, CSV and JSON. Pure functions."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

NULL_TEXT = "NULL"
OUTPUT_FORMATS = ("table", "csv", "json")


def render(output_format: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    formatters: dict[str, Callable[[Sequence[str], Sequence[Sequence[Any]]], str]] = {
        "table": format_table,
        "csv": format_csv,
        "json": format_json,
    }
    return formatters[output_format](columns, rows)


def display_value(value: Any) -> str:
    """A value as the aligned table shows it: NULL, ISO dates, floats to 6 decimals at most."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and abs(value) < 1e-4:
            return f"{value:.3e}"
        text = f"{value:.6f}".rstrip("0")
        text = text + "0" if text.endswith(".") else text
        return "0.0" if text == "-0.0" else text
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns aligned under a header and a rule; numbers right-aligned, the rest left-aligned."""
    cells = [[display_value(value) for value in row] for row in rows]
    widths = [len(str(name)) for name in columns]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    numeric = [
        any(_is_number(row[index]) for row in rows)
        and all(row[index] is None or _is_number(row[index]) for row in rows)
        for index in range(len(columns))
    ]

    def line(texts: Sequence[str]) -> str:
        parts = [
            text.rjust(width) if right else text.ljust(width)
            for text, width, right in zip(texts, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    output = [line([str(name) for name in columns]), "  ".join("-" * width for width in widths)]
    output.extend(line(row) for row in cells)
    return "\n".join(output) + "\n"


def _plain(value: Any) -> Any:
    """A value as CSV and JSON carry it: exact numbers, ISO dates and times."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def format_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """RFC 4180 CSV with a header row; NULL is an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            ""
            if value is None
            else json.dumps(_plain(value))
            if isinstance(value, (dict, list, tuple))
            else _plain(value)
            for value in row
        )
    return buffer.getvalue()


def format_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A JSON array with one object per row; NULL and NaN are null."""
    records = [
        {str(name): _plain(value) for name, value in zip(columns, row, strict=True)} for row in rows
    ]
    return json.dumps(records, indent=2, default=str) + "\n"
