"""The reads of ``warehouse.storage.reads`` that `market-warehouse status`, the build summary and
the benchmark make: the last run in the load log, a run's row totals, the table overview."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from warehouse import storage


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    storage.ensure_schema(connection)
    connection.execute(
        """
        INSERT INTO raw.load_log (run_id, asset_key, partition_start, partition_end, started_at,
            finished_at, tickers_failed, rows_inserted, rows_changed, rows_unchanged)
        VALUES
            ('old', 'raw/daily_prices', '2024-01-01', '2024-01-05', '2024-01-05 20:00',
             '2024-01-05 20:01', 0, 10, 0, 0),
            ('new', 'raw/daily_prices', '2024-01-08', '2024-01-12', '2024-01-12 20:00',
             '2024-01-12 20:01', 1, 3, 2, 5),
            ('new', 'raw/fx_rates', '2024-01-08', '2024-01-12', '2024-01-12 20:01',
             '2024-01-12 20:02', 0, 1, 0, 4);
        INSERT INTO raw.exchange_sessions (exchange, session_date, source, run_id, loaded_at)
            VALUES ('XNYS', '2024-01-08', 'snapshot', 'new', now()),
                   ('XNYS', '2024-01-12', 'snapshot', 'new', now());
        """
    )
    return connection


def test_latest_run_summary_covers_every_load_of_the_last_run(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert storage.latest_run_summary(con) == {
        "run_id": "new",
        "started_at": datetime(2024, 1, 12, 20, 0),
        "finished_at": datetime(2024, 1, 12, 20, 2),
        "first_day": date(2024, 1, 8),
        "last_day": date(2024, 1, 12),
        "loads": 2,
        "tickers_failed": 1,
        "rows_inserted": 4,
        "rows_changed": 2,
    }


def test_run_load_totals(con: duckdb.DuckDBPyConnection) -> None:
    assert storage.run_load_totals(con, "new") == {"received": 15, "inserted": 4, "changed": 2}
    assert storage.run_load_totals(con, "none") == {"received": 0, "inserted": 0, "changed": 0}


def test_an_empty_file_has_no_load_log() -> None:
    empty = duckdb.connect(":memory:")
    assert storage.latest_run_summary(empty) is None
    assert storage.run_load_totals(empty, "x") == {"received": 0, "inserted": 0, "changed": 0}
    assert storage.table_overview(empty) == []


def test_table_overview_dates_each_table_by_its_date_column(
    con: duckdb.DuckDBPyConnection,
) -> None:
    overview = {name: rest for name, *rest in storage.table_overview(con, ("raw",))}
    assert overview["raw.exchange_sessions"] == [2, date(2024, 1, 8), date(2024, 1, 12)]
    assert overview["raw.load_log"] == [3, date(2024, 1, 1), date(2024, 1, 8)]
    assert overview["raw.securities"] == [0, None, None]
