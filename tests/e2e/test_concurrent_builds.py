"""Two builds of one warehouse never run at once, whichever way they are started: a Dagster run
and `market-warehouse build` both hold the build lock beside the warehouse file. Each test uses
real processes."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.resources import BUILD_LOCK_TIMEOUT_ENV
from warehouse import settings
from warehouse.storage.connection import build_lock, build_lock_path
from warehouse.storage.errors import WarehouseBusyError

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("market-warehouse"))
# A Dagster run of one asset using the warehouse resource: it prints its run id once running, then
# holds the run (and so the build lock) until the file named by argv[2] exists.
DAGSTER_RUN = """
import pathlib, sys, time
import dagster as dg
from orchestration.resources import WarehouseResource

@dg.asset
def hold(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    print("running", context.run.run_id, time.time(), flush=True)
    release = pathlib.Path(sys.argv[2])
    while not release.exists():
        time.sleep(0.05)

result = dg.materialize([hold], resources={"warehouse": WarehouseResource(path=sys.argv[1])})
print("finished", result.success, time.time(), flush=True)
"""


def _environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), **extra}


def _dagster_run(warehouse: Path, release: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DAGSTER_RUN, str(warehouse), str(release)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=_environment(**env),
    )


def _running(process: subprocess.Popen[str]) -> tuple[str, float]:
    assert process.stdout is not None
    line = process.stdout.readline().split()
    assert line[:1] == ["running"], line
    return line[1], float(line[2])


def test_a_second_dagster_run_waits_for_the_first(tmp_path: Path) -> None:
    warehouse, release = tmp_path / "warehouse.duckdb", tmp_path / "release"
    first = _dagster_run(warehouse, release)
    try:
        first_run_id, _ = _running(first)
        second = _dagster_run(warehouse, release)
        waiting = _line_containing(second, "waiting up to")
        time.sleep(0.5)
        assert second.poll() is None
        released_at = time.time()
        release.touch()
        first_out, _ = first.communicate(timeout=60)
        second_out, _ = second.communicate(timeout=60)
    finally:
        first.kill()
    assert f"waiting up to 3600s for Dagster run {first_run_id} (PID {first.pid})" in waiting
    assert "finished True" in first_out and "finished True" in second_out
    (running,) = [line.split() for line in second_out.splitlines() if line.startswith("running")]
    assert running[1] != first_run_id
    assert float(running[2]) >= released_at, "the second run's step started before the first ended"


def _line_containing(process: subprocess.Popen[str], text: str) -> str:
    """The first line of the process's stderr containing ``text`` (Dagster logs there)."""
    assert process.stderr is not None
    for line in process.stderr:
        if text in line:
            return line
    raise AssertionError(f"the process ended without logging {text!r}")


WAITING_RUN = """
import sys
from dagster._utils.interrupts import setup_interrupt_handlers
setup_interrupt_handlers()  # as Dagster's run worker does: SIGTERM handled like SIGINT
exec(sys.argv[3])
"""


def test_a_run_waiting_for_another_build_stops_at_once_when_terminated(tmp_path: Path) -> None:
    warehouse, release = tmp_path / "warehouse.duckdb", tmp_path / "release"
    first = _dagster_run(warehouse, release)
    try:
        _running(first)
        second = subprocess.Popen(
            [sys.executable, "-c", WAITING_RUN, str(warehouse), str(release), DAGSTER_RUN],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=_environment(),
        )
        _line_containing(second, "waiting up to")
        terminated_at = time.monotonic()
        second.terminate()
        second_out, _ = second.communicate(timeout=30)
        stopped_after = time.monotonic() - terminated_at
    finally:
        release.touch()
        first.communicate(timeout=60)
    assert stopped_after < 10
    assert "running" not in second_out, "the waiting run must not start its step"


def test_the_cli_build_refuses_while_a_dagster_run_builds(tmp_path: Path) -> None:
    """`market-warehouse build` names the running build (run id and PID) in one line."""
    warehouse, release = tmp_path / "warehouse.duckdb", tmp_path / "release"
    holder = _dagster_run(warehouse, release)
    try:
        run_id, _ = _running(holder)
        cli = subprocess.run(
            [CLI, "build", "--source", "snapshot"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            env=_environment(
                **{
                    settings.WAREHOUSE_PATH_ENV: str(warehouse),
                    settings.PUBLISHED_PATH_ENV: str(tmp_path / "published.duckdb"),
                    BUILD_LOCK_TIMEOUT_ENV: "0.5",
                }
            ),
        )
    finally:
        release.touch()
        holder.communicate(timeout=60)
    assert cli.returncode != 0
    assert f"is being built by Dagster run {run_id} (PID {holder.pid})" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr


def test_build_lock_is_reentrant_and_released(tmp_path: Path) -> None:
    """A Dagster run inside `market-warehouse build` re-takes the lock its process holds; once
    released, another process takes it at once."""
    warehouse = tmp_path / "warehouse.duckdb"
    with build_lock(warehouse, holder="outer", timeout_seconds=0):
        with build_lock(warehouse, holder="inner", timeout_seconds=0):
            assert build_lock_path(warehouse).read_text() == f"outer (PID {os.getpid()})"
        other = subprocess.run(
            [sys.executable, "-c", TAKE_LOCK, str(warehouse)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=_environment(),
        )
        assert "is being built by outer" in other.stderr
    other = subprocess.run(
        [sys.executable, "-c", TAKE_LOCK, str(warehouse)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=_environment(),
    )
    assert other.returncode == 0, other.stderr


TAKE_LOCK = """
import sys
from warehouse.storage.connection import build_lock
with build_lock(sys.argv[1], holder="other", timeout_seconds=0):
    pass
"""


def test_a_busy_warehouse_names_the_build() -> None:
    error = WarehouseBusyError(Path("/w.duckdb"), holder="Dagster run abc (PID 7)", waited=0.5)
    assert str(error).startswith("Warehouse /w.duckdb is being built by Dagster run abc (PID 7).")
    with pytest.raises(WarehouseBusyError):
        raise error
