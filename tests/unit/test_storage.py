"""The raw layer: DDL, idempotent upserts, transactional loads, and opening the warehouse file."""

from __future__ import annotations

import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from warehouse import storage
from warehouse.storage import RAW_TABLES, WriteStats

T1 = datetime(2024, 6, 3, 22, 0, tzinfo=UTC)
T2 = datetime(2024, 6, 4, 22, 0, tzinfo=UTC)


def prices(*rows: tuple[str, str, float, float | None]) -> pd.DataFrame:
    """daily_prices rows from (ticker, trade date, close, adj_close)."""
    return pd.DataFrame(
        {
            "ticker": [row[0] for row in rows],
            "trade_date": pd.to_datetime([row[1] for row in rows]),
            "open": [row[2] for row in rows],
            "high": [row[2] for row in rows],
            "low": [row[2] for row in rows],
            "close": [row[2] for row in rows],
            "adj_close": [np.nan if row[3] is None else row[3] for row in rows],
            "volume": pd.array([1000] * len(rows), dtype="Int64"),
        }
    )


def sessions(*days: str) -> pd.DataFrame:
    return pd.DataFrame({"exchange": "XNYS", "session_date": [date.fromisoformat(d) for d in days]})


def contents(con: duckdb.DuckDBPyConnection, table: str = "daily_prices") -> list[tuple]:
    return con.execute(f"SELECT * FROM {RAW_TABLES[table].qualified_name} ORDER BY ALL").fetchall()


