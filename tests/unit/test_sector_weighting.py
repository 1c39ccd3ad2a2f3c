"""agg_sector_daily against numbers worked out by hand on a tiny raw warehouse.

Three equities over three sessions: AAA (USD) and CCC (EUR, on Xetra) form Technology, BBB (USD) is
Energy. Mixing currencies inside Technology makes the cap weights depend on the USD conversion:
weighted in local currency, Technology's day-2 return would be exactly 0 instead of -0.3125%.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from tests.dbt_helpers import create_raw_tables, run_dbt

DAY1, DAY2, DAY3 = dt.date(2025, 1, 6), dt.date(2025, 1, 7), dt.date(2025, 1, 8)
LOADED_AT = dt.datetime(2025, 1, 9, 6, 0)

SECURITIES = [
    # ticker, name, role, exchange, currency, benchmark
    ("AAA", "Alpha Tech", "equity", "XNYS", "USD", "^IDX"),
    ("BBB", "Beta Energy", "equity", "XNYS", "USD", "^IDX"),
    ("CCC", "Gamma Tech", "equity", "XETR", "EUR", "^IDX"),
    ("^IDX", "Test index", "index", "XNYS", "USD", None),
    ("EURUSD=X", "Euro in US dollars", "fx", "FX", "EUR", None),
]
CLOSES = {
    "AAA": (100.0, 110.0, 99.0),  # +10%, -10%
    "BBB": (50.0, 50.0, 55.0),  # 0%, +10%
    "CCC": (20.0, 19.0, 19.95),  # -5%, +5% (EUR)
    "^IDX": (1000.0, 1010.0, 1000.0),
}
USD_PER_EUR = (1.10, 1.05, 1.20)
SHARES = {"AAA": 1_000.0, "BBB": 4_000.0, "CCC": 10_000.0}
SECTORS = {"AAA": "Technology", "BBB": "Energy", "CCC": "Technology"}
# cautious: the event-study models are not built here, so their relationship tests (which also hang
# off dim_security) must not be pulled in
BUILD_SECTOR_DAILY = ("build", "--select", "+agg_sector_daily", "--indirect-selection", "cautious")


def build_fixture_warehouse(db_path) -> None:
    lineage = ("fixture", "unit-test", LOADED_AT)
    days = (DAY1, DAY2, DAY3)
    con = duckdb.connect(str(db_path))
    try:
        create_raw_tables(con)
        con.executemany(
            "INSERT INTO raw.securities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row + lineage for row in SECURITIES],
        )
        con.executemany(
            "INSERT INTO raw.daily_prices VALUES (?, ?, ?, ?, ?, ?, NULL, 1000, ?, ?, ?)",
            [
                (ticker, day, close, close, close, close) + lineage
                for ticker, closes in CLOSES.items()
                for day, close in zip(days, closes, strict=True)
            ],
        )
        con.executemany(
            "INSERT INTO raw.fx_rates VALUES ('EURUSD=X', ?, 'EUR', 'USD', ?, ?, ?, ?, ?, ?, ?)",
            [
                (day, rate, rate, rate, rate) + lineage
                for day, rate in zip(days, USD_PER_EUR, strict=True)
            ],
        )
        # AAA and BBB take sector and share count from a fundamentals snapshot; CCC's snapshot has a
        # sector but no count, which comes from a filing: both share-count paths are exercised.
        con.executemany(
            "INSERT INTO raw.fundamentals (ticker, as_of_date, name, sector, industry, currency, "
            "exchange, shares_outstanding, source, run_id, loaded_at) "
            "VALUES (?, ?, ?, ?, 'Test industry', ?, 'TST', ?, ?, ?, ?)",
            [
                (
                    ticker,
                    DAY1,
                    ticker,
                    SECTORS[ticker],
                    "EUR" if ticker == "CCC" else "USD",
                    None if ticker == "CCC" else SHARES[ticker],
                )
                + lineage
                for ticker in SHARES
            ],
        )
        con.execute(
            "INSERT INTO raw.shares_outstanding VALUES ('CCC', ?, ?, 'ordinary shares', ?, ?, ?)",
            (dt.date(2024, 12, 31), SHARES["CCC"]) + lineage,
        )
        con.executemany(
            "INSERT INTO raw.exchange_sessions VALUES (?, ?, ?, ?, ?)",
            [(exchange, day) + lineage for exchange in ("XNYS", "XETR", "FX") for day in days],
        )
    finally:
        con.close()


def sector_daily(db_path) -> dict[tuple[dt.date, str], dict]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        relation = con.sql("SELECT * FROM marts.agg_sector_daily")
        return {
            (row["trade_date"], row["sector"]): row
            for row in (
                dict(zip(relation.columns, values, strict=True)) for values in relation.fetchall()
            )
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sector_weighting")
    db_path = workdir / "fixture.duckdb"
    build_fixture_warehouse(db_path)
    run_dbt(db_path, *BUILD_SECTOR_DAILY, target_dir=workdir / "dbt")
    return db_path, workdir


def test_one_row_per_day_and_sector(warehouse):
    db_path, _ = warehouse
    assert set(sector_daily(db_path)) == {
        (day, sector) for day in (DAY1, DAY2, DAY3) for sector in ("Technology", "Energy")
    }


def test_first_day_has_market_value_but_no_return(warehouse):
    db_path, _ = warehouse
    technology = sector_daily(db_path)[(DAY1, "Technology")]
    assert technology["securities_priced"] == 2
    assert technology["securities_counted"] == 0
    assert technology["cap_weighted_return"] is None
    assert technology["total_market_value_usd"] == pytest.approx(100 * 1_000 + 20 * 10_000 * 1.10)


def test_technology_is_weighted_by_previous_day_usd_value(warehouse):
    db_path, _ = warehouse
    rows = sector_daily(db_path)
    # day 2: weights AAA 100*1000 = 100,000 USD, CCC 20*10,000*1.10 = 220,000 USD
    day2 = rows[(DAY2, "Technology")]
    assert day2["cap_weighted_return"] == pytest.approx(
        (0.10 * 100_000 - 0.05 * 220_000) / 320_000, abs=1e-12
    )
    assert day2["equal_weighted_return"] == pytest.approx((0.10 - 0.05) / 2, abs=1e-12)
    assert (day2["advancers"], day2["decliners"], day2["unchanged"]) == (1, 1, 0)
    assert day2["total_market_value_usd"] == pytest.approx(110 * 1_000 + 19 * 10_000 * 1.05)
    # day 3: weights AAA 110*1000 = 110,000 USD, CCC 19*10,000*1.05 = 199,500 USD
    day3 = rows[(DAY3, "Technology")]
    assert day3["cap_weighted_return"] == pytest.approx(
        (-0.10 * 110_000 + 0.05 * 199_500) / 309_500, abs=1e-12
    )
    assert day3["equal_weighted_return"] == pytest.approx((-0.10 + 0.05) / 2, abs=1e-12)
    assert day3["securities_counted"] == day3["cap_weighted_securities"] == 2


def test_single_security_sector(warehouse):
    db_path, _ = warehouse
    rows = sector_daily(db_path)
    day2, day3 = rows[(DAY2, "Energy")], rows[(DAY3, "Energy")]
    assert day2["cap_weighted_return"] == day2["equal_weighted_return"] == 0.0
    assert (day2["advancers"], day2["decliners"], day2["unchanged"]) == (0, 0, 1)
    assert day3["cap_weighted_return"] == pytest.approx(0.10, abs=1e-12)
    assert (day3["advancers"], day3["decliners"], day3["unchanged"]) == (1, 0, 0)
    assert day3["total_market_value_usd"] == pytest.approx(55 * 4_000)


def test_incremental_runs_recompute_only_their_window(warehouse):
    """A late correction to both day 2 and day 3: a run from day 3 picks up day 3 only; a
    run without a window (nightly default) recomputes the last few days, day 2 included."""
    db_path, workdir = warehouse
    before = sector_daily(db_path)
    con = duckdb.connect(str(db_path))
    try:
        # as a load writes a changed bar: with a new loaded_at, the whole bar at the new close (a
        # close alone outside the day's range would be quarantined)
        con.execute(
            "UPDATE raw.daily_prices SET open = 60, high = 60, low = 60, close = 60, "
            "loaded_at = now() WHERE ticker = 'BBB' AND trade_date = ?",
            [DAY3],
        )
        con.execute(
            "UPDATE raw.daily_prices SET open = 120, high = 120, low = 120, close = 120, "
            "loaded_at = now() WHERE ticker = 'AAA' AND trade_date = ?",
            [DAY2],
        )
    finally:
        con.close()
    run_dbt(
        db_path,
        *BUILD_SECTOR_DAILY,
        target_dir=workdir / "dbt",
        dbt_vars={"refresh_start": DAY3.isoformat()},
    )
    after = sector_daily(db_path)
    assert after[(DAY2, "Technology")] == before[(DAY2, "Technology")]
    assert after[(DAY3, "Energy")]["cap_weighted_return"] == pytest.approx(60 / 50 - 1, abs=1e-12)
    # day 3 now sees the corrected day-2 close as its base: AAA 99/120 - 1 on a 120,000 USD weight
    assert after[(DAY3, "Technology")]["cap_weighted_return"] == pytest.approx(
        ((99 / 120 - 1) * 120_000 + 0.05 * 199_500) / (120_000 + 199_500), abs=1e-12
    )

    run_dbt(db_path, *BUILD_SECTOR_DAILY, target_dir=workdir / "dbt")
    assert sector_daily(db_path)[(DAY2, "Technology")]["cap_weighted_return"] == pytest.approx(
        ((120 / 100 - 1) * 100_000 - 0.05 * 220_000) / 320_000, abs=1e-12
    )
