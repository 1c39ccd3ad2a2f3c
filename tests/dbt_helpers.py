"""Scratch warehouse for the dbt tests: the `raw` schema of docs/ARCHITECTURE.md (DDL from
warehouse.storage), loaded from the bundled snapshot with bulk SQL, plus a `run_dbt` wrapper.

This stands in for the ingestion assets, so it stays small and loads what the snapshot source
delivers, row for row: the dbt project must not be able to tell the two apart.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.calendars import CORE_EXCHANGES, sessions_frame
from warehouse.storage import ensure_schema

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT_EXECUTABLE = REPO_ROOT / ".venv" / "bin" / "dbt"
SNAPSHOT_DIR = REPO_ROOT / "warehouse" / "snapshot"
UNIVERSE_PATH = REPO_ROOT / "warehouse" / "universe.csv"

# raw.exchange_sessions runs past the last price so that day 0 of a recent event still resolves.
SESSIONS_AFTER_LAST_PRICE = dt.timedelta(days=30)


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The raw schema exactly as the ingestion pipeline creates it (one DDL for both)."""
    ensure_schema(con)


def load_snapshot_into_raw(
    db_path: str | os.PathLike[str],
    snapshot_dir: Path = SNAPSHOT_DIR,
    universe_path: Path = UNIVERSE_PATH,
    run_id: str = "dbt-helpers-snapshot",
) -> None:
    """Create the raw tables in a fresh DuckDB file and bulk-load the bundled snapshot into them."""
    snapshot = Path(snapshot_dir)
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    lineage = {"source": "snapshot", "run_id": run_id, "loaded_at": loaded_at}
    con = duckdb.connect(str(db_path))
    try:
        create_raw_tables(con)
        con.execute(
            "CREATE TEMP TABLE universe AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
            [str(universe_path)],
        )
        con.execute(
            "INSERT INTO raw.securities SELECT ticker, name, role, exchange, currency, "
            "nullif(benchmark, ''), $source, $run_id, $loaded_at FROM universe",
            lineage,
        )
        con.execute(
            """CREATE TEMP TABLE prices AS SELECT * FROM read_csv(?, header = true, columns = {
                   'ticker': 'VARCHAR', 'date': 'DATE', 'open': 'DOUBLE', 'high': 'DOUBLE',
                   'low': 'DOUBLE', 'close': 'DOUBLE', 'adj_close': 'DOUBLE', 'volume': 'DOUBLE'})""",
            [str(snapshot / "prices.csv")],
        )
        con.execute(
            """INSERT INTO raw.daily_prices
               SELECT p.ticker, p.date, p.open, p.high, p.low, p.close, p.adj_close,
                      CAST(p.volume AS BIGINT), $source, $run_id, $loaded_at
               FROM prices p JOIN universe u USING (ticker) WHERE u.role <> 'fx'""",
            lineage,
        )
        # Yahoo FX symbols: 'EURUSD=X' quotes USD per EUR, 'JPY=X' quotes JPY per USD.
        con.execute(
            """INSERT INTO raw.fx_rates
               SELECT p.ticker, p.date,
                      CASE WHEN length(p.ticker) = 8 THEN p.ticker[1:3] ELSE 'USD' END,
                      CASE WHEN length(p.ticker) = 8 THEN p.ticker[4:6] ELSE p.ticker[1:3] END,
                      p.open, p.high, p.low, p.close, $source, $run_id, $loaded_at
               FROM prices p JOIN universe u USING (ticker) WHERE u.role = 'fx'""",
            lineage,
        )
        con.execute(
            "INSERT INTO raw.corporate_actions SELECT ticker, CAST(date AS DATE), action, "
            "CAST(value AS DOUBLE), $source, $run_id, $loaded_at FROM read_csv($path, header = true)",
            {**lineage, "path": str(snapshot / "actions.csv")},
        )
        # One row of shares_outstanding.csv has an unquoted comma inside split_basis_note, so the
        # DuckDB sniffer rejects the file: read it with csv, taking `source` from the last field.
        # Like the snapshot source, keep reported counts only: TSM's ADR-equivalent row is marked
        # "(derived)", and dbt converts the reported common shares to ADRs itself.
        with open(snapshot / "shares_outstanding.csv", newline="") as handle:
            _, *records = csv.reader(handle)
        share_counts = pd.DataFrame(
            [record[:4] for record in records if not record[-1].strip().endswith("(derived)")],
            columns=["ticker", "as_of", "shares_outstanding", "share_class_note"],
        )
        con.register("share_counts", share_counts)
        con.execute(
            """INSERT INTO raw.shares_outstanding
               SELECT ticker, CAST(as_of AS DATE), CAST(shares_outstanding AS DOUBLE),
                      share_class_note, $source, $run_id, $loaded_at
               FROM share_counts""",
            lineage,
        )
        con.execute(
            """INSERT INTO raw.fundamentals (ticker, as_of_date, name, sector, industry, currency,
                   exchange, shares_outstanding, market_cap, source, run_id, loaded_at)
               SELECT ticker, CAST(as_of AS DATE), name, sector, industry, currency, exchange,
                      CAST(nullif(shares_outstanding, '') AS DOUBLE), CAST(market_cap AS DOUBLE),
                      $source, $run_id, $loaded_at
               FROM read_csv($path, header = true, all_varchar = true)""",
            {**lineage, "path": str(snapshot / "fundamentals.csv")},
        )
        [(first_date, last_date)] = con.execute(
            "SELECT min(date), max(date) FROM prices"
        ).fetchall()
        con.register(
            "calendar_sessions",
            sessions_frame(CORE_EXCHANGES, first_date, last_date + SESSIONS_AFTER_LAST_PRICE),
        )
        con.execute(
            "INSERT INTO raw.exchange_sessions SELECT exchange, CAST(session_date AS DATE), $source, "
            "$run_id, $loaded_at FROM calendar_sessions",
            {**lineage, "source": "exchange_calendars"},
        )
        # one log row for the whole load, so source freshness on raw.load_log sees a recent run
        con.execute(
            # by name: the row counts are left NULL, whatever columns the log gains
            """INSERT INTO raw.load_log BY NAME
               SELECT $run_id AS run_id, 'dbt_helpers.load_snapshot_into_raw' AS asset_key,
                      $first_date AS partition_start, $source AS source,
                      $last_date AS partition_end, $loaded_at AS started_at,
                      $loaded_at AS finished_at, count(*) AS tickers_requested,
                      count(*) AS tickers_loaded, 0 AS tickers_failed, '[]' AS failures
               FROM raw.securities""",
            {**lineage, "first_date": first_date, "last_date": last_date},
        )
    finally:
        con.close()


def run_dbt(
    db_path: str | os.PathLike[str],
    *args: str,
    dbt_vars: dict | None = None,
    target_dir: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess:
    """Run a dbt command against db_path; raise with dbt's own output when it fails."""
    command = [
        str(DBT_EXECUTABLE),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if target_dir:
        # separate target/log dirs let test sessions run next to a developer's own dbt runs
        command += ["--target-path", str(target_dir), "--log-path", str(target_dir)]
    env = {**os.environ, "MARKET_WAREHOUSE_DB": str(Path(db_path).resolve())}
    completed = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO_ROOT)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:2])} failed:\n{completed.stdout}\n{completed.stderr}"
        )
    return completed