def all_contents(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {table: contents(con, table) for table in RAW_TABLES}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse" / "market.duckdb"
    with closing(storage.connect(path)) as con:
        storage.ensure_schema(con)
    return path


@pytest.fixture
def con(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with closing(storage.connect(warehouse)) as connection:
        yield connection


# --------------------------------------------------------------------------------------------
# Schema


def test_ensure_schema_is_idempotent_and_declares_every_spec(con: duckdb.DuckDBPyConnection):
    storage.ensure_schema(con)
    storage.ensure_schema(con)

    primary_keys = dict(
        con.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = 'raw' AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    )
    assert primary_keys == {name: list(spec.key) for name, spec in RAW_TABLES.items()}
    for name, spec in RAW_TABLES.items():
        stored = con.execute(
            "SELECT column_name, data_type, comment FROM duckdb_columns() "
            "WHERE schema_name = 'raw' AND table_name = ? ORDER BY column_index",
            [name],
        ).fetchall()
        assert stored == [(c.name, c.type, c.description) for c in spec.stored_columns]
    schemas = {row[0] for row in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
    assert {"raw", "quality"} <= schemas
    assert con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'quality'"
    ).fetchone() == (0,)


def test_every_data_table_carries_lineage_and_log_tables_do_not():
    lineage = {"source", "run_id", "loaded_at"}
    for spec in RAW_TABLES.values():
        stored = {column.name for column in spec.stored_columns}
        assert (lineage <= stored) == spec.has_lineage, spec.name
        assert set(spec.key) <= set(spec.column_names), spec.name


def test_ensure_schema_refuses_a_table_that_drifted_from_its_spec(tmp_path: Path):
    with closing(storage.connect(tmp_path / "old.duckdb")) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.daily_prices (ticker VARCHAR, trade_date DATE, px DOUBLE)")
        with pytest.raises(storage.WarehouseSchemaError, match=r"raw\.daily_prices .*'px'"):
            storage.ensure_schema(con)


def test_ensure_schema_adds_the_columns_a_spec_appended(tmp_path: Path):
    with closing(storage.connect(tmp_path / "old.duckdb")) as con:
        storage.ensure_schema(con)
        # load_log as the previous version created it: without rows_rejected, one load logged
        con.execute("ALTER TABLE raw.load_log DROP COLUMN rows_rejected")
        con.execute(
            "INSERT INTO raw.load_log (run_id, asset_key, partition_start) "
            "VALUES ('old', 'raw/daily_prices', DATE '2024-06-03')"
        )
        storage.ensure_schema(con)
        assert con.execute("SELECT run_id, rows_rejected FROM raw.load_log").fetchall() == [
            ("old", None)
        ]
        (comment,) = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE schema_name = 'raw' "
            "AND table_name = 'load_log' AND column_name = 'rows_rejected'"
        ).fetchall()[0]
        assert comment == next(
            c.description for c in RAW_TABLES["load_log"].columns if c.name == "rows_rejected"
        )


def test_a_new_warehouse_is_readable_by_duckdb_1_4(warehouse: Path):
    with closing(storage.connect(warehouse, read_only=True)) as con:
        (tags,) = con.execute(
            "SELECT tags FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
    assert tags["storage_version"].startswith(storage.NEW_FILE_STORAGE_VERSION)


# --------------------------------------------------------------------------------------------
# Upserts


def test_reloading_identical_rows_changes_nothing(con: duckdb.DuckDBPyConnection):
    frame = prices(
        ("NVDA", "2024-06-03", 115.0, 114.9),
        ("NVDA", "2024-06-04", 116.4, None),
        ("9984.T", "2024-06-04", 9700.0, None),
    )

    first = storage.upsert(
        con, "daily_prices", frame, run_id="run-1", source="snapshot", loaded_at=T1
    )
    stored = contents(con)
    again = storage.upsert(
        con, "raw.daily_prices", frame, run_id="run-2", source="yfinance", loaded_at=T2
    )

    assert first == WriteStats(rows_inserted=3)
    assert again == WriteStats(rows_unchanged=3)
    assert again.rows_written == 0
    assert contents(con) == stored
    assert {row[-3:] for row in stored} == {("snapshot", "run-1", T1.replace(tzinfo=None))}


def test_late_corrections_are_counted_and_written_and_nothing_else_is(
    con: duckdb.DuckDBPyConnection,
):
    storage.upsert(
        con,
        "daily_prices",
        prices(
            ("A", "2024-06-03", 10.0, 9.5),  # close corrected
            ("A", "2024-06-04", 11.0, 10.5),  # identical
            ("B", "2024-06-03", 20.0, 19.0),  # adj_close value -> NULL
            ("B", "2024-06-04", 21.0, None),  # adj_close NULL -> value
        ),
        run_id="run-1",
        source="s",
        loaded_at=T1,
    )

    stats = storage.upsert(
        con,
        "daily_prices",
        prices(
            ("A", "2024-06-03", 10.1, 9.5),
            ("A", "2024-06-04", 11.0, 10.5),
            ("B", "2024-06-03", 20.0, None),
            ("B", "2024-06-04", 21.0, 20.0),
            ("C", "2024-06-04", 30.0, None),  # new
        ),
        run_id="run-2",
        source="s",
        loaded_at=T2,
    )

    assert stats == WriteStats(rows_inserted=1, rows_changed=3, rows_unchanged=1)
    rows = {
        (r[0], str(r[1])): r
        for r in con.execute(
            "SELECT ticker, trade_date, close, adj_close, run_id, loaded_at FROM raw.daily_prices"
        ).fetchall()
    }
    t1, t2 = T1.replace(tzinfo=None), T2.replace(tzinfo=None)
    assert rows[("A", "2024-06-03")][2:] == (10.1, 9.5, "run-2", t2)
    assert rows[("A", "2024-06-04")][2:] == (11.0, 10.5, "run-1", t1)
    assert rows[("B", "2024-06-03")][2:] == (20.0, None, "run-2", t2)
    assert rows[("B", "2024-06-04")][2:] == (21.0, 20.0, "run-2", t2)
    assert rows[("C", "2024-06-04")][2:] == (30.0, None, "run-2", t2)


def test_upsert_runs_in_the_callers_transaction(con: duckdb.DuckDBPyConnection):
    con.begin()
    storage.upsert(
        con,
        "daily_prices",
        prices(("A", "2024-06-03", 1.0, None)),
        run_id="r",
        source="s",
        loaded_at=T1,
    )
    con.rollback()
    assert contents(con) == []


GOOD = prices(("A", "2024-06-03", 1.0, None), ("B", "2024-06-03", 2.0, None))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.concat([GOOD, GOOD.iloc[:1]]),
            r"raw\.daily_prices has 1 keys \(ticker, trade_date\) more than once, "
            r"e\.g\. \('A', '2024-06-03'\) x2",
        ),
        (
            GOOD.drop(columns="adj_close").assign(adjusted=1.0),
            r"raw\.daily_prices .*missing \['adj_close'\]; unexpected \['adjusted'\]",
        ),
        (
            GOOD.assign(close=["1.5", "n/a"]),
            r"raw\.daily_prices has close: 1 non-DOUBLE values \(e\.g\. 'n/a'\)",
        ),
        (
            GOOD.assign(ticker=["A", None]),
            r"raw\.daily_prices has ticker: 1 null or non-VARCHAR values",
        ),
        (
            GOOD.assign(trade_date=GOOD["trade_date"].dt.tz_localize("America/New_York")),
            r"trade_date: timezone-aware timestamps",
        ),
    ],
    ids=["duplicate-key", "wrong-columns", "uncastable-value", "null-key", "tz-aware-date"],
)
def test_invalid_frames_are_refused_with_the_reason_and_nothing_written(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, message: str
):
    with pytest.raises(storage.InvalidFrameError, match=message):
        storage.upsert(con, "daily_prices", frame, run_id="r", source="s", loaded_at=T1)
    assert contents(con) == []


