"""The benchmark script runs end to end on a tiny synthetic universe (20 equities x 1 year): a full
build, the pandas baseline and the nightly run, each in its own process, and writes results.json
with every stage of every step and results.md. The benchmark itself (real sizes) is not part of the
test suite: `make bench`."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bench import baseline
from bench.run import SQL_MART_FAMILIES, Size, parse_sizes, stage_for, step_intervals

REPO_ROOT = Path(__file__).resolve().parents[2]
PHASE_STAGES = {"ingest", "dbt", "publish"}


def test_sizes_parse() -> None:
    assert parse_sizes("bundled, 500x10,3000x20") == [
        Size("bundled"),
        Size("500x10", 500, 10),
        Size("3000x20", 3000, 20),
    ]
    for wrong in ("500", "0x10", "x", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_sizes(wrong)


def test_steps_are_timed_from_their_events_and_put_in_stages() -> None:
    events = [
        {"time": 1.0, "word": "start", "step": "daily_prices"},
        {"time": 3.5, "word": "done", "step": "daily_prices"},
        {"time": 3.5, "word": "start", "step": "dbt_models"},
    ]
    steps = step_intervals(events, ended=10.0)
    assert [(s["step"], s["seconds"], s["outcome"]) for s in steps] == [
        ("daily_prices", 2.5, "done"),
        ("dbt_models", 6.5, "unfinished"),
    ]
    assert stage_for("daily_prices", {"ingest"}, has_checks=False) == "ingest"
    assert stage_for("dbt_models", {"marts"}, has_checks=True) == "dbt"
    assert stage_for("published_warehouse", {"publish"}, has_checks=False) == "publish"
    assert stage_for("price_anomalies", {"quality"}, has_checks=True) == "checks"
    assert stage_for("event_charts", {"reports"}, has_checks=False) == "reports"
    assert stage_for("freshness_checks", set(), has_checks=True) == "checks"


def test_tiny_benchmark_writes_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    # The baseline's own process is left out to stay well under a minute; it is run below, in this
    # process, on the warehouse the benchmark kept.
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--sizes",
            "20x1",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path),
            "--quiet",
            "--timeout-minutes",
            "4",
            "--no-baseline",
            "--keep",
        ],
        check=False,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]

    results = json.loads((out / "results.json").read_text())
    (size,) = results["sizes"]
    assert size["status"] == "ok", size.get("error")
    build, nightly = size["build"], size["nightly"]
    # the nightly run is the schedule's: five weekdays ending on the snapshot's last day, one of them new
    assert nightly["window"] == ["2025-06-24", "2025-06-30"] and nightly["partitions"] == 5
    assert build["window"][1] == "2025-06-27"
    assert nightly["rows"]["raw_rows_inserted"] > 0

    for run in (build, nightly):
        assert run["success"], run.get("error")
        stages = set(run["stages"])
        # every stage the definitions have ran and was timed; no step fell outside a stage
        assert stages >= PHASE_STAGES
        assert stages == set(run["stage_of_step"].values())
        for stage in run["stages"].values():
            assert stage["seconds"] > 0 and stage["steps"]
        stage_seconds = sum(stage["seconds"] for stage in run["stages"].values())
        assert run["startup_seconds"] > 0
        assert run["wall_seconds"] >= stage_seconds + run["startup_seconds"] - 0.5
        assert 0 < run["peak_rss_bytes"] < 8 * 2**30
        assert run["peak_rss_by_process_bytes"].get("dbt", 0) > 0
        assert run["rows"]["price_rows_in_window"] > 0 and run["price_rows_per_second"] > 0
        assert run["dbt"]["dbt_models"]["execution_seconds"] > 0
        assert "int_daily_returns" in run["dbt"]["dbt_models"]["model_seconds"]

    markdown = (out / "results.md").read_text()
    assert "| 20x1 |" in markdown and "## Targets" in markdown
    assert date.fromisoformat(results["started_at"][:10])

    # the pandas baseline computes the same marts as the SQL models, on the same warehouse
    (size_dir,) = tmp_path.glob("market-warehouse-bench-*/20x1")
    warehouse = size_dir / "warehouse.duckdb"
    marts, timings = baseline.compute(baseline.load_inputs(warehouse))
    assert set(timings) == set(SQL_MART_FAMILIES)
    checks = baseline.check_against_marts(warehouse, marts)
    mismatched = {
        family: check["summary"] for family, check in checks.items() if not check["match"]
    }
    assert not mismatched, f"bench/baseline.py no longer computes what the marts hold: {mismatched}"
    sql_alone = baseline.time_compiled_sql(warehouse, size_dir / "compiled", SQL_MART_FAMILIES)
    assert all(sql_alone[family]["models"] for family in SQL_MART_FAMILIES)
