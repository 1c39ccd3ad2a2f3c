"""The daily-returns chain (int_shares_outstanding_daily, int_daily_returns, int_daily_market_values,
fct_daily_returns) is incremental: a run recomputes each ticker from its refresh_from (the window
start, earlier when raw rows before it changed, the whole history for a new ticker) to the end of
the data. Here, on two copies of the nightly build of the bundled snapshot with the same raw edits,
an incremental run over an OLD week (a backfill: days after the window's end exist) must give the
rows a --full-refresh build gives."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.e2e

CHAIN = {
    "int_shares_outstanding_daily": "intermediate",
    "int_daily_returns": "intermediate",
    "int_daily_market_values": "intermediate",
    "fct_daily_returns": "marts",
}
# a running product recomputed from an anchor differs from the full build's in the last bits only
FLOAT_COLUMNS = ("total_return_index", "benchmark_return")
MODELS = list(CHAIN)
NEW_SHARE_COUNT = 25_000_000_000.0


def _query(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql, params or []).df()


def _table(path: Path, model: str) -> pd.DataFrame:
    frame = _query(path, f"select * from {CHAIN[model]}.{model} order by ticker, trade_date")
    return frame.reset_index(drop=True)


def _edit_raw(path: Path, days: list[date], start: date) -> dict[str, date]:
    """Late corrections and additions, written as the loaders write them (loaded_at = now)."""
    day = {
        "price_fix": days[days.index(start)],  # first day of the window
        "dividend": days[days.index(start) + 1],
        "benchmark_fix": days[days.index(start) + 2],
        "deleted": days[days.index(start) + 3],
        "before_fix": days[days.index(start) - 30],  # a month before the window
        "filing": days[days.index(start) - 20],
    }
    lineage = "'test', 'test-edit', now()::timestamp"
    with duckdb.connect(str(path)) as con:
        # a late-corrected bar inside the window, the whole bar rescaled (a close alone outside
        # the day's range would be quarantined, which the quality layer now does inside dbt)
        con.execute(
            "update raw.daily_prices set open = open * 1.10, high = high * 1.10, "
            "low = low * 1.10, close = close * 1.10, adj_close = adj_close * 1.10, "
            "run_id = 'test-edit', loaded_at = now()::timestamp "
            "where ticker = 'NVDA' and trade_date = ?",
            [day["price_fix"]],
        )
        # a late-reported dividend of a raw-close ADR: compounds into every later index level
        con.execute(
            f"insert into raw.corporate_actions values ('TSM', ?, 'dividend', 5.0, {lineage})",
            [day["dividend"]],
        )
        # the benchmark corrected inside the window: every ^GSPC security's benchmark_return moves
        con.execute(
            "update raw.daily_prices set open = open * 1.01, high = high * 1.01, "
            "low = low * 1.01, close = close * 1.01, loaded_at = now()::timestamp "
            "where ticker = '^GSPC' and trade_date = ?",
            [day["benchmark_fix"]],
        )
        # a bar withdrawn by the source
        con.execute(
            "delete from raw.daily_prices where ticker = 'AMZN' and trade_date = ?",
            [day["deleted"]],
        )
        # a corrected bar a month BEFORE the window, and a share count filed before it
        con.execute(
            "update raw.daily_prices set open = open * 1.02, high = high * 1.02, "
            "low = low * 1.02, close = close * 1.02, adj_close = adj_close * 1.02, "
            "loaded_at = now()::timestamp where ticker = 'MSFT' and trade_date = ?",
            [day["before_fix"]],
        )
        con.execute(
            f"insert into raw.shares_outstanding values ('NVDA', ?, ?, 'test filing', {lineage})",
            [day["filing"], NEW_SHARE_COUNT],
        )
        # a ticker new to the universe, with its whole history: AMD's bars at half the price
        con.execute(
            f"insert into raw.securities values ('NEWCO', 'New Co', 'equity', 'XNAS', 'USD', "
            f"'^GSPC', {lineage})"
        )
        con.execute(
            f"insert into raw.daily_prices select 'NEWCO', trade_date, open / 2, high / 2, "
            f"low / 2, close / 2, adj_close / 2, volume, {lineage} "
            f"from raw.daily_prices where ticker = 'AMD'"
        )
        con.execute(
            f"insert into raw.shares_outstanding select 'NEWCO', as_of_date, shares_outstanding * 2, "
            f"note, {lineage} from raw.shares_outstanding where ticker = 'AMD'"
        )
    return day


@pytest.fixture(scope="module")
def refreshed(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """before: the nightly build; incremental / full: the same raw edits, then an incremental run
    over an old week, resp. a --full-refresh build of the chain."""
    folder = tmp_path_factory.mktemp("incremental_chain")
    before, incremental, full = (
        folder / f"{name}.duckdb" for name in ("before", "incremental", "full")
    )
    shutil.copyfile(built_warehouse, before)
    shutil.copyfile(built_warehouse, incremental)
    days = list(
        _query(
            before,
            "select trade_date from intermediate.int_daily_returns "
            "where ticker = 'NVDA' order by trade_date",
        )["trade_date"].dt.date
    )
    # a backfill of an old week: five more sessions follow the window's end
    start, end = days[-10], days[-6]
    edited = _edit_raw(incremental, days, start)
    shutil.copyfile(incremental, full)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MARKET_WAREHOUSE_REFRESH_START", start.isoformat())
        # build: the chain's data tests run too, restricted to the window's rows (dim_security for
        # the relationships test's new ticker; the singular tests read the event tables, not rebuilt)
        run_dbt(
            incremental,
            "build",
            "-s",
            "+fct_daily_returns",
            "+dim_security",
            "--exclude",
            "test_type:singular",
            target_dir=folder / "target_incremental",
        )
        run_dbt(full, "run", "-s", *MODELS, "--full-refresh", target_dir=folder / "target_full")
    compiled = (
        folder
        / "target_incremental"
        / "run"
        / "market_warehouse"
        / "models"
        / "intermediate"
        / "int_daily_returns.sql"
    ).read_text()
    return {
        "before": before,
        "incremental": incremental,
        "full": full,
        "days": days,
        "start": start,
        "end": end,
        "edited": edited,
        "compiled": compiled,
    }


def test_the_run_was_incremental(refreshed: dict) -> None:
    # delete+insert into the existing table, not a rebuild
    assert "delete from" in refreshed["compiled"]
    assert "create table" not in refreshed["compiled"].lower()


@pytest.mark.parametrize("model", MODELS)
def test_incremental_run_gives_the_full_rebuild_rows(refreshed: dict, model: str) -> None:
    incremental = _table(refreshed["incremental"], model)
    full = _table(refreshed["full"], model)
    assert len(incremental) == len(full)
    exact = [column for column in full.columns if column not in FLOAT_COLUMNS]
    pd.testing.assert_frame_equal(incremental[exact], full[exact], check_exact=True)
    for column in FLOAT_COLUMNS:
        if column in full:
            pd.testing.assert_series_equal(
                incremental[column], full[column], check_exact=False, rtol=1e-12, atol=1e-12
            )


def _row(path: Path, ticker: str, day: date, columns: str = "*") -> pd.Series:
    frame = _query(
        path,
        f"select {columns} from marts.fct_daily_returns where ticker = ? and trade_date = ?",
        [ticker, day],
    )
    assert len(frame) == 1, (ticker, day)
    return frame.iloc[0]


def _index_ratio(refreshed: dict, ticker: str) -> pd.Series:
    """total_return_index after / before the edits, per day."""
    sql = "select trade_date, total_return_index from marts.fct_daily_returns where ticker = ?"
    after = _query(refreshed["incremental"], sql, [ticker]).set_index("trade_date")
    before = _query(refreshed["before"], sql, [ticker]).set_index("trade_date")
    return (after["total_return_index"] / before["total_return_index"]).sort_index()


def test_late_corrected_price_inside_the_window(refreshed: dict) -> None:
    day = refreshed["edited"]["price_fix"]
    before, after = (
        _row(refreshed["before"], "NVDA", day),
        _row(refreshed["incremental"], "NVDA", day),
    )
    assert after["close_price"] == pytest.approx(before["close_price"] * 1.10, rel=1e-12)
    assert 1 + after["simple_return"] == pytest.approx(
        (1 + before["simple_return"]) * 1.10, rel=1e-12
    )
    assert after["total_return_index"] == pytest.approx(
        before["total_return_index"] * 1.10, rel=1e-12
    )


def test_late_dividend_moves_every_later_index_level_past_the_window_end(refreshed: dict) -> None:
    day = refreshed["edited"]["dividend"]
    ratio = _index_ratio(refreshed, "TSM")
    # the ex-date's return becomes (close + dividend) / previous close - 1 instead of close / ...
    expected = 1 + 5.0 / _row(refreshed["incremental"], "TSM", day)["close_price"]
    assert ratio[ratio.index < pd.Timestamp(day)].sub(1).abs().max() < 1e-12
    later = ratio[ratio.index >= pd.Timestamp(day)]
    # including the five sessions after the window's end
    assert (later.index > pd.Timestamp(refreshed["end"])).sum() == 5
    assert later.sub(expected).abs().max() < 1e-12


def test_corrected_benchmark_moves_its_securities_benchmark_return(refreshed: dict) -> None:
    day = refreshed["edited"]["benchmark_fix"]
    for ticker in ("AAPL", "SPY"):
        before = _row(refreshed["before"], ticker, day)["benchmark_return"]
        after = _row(refreshed["incremental"], ticker, day)["benchmark_return"]
        assert 1 + after == pytest.approx((1 + before) * 1.01, rel=1e-12)


def test_withdrawn_bar_leaves_the_tables(refreshed: dict) -> None:
    day = refreshed["edited"]["deleted"]
    for path in (refreshed["incremental"], refreshed["full"]):
        rows = _query(
            path,
            "select count(*) as n from marts.fct_daily_returns "
            "where ticker = 'AMZN' and trade_date = ?",
            [day],
        )
        assert rows["n"].iloc[0] == 0
    following = _row(
        refreshed["incremental"], "AMZN", refreshed["days"][refreshed["days"].index(day) + 1]
    )
    assert (
        following["previous_trade_date"].date()
        == refreshed["days"][refreshed["days"].index(day) - 1]
    )


def test_corrections_before_the_window_are_picked_up(refreshed: dict) -> None:
    day = refreshed["edited"]["before_fix"]
    ratio = _index_ratio(refreshed, "MSFT")
    assert ratio[pd.Timestamp(day)] == pytest.approx(1.02, rel=1e-12)
    assert ratio.drop(pd.Timestamp(day)).sub(1).abs().max() < 1e-12
    filed = refreshed["edited"]["filing"]
    shares = _query(
        refreshed["incremental"],
        "select trade_date, shares_outstanding, shares_as_of_date "
        "from marts.fct_daily_returns where ticker = 'NVDA' and trade_date >= ? "
        "order by trade_date limit 5",
        [filed],
    )
    assert (shares["shares_outstanding"] == NEW_SHARE_COUNT).all()
    assert (shares["shares_as_of_date"].dt.date == filed).all()


def test_new_ticker_gets_its_whole_history(refreshed: dict) -> None:
    sql = (
        "select trade_date, total_return_index, market_value_usd from marts.fct_daily_returns "
        "where ticker = ? order by trade_date"
    )
    newco = _query(refreshed["incremental"], sql, ["NEWCO"])
    amd = _query(refreshed["incremental"], sql, ["AMD"])
    assert len(newco) == len(amd) > 300
    assert newco["trade_date"].min() < pd.Timestamp(refreshed["start"])
    assert newco["total_return_index"].iloc[0] == 1.0
    # half the price, twice the shares: AMD's index and market value
    assert (newco["total_return_index"] - amd["total_return_index"]).abs().max() < 1e-12
    assert ((newco["market_value_usd"] / amd["market_value_usd"]) - 1).abs().max() < 1e-12