def test_timestamps_must_say_their_timezone(con: duckdb.DuckDBPyConnection):
    with pytest.raises(ValueError, match="loaded_at must be timezone-aware"):
        storage.upsert(
            con, "daily_prices", GOOD, run_id="r", source="s", loaded_at=datetime(2024, 6, 3)
        )


def test_exchange_sessions_are_replaced_whole(con: duckdb.DuckDBPyConnection):
    storage.replace_reference_rows(
        con,
        "exchange_sessions",
        sessions("2024-06-03", "2024-06-19"),
        run_id="r1",
        source="exchange_calendars",
        loaded_at=T1,
    )
    # 2024-06-19 (Juneteenth) was a calendar error: the corrected calendar no longer lists it.
    stats = storage.replace_reference_rows(
        con,
        "exchange_sessions",
        sessions("2024-06-03", "2024-06-20"),
        run_id="r2",
        source="exchange_calendars",
        loaded_at=T2,
    )
    assert stats == WriteStats(rows_inserted=1, rows_unchanged=1, rows_deleted=1)
    assert [row[:2] for row in contents(con, "exchange_sessions")] == [
        ("XNYS", date(2024, 6, 3)),
        ("XNYS", date(2024, 6, 20)),
    ]


def test_securities_keep_tickers_dropped_from_the_universe(con: duckdb.DuckDBPyConnection):
    def universe(*tickers: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "ticker": tickers,
                "name": "n",
                "role": "equity",
                "exchange": "XNAS",
                "currency": "USD",
                "benchmark": "^GSPC",
            }
        )

    storage.replace_reference_rows(
        con, "securities", universe("AMD", "ARM"), run_id="r1", source="universe"
    )
    stats = storage.replace_reference_rows(
        con, "securities", universe("AMD"), run_id="r2", source="universe"
    )
    assert stats == WriteStats(rows_unchanged=1)
    assert [row[0] for row in contents(con, "securities")] == ["AMD", "ARM"]


# --------------------------------------------------------------------------------------------
# Loads


@dataclass(frozen=True)
class Failure:
    ticker: str
    reason: str


def load(target: Path | duckdb.DuckDBPyConnection, **overrides: object) -> storage.LoadReport:
    arguments: dict = dict(
        run_id="run-1",
        asset_key="raw/daily_prices",
        source="snapshot",
        partition_start=date(2024, 6, 3),
        partition_end=date(2024, 6, 4),
        tables={
            "daily_prices": prices(
                ("A", "2024-06-03", 1.0, None),
                ("A", "2024-06-04", 2.0, None),
                ("B", "2024-06-04", 3.0, None),
            ),
            "corporate_actions": pd.DataFrame(
                {
                    "ticker": ["A"],
                    "action_date": ["2024-06-04"],
                    "action_type": ["split"],
                    "value": [10.0],
                }
            ),
        },
        failures=[Failure("C", "no data"), ("D", "HTTP 404"), Failure("C", "delisted?")],
        tickers_requested=4,
        started_at=T1,
    )
    return storage.write_load(target, **(arguments | overrides))


