"""One definition of the per-bar rules: the raw writes reject a re-delivered bar by
warehouse/quality/bar_rules.py, the dbt model quality/quarantined_prices quarantines a stored bar
by its own SQL. On a crafted frame of corrections, both find the same bars bad for the same
reasons, with the same evidence."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.defs.checks.resources import QualityRulesResource
from tests.dbt_helpers import run_dbt
from warehouse import storage
from warehouse.storage.writes import split_bad_corrections

SESSIONS = [date(2025, 1, day) for day in (21, 22, 23, 24, 27)]
CORRECTED = SESSIONS[2]
# One correction of each kind, delivered over a good stored bar (open, high, low, close, adj_close,
# volume); the good bars are 100 flat.
CORRECTIONS = {
    "FINE": (100, 102, 99, 101, 101, 1_000),  # a late correction that passes
    "NOCLOSE": (100, 101, 99, None, None, 1_000),
    "ZERO": (100, 101, 99, 0, 0, 1_000),
    "CROSSED": (100, 99, 101, 100, 100, 1_000),
    "OPENOUT": (120, 101, 99, 100, 100, 1_000),
    "CLOSEOUT": (100, 101, 99, 80, 80, 1_000),
    "SOLDNEG": (100, 101, 99, 100, 100, -5),
    "SPIKE": (500, 500, 500, 500, 500, 1_000),  # 5x both neighbours
    "SPLITDAY": (25, 25, 25, 25, None, 1_000),  # a 4-for-1 split on its date: no spike
    "TWOBAD": (100, 99, 101, 0, 0, 1_000),  # high below low and a zero close
}
FX_CORRECTIONS = {
    "JPY=X": (150.2, 150, 149, 150.2),  # open and close above the high: Yahoo's quirk, kept
    "EURUSD=X": (1.05, 1.04, 1.06, 1.05),  # high below low
}


def _bar(ticker: str, day: date, values: tuple) -> dict:
    open_, high, low, close, adj_close, volume = values
    return {
        "ticker": ticker,
        "trade_date": day,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "adj_close": adj_close,
        "volume": volume,
    }


def _fx(ticker: str, day: date, values: tuple) -> dict:
    open_, high, low, close = values
    return {
        "ticker": ticker,
        "rate_date": day,
        "base_currency": ticker[:3] if len(ticker) == 8 else "USD",
        "quote_currency": ticker[3:6] if len(ticker) == 8 else ticker[:3],
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
    }


def _prices(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).astype(
        {"close": "float64", "adj_close": "float64", "volume": "Int64"}
    )


GOOD = (100, 100, 100, 100, 100, 1_000)
GOOD_FX = {"JPY=X": (150, 150, 150, 150), "EURUSD=X": (1.05, 1.05, 1.05, 1.05)}


def _stored(con: duckdb.DuckDBPyConnection) -> None:
    storage.upsert(
        con,
        "daily_prices",
        _prices([_bar(ticker, day, GOOD) for ticker in CORRECTIONS for day in SESSIONS]),
        run_id="stored",
        source="test",
    )
    storage.upsert(
        con,
        "fx_rates",
        pd.DataFrame(
            [_fx(ticker, day, GOOD_FX[ticker]) for ticker in FX_CORRECTIONS for day in SESSIONS]
        ),
        run_id="stored",
        source="test",
    )
    storage.upsert(
        con,
        "corporate_actions",
        pd.DataFrame(
            {
                "ticker": ["SPLITDAY"],
                "action_date": [CORRECTED],
                "action_type": "split",
                "value": 4.0,
            }
        ),
        run_id="stored",
        source="test",
    )


def test_the_writes_and_the_dbt_quarantine_find_the_same_bad_bars(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    prices = _prices([_bar(ticker, CORRECTED, values) for ticker, values in CORRECTIONS.items()])
    fx = pd.DataFrame([_fx(ticker, CORRECTED, values) for ticker, values in FX_CORRECTIONS.items()])
    with duckdb.connect(str(path)) as con:
        storage.ensure_schema(con)
        _stored(con)
        rejected = pd.concat(
            [
                split_bad_corrections(con, "daily_prices", prices)[1],
                split_bad_corrections(con, "fx_rates", fx)[1],
            ]
        )
        # the same corrections written as they came: what the quarantine then judges
        storage.upsert(con, "daily_prices", prices, run_id="corrected", source="test")
        storage.upsert(con, "fx_rates", fx, run_id="corrected", source="test")
    run_dbt(
        path,
        "run",
        "--select",
        "quarantined_prices",
        dbt_vars=QualityRulesResource().quality_rules_vars(),
        target_dir=tmp_path / "dbt",
    )
    with duckdb.connect(str(path), read_only=True) as con:
        quarantined = con.sql(
            "select table_name, ticker, trade_date, "
            "string_agg(reason || ': ' || detail, '; ' order by reason) as reason "
            "from quality.quarantined_prices group by all"
        ).df()

    def by_bar(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
        return {(row.table_name, row.ticker): row.reason for row in frame.itertuples()}

    written = by_bar(rejected)
    assert written == by_bar(quarantined)
    assert {ticker for _, ticker in written} == (set(CORRECTIONS) - {"FINE", "SPLITDAY"}) | {
        "EURUSD=X"
    }
    assert "suspect_spike: price 500 between 100" in written[("raw.daily_prices", "SPIKE")]
