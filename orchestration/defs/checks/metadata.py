"""What the quality checks show in the Dagster UI: the flagged rows as a table preview, and counts
of them."""

from collections.abc import Mapping

import dagster as dg
import pandas as pd

from orchestration.metadata import preview

# Enough rows to read a whole bad night; the table in the warehouse holds them all.
FLAGGED_ROWS_SHOWN = 50


def flagged_rows(frame: pd.DataFrame) -> dg.MetadataValue:
    """The first FLAGGED_ROWS_SHOWN rows as a table the check's UI page renders, returns and
    shares as percentages."""
    return preview(
        frame,
        rows=FLAGGED_ROWS_SHOWN,
        percent_columns=[name for name in frame.columns if is_fraction(str(name))],
    )


def is_fraction(column: str) -> bool:
    """Whether a quality table's column holds a fraction people read as a percentage: returns,
    moves and shares of a whole (`shares_outstanding` is a count)."""
    return column.endswith(("return", "_share", "_move")) or column in {"breadth", "move"}


def counts(frame: pd.DataFrame, column: str) -> dict[str, int]:
    """Rows per value of a column, most frequent first."""
    return {str(value): int(count) for value, count in frame[column].value_counts().items()}


def described_counts(counted: Mapping[str, int]) -> str:
    """'18 market_event, 6 idiosyncratic' (or 'none')."""
    return ", ".join(f"{count} {name}" for name, count in counted.items()) or "none"