def test_write_load_writes_tables_log_and_failures(warehouse: Path):
    report = load(warehouse)

    assert report.tables == {
        "daily_prices": WriteStats(rows_inserted=3),
        "corporate_actions": WriteStats(rows_inserted=1),
    }
    assert report.totals == WriteStats(rows_inserted=4)
    assert (report.tickers_requested, report.tickers_loaded, report.tickers_failed) == (4, 2, 2)
    assert [(f.ticker, f.reason) for f in report.failures] == [
        ("C", "no data; delisted?"),
        ("D", "HTTP 404"),
    ]
    with closing(storage.connect(warehouse, read_only=True)) as con:
        logged = storage.latest_load(con, "raw/daily_prices")
        failures = con.execute(
            "SELECT run_id, asset_key, partition_start, ticker, reason FROM raw.load_failures "
            "ORDER BY ticker"
        ).fetchall()
        counts = storage.table_row_counts(con)
    assert logged is not None
    assert logged | {"finished_at": None} == {
        "run_id": "run-1",
        "asset_key": "raw/daily_prices",
        "partition_start": date(2024, 6, 3),
        "source": "snapshot",
        "partition_end": date(2024, 6, 4),
        "started_at": T1.replace(tzinfo=None),
        "finished_at": None,
        "tickers_requested": 4,
        "tickers_loaded": 2,
        "tickers_failed": 2,
        "failures": [
            {"ticker": "C", "reason": "no data; delisted?"},
            {"ticker": "D", "reason": "HTTP 404"},
        ],
        "rows_written": 4,
        "rows_inserted": 4,
        "rows_changed": 0,
        "rows_unchanged": 0,
        "rows_rejected": 0,
    }
    assert logged["finished_at"] >= logged["started_at"]
    assert failures == [
        ("run-1", "raw/daily_prices", date(2024, 6, 3), "C", "no data; delisted?"),
        ("run-1", "raw/daily_prices", date(2024, 6, 3), "D", "HTTP 404"),
    ]
    assert counts == dict.fromkeys(RAW_TABLES, 0) | {
        "daily_prices": 3,
        "corporate_actions": 1,
        "load_log": 1,
        "load_failures": 2,
    }


def test_writing_a_load_again_replaces_its_log_row_and_failures(con: duckdb.DuckDBPyConnection):
    load(con)
    report = load(con, failures=[Failure("D", "HTTP 404")], tickers_requested=3)

    assert report.totals == WriteStats(rows_unchanged=4)
    assert storage.table_row_counts(con)["load_log"] == 1
    assert [row[3] for row in contents(con, "load_failures")] == ["D"]
    logged = storage.latest_load(con, "raw/daily_prices")
    assert logged is not None
    assert (logged["tickers_failed"], logged["rows_written"], logged["rows_unchanged"]) == (1, 0, 4)


def test_a_bad_correction_never_replaces_a_good_stored_bar(con: duckdb.DuckDBPyConnection):
    load(con)  # A 1.0 and 2.0, B 3.0: all good
    bad = prices(
        ("A", "2024-06-03", -1.0, None),  # a negative close over a good bar: rejected
        ("A", "2024-06-04", 2.5, None),  # a good correction: applied
        ("B", "2024-06-04", 3.0, None),  # unchanged
        ("B", "2024-06-05", -4.0, None),
    )  # a new bad bar: written, the quarantine's job
    bad.loc[2, "high"] = 2.0  # B's re-delivered high below its low: rejected too
    report = load(con, run_id="run-2", tables={"daily_prices": bad})

    assert report.tables["daily_prices"] == WriteStats(
        rows_inserted=1, rows_changed=1, rows_rejected=2
    )
    stored = {(row[0], str(row[1])): row[5] for row in contents(con)}
    assert stored == {
        ("A", "2024-06-03"): 1.0,
        ("A", "2024-06-04"): 2.5,
        ("B", "2024-06-04"): 3.0,
        ("B", "2024-06-05"): -4.0,
    }
    rejected = con.execute(
        "SELECT run_id, table_name, ticker, trade_date, reason, rejected ->> 'close', "
        "kept ->> 'close', kept ->> 'high' FROM raw.rejected_corrections ORDER BY ticker"
    ).fetchall()
    assert [row[:4] for row in rejected] == [
        ("run-2", "raw.daily_prices", "A", date(2024, 6, 3)),
        ("run-2", "raw.daily_prices", "B", date(2024, 6, 4)),
    ]
    assert rejected[0][4:] == (
        "non_positive_price: open -1, high -1, low -1, close -1, adj_close null",
        "-1.0",
        "1.0",
        "1.0",
    )
    assert rejected[1][4] == (
        "close_outside_range: open 3, high 2, low 3, close 3; "
        "high_below_low: open 3, high 2, low 3, close 3; "
        "open_outside_range: open 3, high 2, low 3, close 3"
    )
    logged = storage.latest_load(con, "raw/daily_prices")
    assert logged is not None
    assert (logged["rows_written"], logged["rows_changed"], logged["rows_rejected"]) == (2, 1, 2)

    # the same load written again replaces its rejections; a bad stored bar takes a correction
    load(con, run_id="run-2", tables={"daily_prices": prices(("B", "2024-06-05", 4.0, None))})
    assert storage.table_row_counts(con)["rejected_corrections"] == 0
    assert contents(con)[-1][5] == 4.0


