"""The dbt quality models build, on the bundled snapshot, exactly the quality tables the Python
quality code built before they moved to dbt: tests/fixtures/quality_equivalence/*.csv was dumped
from that code's nightly build of the snapshot (the key and value columns of every quality table,
bookkeeping left out), before anything changed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.dbt_helpers import REPO_ROOT

pytestmark = pytest.mark.e2e

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "quality_equivalence"
# The columns dumped, rounded as dumped (floating-point sums differ in their last bits).
QUALITY_ROWS = {
    "quarantined_prices": "select table_name, ticker, trade_date, reason, detail "
    "from quality.quarantined_prices order by all",
    "price_anomalies": "select ticker, trade_date, check_name, classification, "
    "round(daily_return, 6) as daily_return, reason "
    "from quality.price_anomalies order by all",
    "detected_market_events": "select event_date, scope, direction, securities_flagged, "
    "securities_moving, securities_in_scope, "
    "round(breadth, 6) as breadth, "
    "round(average_return, 6) as average_return, "
    "round(value_change_usd, 0) as value_change_usd, tickers_moving "
    "from quality.detected_market_events order by all",
}


def quality_tables_as_csv(path: Path) -> dict[str, str]:
    """Each quality table's rows as the fixture's CSV text."""
    with duckdb.connect(str(path), read_only=True) as con:
        return {name: con.sql(sql).df().to_csv(index=False) for name, sql in QUALITY_ROWS.items()}


def fixture_csv() -> dict[str, str]:
    return {
        name: pd.read_csv(FIXTURES / f"{name}.csv").to_csv(index=False) for name in QUALITY_ROWS
    }


def test_the_dbt_quality_tables_hold_what_the_python_quality_code_built(
    built_warehouse: Path,
) -> None:
    built, expected = quality_tables_as_csv(built_warehouse), fixture_csv()
    for name in QUALITY_ROWS:
        assert built[name] == expected[name], name
    assert expected["price_anomalies"].count("\n") == 158  # 157 rows and the header
