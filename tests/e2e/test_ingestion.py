"""Ingestion assets materialized from the bundled snapshot into a temporary warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.defs.ingest import assets as ingest
from orchestration.resources import MarketDataResource, UniverseResource, WarehouseResource
from orchestration.retries import STEP_RETRIES_ENV, STEP_RETRY_BASE_SECONDS_ENV
from warehouse import settings, storage
from warehouse.sources.base import PriceBatch, SourceError, SourceUnavailableError

PRICE_ASSETS = [ingest.securities, ingest.daily_prices, ingest.fx_rates]
ALL_INGEST_ASSETS = [
    ingest.securities,
    ingest.exchange_sessions,
    ingest.daily_prices,
    ingest.fx_rates,
    ingest.shares_outstanding,
    ingest.fundamentals,
    ingest.quarterly_financials,
]


@pytest.fixture(autouse=True)
def _no_step_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STEP_RETRIES_ENV, "0")


def _resources(path: Path, **market_data: object) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=1),
        "universe": UniverseResource(path=str(settings.DEFAULT_UNIVERSE_PATH)),
        "market_data": MarketDataResource(
            source="snapshot", snapshot_dir=str(settings.DEFAULT_SNAPSHOT_DIR), **market_data
        ),
    }


def _materialize(
    assets: list, path: Path, first_day: str, last_day: str, **market_data: object
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        resources=_resources(path, **market_data),
        tags={
            "dagster/asset_partition_range_start": first_day,
            "dagster/asset_partition_range_end": last_day,
        },
        raise_on_error=False,
    )


def _table(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.sql(sql).df()


def _snapshot_of_raw(path: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            table: connection.sql(f"select * from raw.{table} order by all").df()
            for table in storage.RAW_TABLES
        }


def test_snapshot_ingestion_loads_real_prices(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    result = _materialize(ALL_INGEST_ASSETS, path, "2025-01-20", "2025-01-31")
    assert result.success

    closes = _table(
        path,
        "select ticker, trade_date::varchar as day, close from raw.daily_prices "
        "where ticker in ('NVDA', '9984.T') and trade_date in ('2025-01-24', '2025-01-27') "
        "order by ticker, day",
    )
    assert closes.to_dict("records") == [
        {"ticker": "9984.T", "day": "2025-01-24", "close": pytest.approx(10531.0390625)},
        {"ticker": "9984.T", "day": "2025-01-27", "close": pytest.approx(9654.4501953125)},
        {"ticker": "NVDA", "day": "2025-01-24", "close": pytest.approx(142.62, abs=1e-4)},
        {"ticker": "NVDA", "day": "2025-01-27", "close": pytest.approx(118.42, abs=1e-4)},
    ]
    fx = _table(
        path,
        "select ticker, base_currency, quote_currency from raw.fx_rates group by all order by 1",
    )
    assert fx.to_dict("records") == [
        {"ticker": "EURUSD=X", "base_currency": "EUR", "quote_currency": "USD"},
        {"ticker": "JPY=X", "base_currency": "USD", "quote_currency": "JPY"},
    ]
    assert _table(path, "select count(*) as n from raw.securities")["n"][0] == 25
    sessions = _table(
        path,
        "select exchange from raw.exchange_sessions where session_date = '2025-01-27' order by 1",
    )
    assert set(sessions["exchange"]) == {"XNYS", "XNAS", "XTKS", "XETR", "FX"}

    prices_log = _table(
        path,
        "select * from raw.load_log where asset_key like '%daily_prices%'",
    ).iloc[0]
    assert prices_log["source"] == "snapshot"
    assert prices_log["rows_inserted"] > 0 and prices_log["rows_changed"] == 0
    # ENR.DE's snapshot lacks 2025-01-24 (a placeholder bar Yahoo filled), but it has the window.
    assert prices_log["tickers_failed"] == 0

    materialized = {
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    assert {"raw/daily_prices", "raw/corporate_actions", "raw/fx_rates"} <= materialized
    metadata = next(
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(["raw", "daily_prices"])
    )
    assert metadata["rows_inserted"].value > 0
    assert metadata["date_range"].value == "2025-01-20..2025-01-31"
    assert metadata["tickers_loaded"].value == 23


def test_same_partition_twice_leaves_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    assert _materialize(PRICE_ASSETS, path, "2025-01-27", "2025-01-27").success
    before = _snapshot_of_raw(path)
    assert _materialize(PRICE_ASSETS, path, "2025-01-27", "2025-01-27").success
    after = _snapshot_of_raw(path)
    for table in ("daily_prices", "fx_rates", "securities"):
        pd.testing.assert_frame_equal(before[table], after[table])
    second = _table(
        path,
        "select rows_inserted, rows_changed, rows_unchanged from raw.load_log "
        "where asset_key like '%daily_prices%' order by finished_at desc limit 1",
    ).iloc[0]
    assert second["rows_inserted"] == 0 and second["rows_changed"] == 0
    assert second["rows_unchanged"] == len(before["daily_prices"]) == 23


def test_a_late_correction_is_counted_as_a_changed_row(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "warehouse.duckdb"
    assert _materialize(PRICE_ASSETS, path, "2025-01-27", "2025-01-27").success
    original_fetch = ingest.MarketDataResource.build

    def corrected_source(self: MarketDataResource):
        source = original_fetch(self)
        fetch_prices = source.fetch_prices

        def fetch_with_correction(securities, start, end) -> PriceBatch:
            batch = fetch_prices(securities, start, end)
            prices = batch.prices.copy()
            prices.loc[prices["ticker"] == "NVDA", "volume"] = 818_830_901
            return PriceBatch(prices, batch.actions, batch.failures)

        source.fetch_prices = fetch_with_correction
        return source

    monkeypatch.setattr(MarketDataResource, "build", corrected_source)
    assert _materialize(PRICE_ASSETS, path, "2025-01-27", "2025-01-27").success
    log = _table(
        path,
        "select rows_changed from raw.load_log where asset_key like '%daily_prices%' "
        "order by finished_at desc limit 1",
    )
    assert log["rows_changed"][0] == 1
    volume = _table(
        path,
        "select volume from raw.daily_prices where ticker = 'NVDA' and trade_date = '2025-01-27'",
    )
    assert volume["volume"][0] == 818_830_901


def test_a_failure_part_way_through_a_write_leaves_the_warehouse_unchanged(
    tmp_path: Path, monkeypatch
) -> None:
    """The price step writes daily_prices, then fails on corporate_actions: its one transaction
    rolls back, so neither table nor the load log shows any trace of it."""
    from warehouse.storage import loads

    path = tmp_path / "warehouse.duckdb"
    assert _materialize(PRICE_ASSETS, path, "2025-01-24", "2025-01-24").success
    before = _snapshot_of_raw(path)
    write_table = loads.write_table

    def fail_on_second_table(con, table, frame, lineage):
        if "corporate_actions" in table:
            raise OSError("disk full while writing raw.corporate_actions")
        return write_table(con, table, frame, lineage)

    monkeypatch.setattr(loads, "write_table", fail_on_second_table)
    result = _materialize(PRICE_ASSETS, path, "2025-01-24", "2025-01-31")
    assert not result.success
    assert "disk full while writing raw.corporate_actions" in _failure_messages(result)
    after = _snapshot_of_raw(path)
    for table in ("daily_prices", "corporate_actions", "load_failures"):
        pd.testing.assert_frame_equal(before[table], after[table], obj=f"raw.{table}")
    price_loads = after["load_log"][after["load_log"]["asset_key"].str.contains("daily_prices")]
    assert len(price_loads) == 1, "the failed load left no log row"


def _failure_messages(result: dg.ExecuteInProcessResult) -> str:
    """Every failed step's error with its causes: Dagster wraps the asset's own exception."""
    messages = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        error = event.event_specific_data.error
        while error is not None:
            messages.append(error.message)
            error = error.cause
    return "\n".join(messages)


def test_a_source_returning_garbage_fails_clearly_and_writes_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "warehouse.duckdb"
    assert _materialize(PRICE_ASSETS, path, "2025-01-24", "2025-01-24").success
    before = _snapshot_of_raw(path)

    def garbage_source(self: MarketDataResource):
        class Garbage:
            name = "garbage"

            def fetch_prices(self, securities, start, end):
                raise SourceError("yfinance returned an HTML page instead of prices for NVDA, AVGO")

            def fetch_fx(self, pairs, start, end):
                raise SourceError("yfinance timed out after 5 retries")

        return Garbage()

    monkeypatch.setattr(MarketDataResource, "build", garbage_source)
    result = _materialize(PRICE_ASSETS, path, "2025-01-27", "2025-01-27")
    assert not result.success
    messages = _failure_messages(result)
    assert "HTML page instead of prices" in messages and "timed out" in messages
    after = _snapshot_of_raw(path)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[table], obj=f"raw.{table}")


def test_too_many_failed_tickers_fail_the_load(tmp_path: Path) -> None:
    """The snapshot has no 9984.T before 2024-06-10 nor SMH/SOXX before 2024-12-11: with a zero
    failure budget, a 2024-01 window fails and names them."""
    path = tmp_path / "warehouse.duckdb"
    result = _materialize(
        [ingest.securities, ingest.daily_prices],
        path,
        "2024-01-08",
        "2024-01-12",
        max_failed_share=0.0,
    )
    assert not result.success
    message = _failure_messages(result)
    assert "9984.T" in message and "SMH" in message
    assert _table(path, "select count(*) as n from raw.daily_prices")["n"][0] == 0


def test_a_locked_warehouse_fails_clearly(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "warehouse.duckdb"
    assert _materialize([ingest.securities], path, "2025-01-24", "2025-01-24").success
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('open', flush=True); sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        result = _materialize([ingest.securities], path, "2025-01-24", "2025-01-24")
    finally:
        holder.communicate("")
    assert not result.success
    message = _failure_messages(result)
    assert str(path) in message and str(holder.pid) in message


def test_only_errors_a_retry_can_fix_are_retried(tmp_path: Path, monkeypatch) -> None:
    """An unavailable source is retried with backoff; a frame the warehouse rejects is not."""
    path = tmp_path / "warehouse.duckdb"
    calls: list[str] = []

    def flaky_source(self: MarketDataResource):
        class Flaky:
            name = "flaky"

            def fetch_fx(self, pairs, start, end):
                calls.append("fx")
                raise SourceUnavailableError("Yahoo answered 429 Too Many Requests after 5 retries")

            def fetch_prices(self, securities, start, end):
                calls.append("prices")
                return PriceBatch(pd.DataFrame({"nonsense": [1]}), pd.DataFrame(), [])

        return Flaky()

    monkeypatch.setattr(MarketDataResource, "build", flaky_source)
    monkeypatch.setenv(STEP_RETRIES_ENV, "2")
    monkeypatch.setenv(STEP_RETRY_BASE_SECONDS_ENV, "0")
    result = _materialize(PRICE_ASSETS, path, "2025-01-27", "2025-01-27")
    assert not result.success
    assert calls.count("fx") == 3, "two retries after the first attempt"
    assert calls.count("prices") == 1, "bad data is not retried"
    assert "nonsense" in _failure_messages(result)


def test_a_second_writer_waits_for_the_first_instead_of_failing(tmp_path: Path) -> None:
    """Two processes never write at once: a step that finds the file held by another writer waits
    for it (up to lock_timeout_seconds) and then writes."""
    import subprocess
    import sys
    import time

    path = tmp_path / "warehouse.duckdb"
    assert _materialize([ingest.securities], path, "2025-01-24", "2025-01-24").success
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "c.execute(\"update raw.securities set name = name || ''\"); "
            "print('writing', flush=True); time.sleep(2); c.close(); print('released', flush=True)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "writing"
    started = time.monotonic()
    result = dg.materialize(
        [ingest.securities],
        resources={
            **_resources(path),
            "warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=30),
        },
    )
    waited = time.monotonic() - started
    assert writer.stdout.readline().strip() == "released"
    writer.wait()
    assert result.success
    assert waited >= 1.0, "the step waited for the other writer"