def test_a_spike_over_a_good_bar_is_rejected_and_a_restatement_is_not(
    con: duckdb.DuckDBPyConnection,
):
    days = ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06", "2024-06-07"]
    load(con, tables={"daily_prices": prices(*((("A", day, 10.0, None)) for day in days))})
    spike = prices(("A", "2024-06-05", 1000.0, None), ("A", "2024-06-06", 10.5, None))
    report = load(con, run_id="run-2", tables={"daily_prices": spike})
    # the spike is judged against the delivered 06-06, 10.5: 95.2x off both
    assert report.tables["daily_prices"] == WriteStats(rows_changed=1, rows_rejected=1)
    assert [row[5] for row in contents(con)] == [10.0, 10.0, 10.0, 10.5, 10.0]
    assert con.execute("SELECT reason FROM raw.rejected_corrections").fetchall() == [
        (
            "suspect_spike: price 1000 between 10 on 2024-06-04 and 10.5 on 2024-06-06: 95.2x off "
            "both, a one-day spike",
        )
    ]
    # the factor is the quarantine's rule: at 100x, 95.2x is no spike
    assert load(con, run_id="run-3", tables={"daily_prices": spike}, spike_factor=100.0).tables[
        "daily_prices"
    ] == WriteStats(rows_changed=1, rows_unchanged=1)
    # a whole history restated at once (a 4-for-1 split) has no spike: its neighbours move with it
    restated = prices(*((("A", day, 10.0 / 4, None)) for day in days))
    assert load(con, run_id="run-4", tables={"daily_prices": restated}).tables[
        "daily_prices"
    ] == WriteStats(rows_changed=5)


def test_a_bad_fx_correction_is_rejected_and_the_fx_range_quirk_is_not(
    con: duckdb.DuckDBPyConnection,
):
    def quotes(close: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "ticker": ["JPY=X"],
                "rate_date": [date(2024, 6, 3)],
                "base_currency": ["USD"],
                "quote_currency": ["JPY"],
                "open": [close],
                "high": [156.0],
                "low": [155.0],
                "close": [close],
            }
        )

    load(con, tables={"fx_rates": quotes(155.5)})
    # a close above the high is Yahoo's FX quirk, a possible quote: the correction is applied
    assert load(con, tables={"fx_rates": quotes(156.01)}).tables["fx_rates"] == WriteStats(
        rows_changed=1
    )
    assert load(con, tables={"fx_rates": quotes(0.0)}).tables["fx_rates"] == WriteStats(
        rows_rejected=1
    )
    assert contents(con, "fx_rates")[0][7] == 156.01
    assert con.execute("SELECT table_name, reason FROM raw.rejected_corrections").fetchall() == [
        ("raw.fx_rates", "non_positive_price: open 0, high 156, low 155, close 0, adj_close null")
    ]


def _fail_second_table(target: Path | duckdb.DuckDBPyConnection, _: pytest.MonkeyPatch) -> None:
    load(
        target,
        run_id="run-2",
        tables={
            "daily_prices": prices(("A", "2024-06-04", 2.5, None), ("B", "2024-06-05", 4.0, None)),
            "corporate_actions": pd.DataFrame(
                {
                    "ticker": ["A"],
                    "action_date": ["2024-06-04"],
                    "action_type": ["split"],
                    "value": ["ten"],
                }
            ),
        },
    )


