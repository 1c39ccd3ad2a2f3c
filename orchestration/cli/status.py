"""`market-warehouse status`: what the published copy holds and how fresh it is, plus the
latest nightly run when a Dagster instance is configured."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from orchestration.cli.published import published_connection, published_path
from warehouse import publish
from warehouse.formatting import format_table
from warehouse.sql_quoting import ident
from warehouse.storage.reads import latest_run_summary, table_exists, table_overview

ANOMALY_TABLE = ("quality", "price_anomalies")


def run_status(args: argparse.Namespace) -> int:
    path = published_path(args)
    with published_connection(args) as connection:
        # The manifest of the copy this connection reads, not of one published since it opened.
        manifest = publish.manifest_of_connection(connection) or {}
        tables = table_overview(connection)
        last_load = latest_run_summary(connection)
        anomalies = open_anomalies(connection)
    dagster_run = latest_dagster_run() if os.environ.get("DAGSTER_HOME") else None
    sys.stdout.write(render_status(path, manifest, last_load, anomalies, tables, dagster_run))
    return 0


def open_anomalies(connection: duckdb.DuckDBPyConnection) -> int | None:
    """Open price anomalies, or None when the quality checks have not created their table. A row
    is open unless a `status` column says otherwise or a `resolved` column is true."""
    schema, table = ANOMALY_TABLE
    if not table_exists(connection, schema, table):
        return None
    columns = {
        name.lower()
        for (name,) in connection.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }
    condition = "TRUE"
    if "status" in columns:
        condition = "lower(status) = 'open'"
    elif "resolved" in columns:
        condition = "NOT coalesce(resolved, FALSE)"
    try:
        return int(
            connection.execute(
                f"SELECT count(*) FROM {ident(schema)}.{ident(table)} WHERE {condition}"
            ).fetchone()[0]
        )
    except duckdb.Error:
        return None


def latest_dagster_run() -> dict[str, Any] | None:
    """The latest nightly run recorded in $DAGSTER_HOME (best effort: None on any problem)."""
    try:
        # Dagster takes seconds to import: only when an instance is configured.
        import dagster as dg

        from orchestration.build import NIGHTLY_JOB

        with dg.DagsterInstance.get() as instance:
            records = instance.get_run_records(dg.RunsFilter(job_name=NIGHTLY_JOB), limit=1)
        if not records:
            return None
        record = records[0]
        return {
            "run_id": record.dagster_run.run_id,
            "status": record.dagster_run.status.value,
            "started_at": _from_timestamp(record.start_time),
            "finished_at": _from_timestamp(record.end_time),
        }
    except Exception:  # the status of the data must print even if the instance cannot be read
        return None


def _from_timestamp(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def render_status(
    path: Path,
    manifest: dict[str, Any],
    last_load: dict[str, Any] | None,
    anomalies: int | None,
    tables: Sequence[tuple[str, int, Any, Any]],
    dagster_run: dict[str, Any] | None = None,
) -> str:
    """The `status` report: pure, from what the published copy and its manifest say."""
    lines = [
        f"Published copy:  {path}"
        + (f" (version {manifest['version']})" if manifest.get("version") else "")
    ]
    if manifest:
        size = manifest.get("size_bytes")
        lines.append(
            f"Last refresh:    published {_timestamp_text(manifest.get('published_at'))} by run "
            f"{manifest.get('run_id') or 'unknown'}: success"
            + (f" ({size / 1e6:.1f} MB, storage {manifest.get('storage_version')})" if size else "")
        )
    else:
        lines.append("Last refresh:    unknown (no publish manifest beside the copy)")
    if last_load:
        lines.append(
            f"Last load:       run {last_load['run_id']}, sessions {last_load['first_day']}.."
            f"{last_load['last_day']}, {last_load['loads']} loads finished "
            f"{_timestamp_text(last_load['finished_at'])}; rows inserted "
            f"{_int_text(last_load['rows_inserted'])}, "
            f"changed {_int_text(last_load['rows_changed'])}; "
            f"tickers failed {_int_text(last_load['tickers_failed'])}"
        )
    else:
        lines.append("Last load:       none recorded (raw.load_log is absent or empty)")
    if dagster_run:
        line = (
            f"Latest run:      {dagster_run['run_id']} {dagster_run['status']}"
            f" (started {_timestamp_text(dagster_run['started_at'])})"
        )
        published_at = _parse_timestamp(manifest.get("published_at"))
        started = dagster_run.get("started_at")
        failed = dagster_run["status"] != "SUCCESS"
        if failed and published_at and started and started > published_at:
            line += "; readers still see the copy published before it"
        lines.append(line)
    anomaly_table = ".".join(ANOMALY_TABLE)
    lines.append(
        f"Open anomalies:  {anomalies} ({anomaly_table})"
        if anomalies is not None
        else f"Open anomalies:  not computed yet ({anomaly_table} does not exist)"
    )
    lines.append("")
    lines.append(
        format_table(
            ["table", "rows", "first date", "last date"],
            [
                (name, rows, first if first is not None else "-", last if last is not None else "-")
                for name, rows, first, last in tables
            ],
        ).rstrip("\n")
    )
    return "\n".join(lines) + "\n"


def _parse_timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def _timestamp_text(value: Any) -> str:
    moment = _parse_timestamp(value)
    if moment is None:
        return "at an unknown time" if value is None else str(value)
    suffix = " UTC" if moment.tzinfo is None or moment.utcoffset() == timedelta(0) else ""
    text = moment.replace(microsecond=0)
    if suffix:
        text = text.replace(tzinfo=None)
    return f"{text.isoformat(sep=' ')}{suffix}"


def _int_text(value: Any) -> str:
    return "?" if value is None else str(int(value))