def _fail_writing_the_log(
    target: Path | duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_log(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("warehouse.storage.loads._log_load", broken_log)
    load(
        target,
        run_id="run-2",
        tables={
            "daily_prices": prices(("A", "2024-06-04", 2.5, None), ("B", "2024-06-05", 4.0, None)),
            "exchange_sessions": sessions("2024-06-05"),
        },
    )


@pytest.mark.parametrize(
    ("failing_load", "error"),
    [(_fail_second_table, storage.InvalidFrameError), (_fail_writing_the_log, OSError)],
    ids=["bad-second-table", "log-write-fails"],
)
@pytest.mark.parametrize("through", ["path", "connection"])
def test_a_load_failing_part_way_leaves_the_warehouse_as_it_was(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch, failing_load, error, through: str
):
    load(warehouse)
    with closing(storage.connect(warehouse)) as con:
        storage.replace_reference_rows(
            con,
            "exchange_sessions",
            sessions("2024-06-04"),
            run_id="run-1",
            source="exchange_calendars",
        )
        before = all_contents(con)

        with pytest.raises(error):
            failing_load(warehouse if through == "path" else con, monkeypatch)

        assert con.execute("SELECT 1").fetchall() == [(1,)]  # the connection is usable again
        assert all_contents(con) == before


# --------------------------------------------------------------------------------------------
# Reads


def test_reads_answer_on_a_warehouse_without_tables(tmp_path: Path):
    with closing(storage.connect(tmp_path / "empty.duckdb")) as con:
        assert storage.table_row_counts(con) == dict.fromkeys(RAW_TABLES, 0)
        assert storage.latest_load(con, "raw/daily_prices") is None
        assert storage.date_range(con, "daily_prices") is None


def test_date_range_spans_the_tables_dated_key(con: duckdb.DuckDBPyConnection):
    assert storage.date_range(con, "daily_prices") is None
    load(con)
    assert storage.date_range(con, "raw.daily_prices") == (date(2024, 6, 3), date(2024, 6, 4))
    assert storage.date_range(con, "load_log") == (date(2024, 6, 3), date(2024, 6, 3))
    with pytest.raises(ValueError, match="raw.securities has no date"):
        storage.date_range(con, "securities")


# --------------------------------------------------------------------------------------------
# Opening the file

HOLDER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read-only")
print("holding", flush=True)
sys.stdin.read()
"""


@contextmanager
def held_by_another_process(path: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    """A real second process that keeps the file open until its stdin is closed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "holding"
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("holder", "read_only"), [("read-write", False), ("read-only", False), ("read-write", True)]
)
def test_a_file_held_by_another_process_names_the_file_and_process(
    warehouse: Path, holder: str, read_only: bool
):
    with held_by_another_process(warehouse, holder) as process:
        started = time.monotonic()
        with pytest.raises(storage.WarehouseLockedError) as raised:
            storage.connect(warehouse, read_only=read_only, lock_timeout_seconds=0.3)
    assert time.monotonic() - started >= 0.3  # it waited before giving up
    assert raised.value.pid == process.pid
    message = str(raised.value)
    assert str(warehouse) in message
    assert f"PID {process.pid}" in message
    assert "Close that session" in message


def test_connect_waits_for_a_lock_released_in_time(warehouse: Path):
    with held_by_another_process(warehouse, "read-write") as process:
        assert process.stdin is not None
        threading.Timer(0.3, process.stdin.close).start()
        with closing(storage.connect(warehouse, lock_timeout_seconds=10)) as con:
            assert contents(con) == []


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 40)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path) -> None:
    with closing(duckdb.connect(str(path))) as con:
        con.execute("CREATE TABLE t AS SELECT range AS n FROM range(300000)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [_garbage, _empty, _truncated])
@pytest.mark.parametrize("read_only", [False, True])
def test_an_unreadable_file_is_reported_and_left_untouched(tmp_path: Path, damage, read_only: bool):
    path = tmp_path / "market.duckdb"
    damage(path)
    original = path.read_bytes()

    with pytest.raises(storage.WarehouseCorruptError, match=str(path)):
        storage.connect(path, read_only=read_only)

    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_file_from_a_newer_duckdb_is_reported_as_such(warehouse: Path):
    header = bytearray(warehouse.read_bytes())

    def checksum(block: bytes) -> int:  # DuckDB's checksum of the 4 KiB main header block
        mask, value = (1 << 64) - 1, 5381
        for (word,) in struct.iter_unpack("<Q", block):
            value ^= (word * 0xBF58476D1CE4E5B9) & mask
        return value

    if struct.unpack_from("<Q", header, 0)[0] != checksum(header[8:4096]):
        pytest.skip("this DuckDB checksums its header differently; cannot forge a newer file")
    struct.pack_into("<Q", header, 12, 10_000)  # the storage version number
    struct.pack_into("<Q", header, 0, checksum(header[8:4096]))
    warehouse.write_bytes(header)

    with pytest.raises(storage.WarehouseVersionError, match=rf"{warehouse}.*newer version"):
        storage.connect(warehouse)
    assert warehouse.read_bytes() == header
