"""What a full build and a nightly refresh cost as the universe grows, measured end to end.

    python -m bench.run                                  # every size: bundled, 500x10, 3000x20
    python -m bench.run --sizes bundled,500x10           # a selection (`make bench` runs the default)

A size is ``bundled`` (the real snapshot in ``warehouse/snapshot`` and ``warehouse/universe.csv``,
exactly what ``make demo`` builds) or ``<tickers>x<years>``: a synthetic snapshot from
``bench.synthetic`` (generation is not measured). For each size, in a temporary directory with its
own warehouse and no ``DAGSTER_HOME`` (an ephemeral Dagster instance):

1. **build**: the nightly Dagster job (``orchestration.build.run_refresh``: ingest, dbt build with
   its tests, asset checks, reports, publish) over the whole history up to the day before the
   snapshot's last day D, into an empty warehouse;
2. **baseline**: ``bench.baseline`` computes the same marts (daily returns, market-model event
   impact, residual correlations, sector daily returns) with pandas from the raw tables, checks its
   numbers against the marts, and is timed against the SQL models' own execution times;
3. **nightly**: the run the nightly schedule launches on day D: its partition range is the trailing
   window ``trailing_weekdays(D, 5)`` (``orchestration/defs/schedules/nightly.py``), so one new
   session plus four re-fetched ones.

Every phase runs in a fresh Python process, as a Dagster run worker does, so its wall time includes
interpreter start-up, imports and loading the definitions, and its peak memory is its own: the
parent samples the resident set of the worker and all its descendants (the dbt subprocesses) from
/proc every 50 ms. The stage split comes from the run's step events (start and success of every
step, through ``run_refresh``'s progress callback), each step put in a stage by its asset group:
ingest, dbt (``dbt_models``: one ``dbt build`` of the whole project), checks (asset-check steps,
group ``quality``), reports, publish. Each dbt step is further split from dbt's own artifacts
(``dbt.log``, ``run_results.json``): start-up, parse, execution, time per model and per test.

Results: ``bench/results/results.json`` (machine-readable) and ``bench/results/results.md`` (the
tables), or ``--out DIR``. The numbers depend on the machine: the JSON records it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
DBT_TARGET_DIR = REPO_ROOT / "dbt_project" / "target"
BUNDLED = "bundled"
DEFAULT_SIZES = f"{BUNDLED},500x10,3000x20"
DEFAULT_END = date(2025, 6, 30)  # bench.synthetic's default: the bundled snapshot's last day too
NIGHTLY_JOB_TRAILING_SESSIONS = 5  # orchestration/defs/schedules/nightly.py (checked at run time)
SAMPLE_SECONDS = 0.05
RESULT_SCHEMA_VERSION = 1
STAGES = ("ingest", "dbt", "checks", "reports", "publish", "other")
# The models each family of marts is computed by in SQL, and what bench.baseline recomputes.
SQL_MART_FAMILIES: dict[str, tuple[str, ...]] = {
    "daily_returns": (
        "int_exchange_sessions",
        "int_fx_usd_rates",
        "int_shares_outstanding_daily",
        "int_daily_returns",
        "int_daily_market_values",
        "fct_daily_returns",
    ),
    "event_impact": (
        "int_security_attributes",
        "dim_security",
        "int_event_securities",
        "int_event_security_days",
        "int_event_estimation",
        "fct_event_window_impact",
        "fct_event_impact",
    ),
    "residual_correlations": ("int_event_residual_correlation_groups",),
    "sector_daily": ("agg_sector_daily",),
}
# Targets of the performance issue; sizes they apply to.
TARGETS = {
    "nightly_seconds_500x10": 30.0,
    "nightly_growth_500x10_to_3000x20": 2.0,
    "build_seconds_500x10": 120.0,
    # the issue sets the memory limit on the 500 x 10 y size; other sizes' peaks are reported only
    "peak_rss_bytes_500x10": 2 * 2**30,
    "sql_speedup_over_pandas": 5.0,
}
PROGRESS_LINE = re.compile(r"^\s*(?P<word>start|done|FAILED|retry|restart|skipped)\s+(?P<step>\S+)")


# ------------------------------------------------------------------------------------------ sizes


@dataclass(frozen=True)
class Size:
    name: str
    tickers: int | None = None  # None: the bundled real snapshot
    years: int | None = None

    @property
    def synthetic(self) -> bool:
        return self.tickers is not None


def parse_sizes(text: str) -> list[Size]:
    sizes = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item == BUNDLED:
            sizes.append(Size(BUNDLED))
            continue
        match = re.fullmatch(r"(\d+)x(\d+)", item)
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise argparse.ArgumentTypeError(
                f"size {item!r} is neither {BUNDLED!r} nor <tickers>x<years>"
            )
        sizes.append(Size(item, int(match[1]), int(match[2])))
    if not sizes:
        raise argparse.ArgumentTypeError("no size given")
    return sizes


# ---------------------------------------------------------------------------------- the parent


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return worker_main(argv[1:])
    args = build_parser().parse_args(argv)
    _terminate_cleanly()
    results = run_benchmark(args)
    out = Path(args.out)
    write_results(results, out)
    print(f"\nWrote {out / 'results.json'} and {out / 'results.md'}")
    print(render_markdown(results))
    failed = [size["size"] for size in results["sizes"] if size["status"] != "ok"]
    return 1 if failed else 0


def _terminate_cleanly() -> None:
    """SIGTERM (and SIGINT, which a background shell job ignores) stop the running phase's process
    group before the benchmark exits."""
    import signal

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes(DEFAULT_SIZES),
        help=f"comma-separated: {BUNDLED} and/or <tickers>x<years> (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--out", default=str(RESULTS_DIR), help="directory for results.json and results.md"
    )
    parser.add_argument(
        "--workdir", help="where the temporary warehouses go (default: the system temp dir)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the warehouses, snapshots and logs"
    )
    parser.add_argument("--seed", type=int, default=0, help="synthetic snapshot seed")
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=DEFAULT_END,
        help="last day of the synthetic snapshots (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--nightly-repeats",
        type=int,
        default=1,
        help="nightly runs per size, each from the same built warehouse; the median is reported",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the pandas baseline")
    parser.add_argument(
        "--timeout-minutes",
        type=float,
        default=40.0,
        help="per phase; a phase that takes longer is stopped and reported as a timeout",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-step progress")
    return parser


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    started = datetime.now(UTC)
    root = Path(tempfile.mkdtemp(prefix="market-warehouse-bench-", dir=args.workdir))
    say = (lambda _line: None) if args.quiet else (lambda line: print(line, flush=True))
    say(f"Working in {root}")
    prepare_dbt_manifest()
    sizes = []
    try:
        for size in args.sizes:
            sizes.append(run_size(size, root / size.name, args, say))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    results = {
        "schema_version": RESULT_SCHEMA_VERSION,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.run " + " ".join(_command_line_options(args)),
        "machine": machine_info(),
        "targets": dict(TARGETS),
        "sizes": sizes,
    }
    results["target_checks"] = evaluate_targets(results)
    return results


def prepare_dbt_manifest() -> None:
    """Parses the dbt project once, untimed, as a deployment does before its first run (the
    definitions are built from dbt_project/target/manifest.json, written here if missing or older
    than a file of the project)."""
    project = REPO_ROOT / "dbt_project"
    manifest = DBT_TARGET_DIR / "manifest.json"
    sources = [
        path
        for folder in ("models", "macros", "seeds", "snapshots", "tests")
        for path in (project / folder).rglob("*")
        if path.is_file()
    ]
    sources += [project / "dbt_project.yml", project / "profiles.yml"]
    if manifest.exists() and all(
        path.stat().st_mtime < manifest.stat().st_mtime for path in sources if path.exists()
    ):
        return
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from orchestration.defs.dbt.project import parse_dbt_project; parse_dbt_project()",
        ],
        check=True,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _command_line_options(args: argparse.Namespace) -> list[str]:
    options = ["--sizes", ",".join(size.name for size in args.sizes)]
    if args.nightly_repeats != 1:
        options += ["--nightly-repeats", str(args.nightly_repeats)]
    if args.seed:
        options += ["--seed", str(args.seed)]
    if args.end != DEFAULT_END:
        options += ["--end", args.end.isoformat()]
    if args.no_baseline:
        options.append("--no-baseline")
    return options


def run_size(size: Size, directory: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "size": size.name,
        "tickers": size.tickers,
        "years": size.years,
        "status": "ok",
    }
    timeout = args.timeout_minutes * 60
    try:
        snapshot_dir, universe = prepare_snapshot(size, directory, args, record, say)
        windows = plan_windows(size, snapshot_dir)
        record["windows"] = {key: [d.isoformat() for d in value] for key, value in windows.items()}
        record["universe_securities"] = _count_lines(universe) - 1
        warehouse = directory / "warehouse.duckdb"
        env = phase_environment(size, snapshot_dir, universe, warehouse, windows["build"][0])
        say(
            f"\n[{size.name}] build {windows['build'][0]}..{windows['build'][1]} into an empty warehouse"
        )
        compiled = directory / "compiled"
        build = run_phase(
            "build", windows["build"], env, directory, timeout, say, keep_compiled=compiled
        )
        record["build"] = build
        if not build.get("success"):
            record["status"] = build.get("status", "failed")
            return record
        built_copy = directory / "built.duckdb"
        _checkpoint(warehouse)
        shutil.copyfile(warehouse, built_copy)
        if not args.no_baseline:
            say(f"[{size.name}] pandas baseline on the built warehouse")
            record["baseline"] = run_baseline(warehouse, directory, timeout, say, compiled)
            record["baseline"]["sql"] = sql_mart_seconds(build)
            record["baseline"]["comparison"] = compare_with_sql(record["baseline"])
        nightly_runs = []
        for repeat in range(max(1, args.nightly_repeats)):
            if repeat:
                shutil.copyfile(built_copy, warehouse)
            say(
                f"[{size.name}] nightly run for {windows['nightly'][1]}: partitions "
                f"{windows['nightly'][0]}..{windows['nightly'][1]}"
                + (f" (repeat {repeat + 1})" if repeat else "")
            )
            nightly_runs.append(
                run_phase("nightly", windows["nightly"], env, directory, timeout, say)
            )
            if not nightly_runs[-1].get("success"):
                break
        record["nightly"] = median_run(nightly_runs)
        if len(nightly_runs) > 1:
            record["nightly"]["repeats_wall_seconds"] = [
                run.get("wall_seconds") for run in nightly_runs
            ]
            record["nightly"]["repeats"] = [
                {
                    key: run.get(key)
                    for key in (
                        "wall_seconds",
                        "cpu_seconds",
                        "others_busy_share",
                        "peak_rss_bytes",
                    )
                }
                for run in nightly_runs
            ]
        if not record["nightly"].get("success"):
            record["status"] = record["nightly"].get("status", "failed")
        record["warehouse_bytes"] = warehouse.stat().st_size if warehouse.exists() else None
    except Exception as error:  # a size that fails is reported, and the next size still runs
        record["status"] = "error"
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc()
        say(f"[{size.name}] ERROR {record['error']}")
    return record


def prepare_snapshot(
    size: Size, directory: Path, args: argparse.Namespace, record: dict[str, Any], say: Any
) -> tuple[Path, Path]:
    if not size.synthetic:
        return REPO_ROOT / "warehouse" / "snapshot", REPO_ROOT / "warehouse" / "universe.csv"
    snapshot_dir = directory / "snapshot"
    say(
        f"\n[{size.name}] generating a synthetic snapshot ({size.tickers} equities x {size.years} years)"
    )
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.synthetic",
            "--tickers",
            str(size.tickers),
            "--years",
            str(size.years),
            "--out",
            str(snapshot_dir),
            "--seed",
            str(args.seed),
            "--end",
            args.end.isoformat(),
        ],
        check=True,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    record["generation_seconds"] = round(time.perf_counter() - started, 2)
    return snapshot_dir, snapshot_dir / "universe.csv"


def plan_windows(size: Size, snapshot_dir: Path) -> dict[str, tuple[date, date]]:
    """build: [history start, the weekday before D]; nightly: the schedule's partition range on D,
    where D is the snapshot's last price date."""
    import duckdb

    from warehouse.loading import trailing_weekdays
    from warehouse.sql_quoting import literal

    with duckdb.connect() as con:
        first, last = con.execute(
            f"SELECT min(date), max(date) FROM read_csv({literal(str(snapshot_dir / 'prices.csv'))}, "
            "header = true, types = {'date': 'DATE'})"
        ).fetchone()
    if size.synthetic:
        history_start = first
        while history_start.weekday() >= 5:
            history_start += timedelta(days=1)
    else:
        history_start = date.fromisoformat(_default_history_start())
    day_before = last - timedelta(days=1)
    while day_before.weekday() >= 5:
        day_before -= timedelta(days=1)
    return {
        "build": (history_start, day_before),
        "nightly": trailing_weekdays(last, nightly_trailing_sessions()),
    }


def nightly_trailing_sessions() -> int:
    """The schedule's own setting, read from its module source (importing it needs the whole
    Dagster code location)."""
    source = (REPO_ROOT / "orchestration" / "defs" / "schedules" / "nightly.py").read_text()
    match = re.search(r"^TRAILING_SESSIONS\s*=\s*(\d+)", source, re.MULTILINE)
    return int(match[1]) if match else NIGHTLY_JOB_TRAILING_SESSIONS


def _default_history_start() -> str:
    source = (REPO_ROOT / "orchestration" / "partitions.py").read_text()
    match = re.search(r'^DEFAULT_HISTORY_START\s*=\s*"([0-9-]+)"', source, re.MULTILINE)
    return match[1] if match else "2023-01-02"


def phase_environment(
    size: Size, snapshot_dir: Path, universe: Path, warehouse: Path, history_start: date
) -> dict[str, str]:
    from warehouse import settings

    env = dict(os.environ)
    env.pop("DAGSTER_HOME", None)  # an ephemeral instance: no run history written anywhere
    env.pop(settings.PUBLISHED_PATH_ENV, None)  # published beside the temporary warehouse
    env.update(
        {
            settings.WAREHOUSE_PATH_ENV: str(warehouse),
            settings.SOURCE_ENV: "snapshot",
            settings.SNAPSHOT_DIR_ENV: str(snapshot_dir),
            settings.UNIVERSE_PATH_ENV: str(universe),
            "MARKET_WAREHOUSE_HISTORY_START": history_start.isoformat(),
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


# ---------------------------------------------------------------------------- running a phase


class TreeSampler(threading.Thread):
    """Samples the resident memory of a process and all its descendants from /proc."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []  # (time, tree RSS, root RSS)
        self.peak_by_command: dict[str, int] = {}
        self._halt = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def sample(self) -> None:
        total = root = 0
        for pid in self._tree():
            rss = self._rss(pid)
            total += rss
            if pid == self.pid:
                root = rss
            command = self._command(pid)
            if command and rss > self.peak_by_command.get(command, 0):
                self.peak_by_command[command] = rss
        if total:
            self.samples.append((time.time(), total, root))

    def _tree(self) -> list[int]:
        found, pending = [], [self.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as handle:
                        pending.extend(int(child) for child in handle.read().split())
            except OSError:
                continue
        return found

    def _rss(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                return int(handle.read().split()[1]) * self._page
        except (OSError, IndexError, ValueError):
            return 0

    @staticmethod
    def _command(pid: int) -> str | None:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                parts = [
                    part.decode(errors="replace") for part in handle.read().split(b"\0") if part
                ]
        except OSError:
            return None
        if not parts:
            return None
        if any(Path(part).name == "dbt" for part in parts[:2]):
            return "dbt"
        if "_worker" in parts:
            return "worker"
        if "bench.baseline" in parts:
            return "baseline"
        return Path(parts[0]).name

    def peak(self, start: float | None = None, end: float | None = None) -> int | None:
        values = [
            total
            for moment, total, _ in self.samples
            if (start is None or moment >= start) and (end is None or moment <= end)
        ]
        return max(values) if values else None

    def peak_root(self) -> int | None:
        return max((root for _, _, root in self.samples), default=None)


def run_subprocess(
    command: list[str], env: dict[str, str], log_path: Path, timeout: float
) -> tuple[int | None, float, float, TreeSampler, dict[str, float | None]]:
    """Runs a command in its own process group, sampling its memory; returns (exit code or None
    on timeout, start, end, sampler, CPU use): the CPU seconds of the process tree, and how busy the
    whole machine was meanwhile, to tell a slow run from a shared machine."""
    import resource

    with log_path.open("w") as log:
        usage_before, machine_before = (
            resource.getrusage(resource.RUSAGE_CHILDREN),
            _machine_jiffies(),
        )
        started = time.time()
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        sampler = TreeSampler(process.pid)
        code: int | None = None
        try:
            sampler.start()
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_process_group(process)
        except BaseException:  # interrupted: do not leave the worker and its dbt running
            _stop_process_group(process)
            raise
        finally:
            ended = time.time()
            if sampler.is_alive():
                sampler.stop()
        usage_after, machine_after = (
            resource.getrusage(resource.RUSAGE_CHILDREN),
            _machine_jiffies(),
        )
    own = (usage_after.ru_utime + usage_after.ru_stime) - (
        usage_before.ru_utime + usage_before.ru_stime
    )
    cpu: dict[str, float | None] = {
        "cpu_seconds": round(own, 2),
        "machine_busy_share": None,
        "others_busy_share": None,
    }
    if machine_before and machine_after:
        ticks = os.sysconf("SC_CLK_TCK")
        busy = (machine_after[0] - machine_before[0]) / ticks
        capacity = (os.cpu_count() or 1) * (ended - started)
        if capacity > 0:
            cpu["machine_busy_share"] = round(busy / capacity, 3)
            cpu["others_busy_share"] = round(max(0.0, busy - own) / capacity, 3)
    return code, started, ended, sampler, cpu


def _machine_jiffies() -> tuple[int, int] | None:
    """(busy, idle) CPU time of the whole machine since boot, in clock ticks (/proc/stat)."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle, idle


def _stop_process_group(process: subprocess.Popen) -> None:
    """Ends the worker and its dbt subprocesses: the process group this script created for it."""
    import signal

    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_phase(
    phase: str,
    window: tuple[date, date],
    env: dict[str, str],
    directory: Path,
    timeout: float,
    say: Any,
    *,
    keep_compiled: Path | None = None,
) -> dict[str, Any]:
    stamp = f"{phase}-{int(time.time() * 1000)}"
    result_path, events_path = directory / f"{stamp}.json", directory / f"{stamp}.events.jsonl"
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "_worker",
        "--phase",
        phase,
        "--first",
        window[0].isoformat(),
        "--last",
        window[1].isoformat(),
        "--result",
        str(result_path),
        "--events",
        str(events_path),
    ]
    if keep_compiled is not None:
        command += ["--keep-compiled", str(keep_compiled)]
    load_before = os.getloadavg()
    stop_tail = threading.Event()
    tail = threading.Thread(target=_tail_events, args=(events_path, stop_tail, say), daemon=True)
    tail.start()
    code, started, ended, sampler, cpu = run_subprocess(
        command, env, directory / f"{stamp}.log", timeout
    )
    stop_tail.set()
    tail.join()
    worker: dict[str, Any] = {}
    if result_path.exists():
        worker = json.loads(result_path.read_text())
    events = (
        [json.loads(line) for line in events_path.read_text().splitlines()]
        if events_path.exists()
        else []
    )
    summary = summarize_phase(phase, window, worker, events, started, ended, sampler)
    summary["load_average_before"] = [round(value, 2) for value in load_before]
    summary.update(cpu)
    summary["exit_code"] = code
    if code is None:
        summary.update(
            success=False, status="timeout", error=f"stopped after {timeout / 60:.0f} minutes"
        )
    elif code != 0 or not worker:
        summary.update(success=False, status="failed")
        summary.setdefault(
            "error", worker.get("error") or f"worker exited with {code}; see {stamp}.log"
        )
    say(
        f"  {phase}: {summary.get('status', 'ok')} in {summary['wall_seconds']:.1f} s, peak RSS "
        f"{_gib(summary.get('peak_rss_bytes'))}"
    )
    return summary


def _tail_events(path: Path, stop: threading.Event, say: Any) -> None:
    """Prints the worker's step events while it runs."""
    position = 0
    while True:
        finished = stop.is_set()
        if path.exists():
            with path.open() as handle:
                handle.seek(position)
                for line in handle:
                    if not line.endswith("\n"):
                        break
                    position += len(line)
                    event = json.loads(line)
                    say(f"    {event['line'].strip()}")
        if finished:
            return
        stop.wait(0.5)


def summarize_phase(
    phase: str,
    window: tuple[date, date],
    worker: dict[str, Any],
    events: list[dict[str, Any]],
    started: float,
    ended: float,
    sampler: TreeSampler,
) -> dict[str, Any]:
    steps = step_intervals(events, ended)
    stage_of = worker.get("stage_of_step", {})
    stages: dict[str, dict[str, Any]] = {}
    for step in steps:
        stage = stage_of.get(step["step"]) or guess_stage(step["step"])
        entry = stages.setdefault(stage, {"seconds": 0.0, "steps": {}, "intervals": []})
        entry["seconds"] += step["seconds"]
        entry["steps"][step["step"]] = round(step["seconds"], 2)
        entry["intervals"].append((step["start"], step["end"]))
    refresh_end = worker.get("refresh_ended_at", ended)
    first_step = min((step["start"] for step in steps), default=refresh_end)
    last_step = max((step["end"] for step in steps), default=refresh_end)
    in_steps = sum(entry["seconds"] for entry in stages.values())
    wall = refresh_end - started
    summary: dict[str, Any] = {
        "phase": phase,
        "window": [window[0].isoformat(), window[1].isoformat()],
        "partitions": _weekdays_between(*window),
        "success": bool(worker.get("success")),
        "run_id": worker.get("run_id"),
        "failed_steps": worker.get("failed_steps", []),
        # end to end: process start to the end of the run (the bench's own bookkeeping excluded)
        "wall_seconds": round(wall, 2),
        "process_seconds": round(ended - started, 2),  # with the bench's bookkeeping after the run
        "startup_seconds": round(first_step - started, 2),
        "python_imports_seconds": worker.get("import_seconds"),
        "between_steps_seconds": round(max(0.0, last_step - first_step - in_steps), 2),
        "teardown_seconds": round(max(0.0, refresh_end - last_step), 2),
        "stages": {},
        "peak_rss_bytes": sampler.peak(),
        "peak_rss_worker_bytes": sampler.peak_root(),
        "peak_rss_by_process_bytes": dict(sorted(sampler.peak_by_command.items())),
        "maxrss_worker_bytes": worker.get("maxrss_self_bytes"),
        "maxrss_children_bytes": worker.get("maxrss_children_bytes"),
        "memory_samples": len(sampler.samples),
        "source_seconds": round(sum(worker.get("source_seconds_by_call", {}).values()), 2),
        "source_seconds_by_call": {
            name: round(value, 2)
            for name, value in worker.get("source_seconds_by_call", {}).items()
        },
        "rows": worker.get("rows", {}),
        "dbt": worker.get("dbt", {}),
        "step_started_at": {step["step"]: step["start"] for step in steps},
        "stage_of_step": stage_of,
    }
    for stage in STAGES:
        if stage not in stages:
            continue
        entry = stages[stage]
        peaks = [sampler.peak(start, end) for start, end in entry["intervals"]]
        summary["stages"][stage] = {
            "seconds": round(entry["seconds"], 2),
            "peak_rss_bytes": max((peak for peak in peaks if peak), default=None),
            "steps": entry["steps"],
        }
    summary["wall_excluding_source_seconds"] = round(wall - summary["source_seconds"], 2)
    price_rows = summary["rows"].get("price_rows_in_window")
    if price_rows and wall > 0:
        summary["price_rows_per_second"] = round(price_rows / wall)
        ingest = summary["stages"].get("ingest", {}).get("seconds")
        if ingest:
            summary["ingest_price_rows_per_second"] = round(price_rows / ingest)
    if worker.get("error"):
        summary["error"] = worker["error"]
    if events and not steps:
        summary["error"] = summary.get("error") or "no step finished"
    running = [step["step"] for step in steps if step.get("unfinished")]
    if running:
        summary["unfinished_steps"] = running
    return summary


def step_intervals(events: list[dict[str, Any]], ended: float) -> list[dict[str, Any]]:
    """(step, start, end, seconds) of every step from its start/done/FAILED events; a step still
    running when the worker stopped ends at ``ended``."""
    open_steps: dict[str, float] = {}
    steps = []
    for event in events:
        word, step, moment = event["word"], event["step"], event["time"]
        if word in ("start", "restart"):
            open_steps[step] = moment
        elif word in ("done", "FAILED", "skipped") and step in open_steps:
            start = open_steps.pop(step)
            steps.append(
                {
                    "step": step,
                    "start": start,
                    "end": moment,
                    "seconds": moment - start,
                    "outcome": word,
                }
            )
    for step, start in open_steps.items():
        steps.append(
            {
                "step": step,
                "start": start,
                "end": ended,
                "seconds": ended - start,
                "outcome": "unfinished",
                "unfinished": True,
            }
        )
    return steps


def guess_stage(step: str) -> str:
    """The stage of a step the definitions did not name (the worker failed before mapping)."""
    if step.startswith("dbt_"):
        return "dbt"
    if step.startswith("raw__") or step in ("daily_prices",):
        return "ingest"
    if "publish" in step:
        return "publish"
    if "chart" in step or "report" in step:
        return "reports"
    if "check" in step or "quality" in step:
        return "checks"
    return "other"


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    succeeded = [run for run in runs if run.get("success")]
    if len(succeeded) != len(runs) or not runs:
        return runs[-1] if runs else {"success": False, "status": "not run"}
    ordered = sorted(runs, key=lambda run: run["wall_seconds"])
    return dict(ordered[(len(ordered) - 1) // 2])


def run_baseline(
    warehouse: Path, directory: Path, timeout: float, say: Any, compiled: Path | None = None
) -> dict[str, Any]:
    """The pandas baseline in its own process; then, in another, the same models' compiled SQL
    run alone (each process's peak memory is its own)."""
    result_path = directory / "baseline.json"
    command = [
        sys.executable,
        "-m",
        "bench.baseline",
        "--warehouse",
        str(warehouse),
        "--seeds",
        str(REPO_ROOT / "dbt_project" / "seeds"),
        "--result",
        str(result_path),
    ]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    code, started, ended, sampler, cpu = run_subprocess(
        command, env, directory / "baseline.log", timeout
    )
    result: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
    result.update(
        exit_code=code,
        process_wall_seconds=round(ended - started, 2),
        peak_rss_bytes=sampler.peak(),
        **cpu,
    )
    if code != 0:
        result["status"] = "timeout" if code is None else "failed"
    else:
        result.setdefault("status", "ok")
    if compiled is not None and compiled.is_dir() and code == 0:
        sql_path = directory / "sql_alone.json"
        command = [
            sys.executable,
            "-m",
            "bench.baseline",
            "--warehouse",
            str(warehouse),
            "--sql-only",
            "--compiled-sql",
            str(compiled),
            "--families",
            json.dumps(SQL_MART_FAMILIES),
            "--result",
            str(sql_path),
        ]
        code, _, _, sampler, _ = run_subprocess(command, env, directory / "sql_alone.log", timeout)
        if code == 0 and sql_path.exists():
            result.update(json.loads(sql_path.read_text()))
            result["sql_alone_peak_rss_bytes"] = sampler.peak()
    say(
        f"  baseline: {result['status']}, pandas {result.get('compute_seconds', float('nan')):.1f} s "
        f"(+ {result.get('load_seconds', float('nan')):.1f} s reading the raw tables)"
    )
    return result


def sql_mart_seconds(build: dict[str, Any]) -> dict[str, Any]:
    """Execution time of the SQL models behind each family of marts, in the full build (from dbt's
    run_results.json: the time DuckDB spent building each table)."""
    models: dict[str, float] = {}
    for step in build.get("dbt", {}).values():
        models.update(step.get("model_seconds", {}))
    families = {}
    for family, names in SQL_MART_FAMILIES.items():
        found = {name: models[name] for name in names if name in models}
        families[family] = {
            "seconds": round(sum(found.values()), 3),
            "models": {name: round(value, 3) for name, value in found.items()},
            "missing_models": [name for name in names if name not in models],
        }
    return families


def compare_with_sql(baseline: dict[str, Any]) -> dict[str, Any]:
    """pandas time / SQL time per family and overall: SQL as run in the build (dbt node times) and
    SQL alone (each compiled model on its own, into memory)."""
    sql = baseline.get("sql", {})
    alone = baseline.get("sql_alone", {})
    pandas_families = baseline.get("families", {})
    comparison: dict[str, Any] = {}
    for family, sql_family in sql.items():
        pandas_seconds = pandas_families.get(family, {}).get("seconds")
        alone_seconds = alone.get(family, {}).get("seconds")
        comparison[family] = {
            "sql_seconds": sql_family["seconds"],
            "sql_alone_seconds": alone_seconds,
            "pandas_seconds": pandas_seconds,
            "speedup": _ratio(pandas_seconds, sql_family["seconds"]),
            "speedup_sql_alone": _ratio(pandas_seconds, alone_seconds),
        }
    totals = {
        key: round(sum(entry[key] or 0 for entry in comparison.values()), 3)
        for key in ("sql_seconds", "sql_alone_seconds", "pandas_seconds")
    }
    comparison["all"] = {
        **totals,
        "speedup": _ratio(totals["pandas_seconds"], totals["sql_seconds"]),
        "speedup_sql_alone": _ratio(totals["pandas_seconds"], totals["sql_alone_seconds"]),
    }
    return comparison


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 2) if numerator and denominator else None


# --------------------------------------------------------------------------------- the worker


def worker_main(argv: Sequence[str]) -> int:
    """One phase in this process: run_refresh over a window, then what the parent cannot see
    (stage of every step, rows loaded, dbt's own timings)."""
    process_started = time.time()
    parser = argparse.ArgumentParser(prog="python -m bench.run _worker")
    parser.add_argument("--phase", required=True)
    parser.add_argument("--first", type=date.fromisoformat, required=True)
    parser.add_argument("--last", type=date.fromisoformat, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--keep-compiled", type=Path, help="copy the models' compiled SQL here")
    args = parser.parse_args(argv)
    record: dict[str, Any] = {"phase": args.phase, "process_started_at": process_started}
    events = args.events.open("w", buffering=1)

    def progress(line: str) -> None:
        match = PROGRESS_LINE.match(line)
        if match:
            events.write(
                json.dumps(
                    {
                        "time": time.time(),
                        "word": match["word"],
                        "step": match["step"],
                        "line": line,
                    }
                )
                + "\n"
            )

    try:
        from orchestration.build import run_refresh

        record["import_seconds"] = round(time.time() - process_started, 2)
        record["source_seconds_by_call"] = time_source_calls()
        keep_definitions()
        record["refresh_started_at"] = time.time()
        result = run_refresh(args.first, args.last, progress=progress)
        record["refresh_ended_at"] = time.time()
        record.update(
            success=result.success, run_id=result.run_id, failed_steps=list(result.failed_steps)
        )
    except BaseException as error:
        record["refresh_ended_at"] = time.time()
        record.update(
            success=False,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
        )
    finally:
        events.close()
    _add_usage(record)
    for name, collect in (
        ("stage_of_step", lambda: stage_of_step()),
        ("rows", lambda: rows_loaded(record.get("run_id"), args.first, args.last)),
        ("dbt", lambda: dbt_artifacts(record.get("run_id"), args.keep_compiled)),
    ):
        try:
            record[name] = collect()
        except Exception as error:  # bookkeeping must not hide the run's own result
            record.setdefault("bookkeeping_errors", []).append(
                f"{name}: {type(error).__name__}: {error}"
            )
    args.result.write_text(json.dumps(record, indent=1, default=str))
    return 0 if record.get("success") else 1


_DEFINITIONS: list[Any] = []


def keep_definitions() -> None:
    """Keeps the Definitions the run loads, so that mapping steps to stages afterwards does not load
    them a second time (the run itself loads them exactly as without the benchmark)."""
    import orchestration.definitions as module

    load = module.defs

    def defs() -> Any:
        if not _DEFINITIONS:
            _DEFINITIONS.append(load())
        return _DEFINITIONS[0]

    module.defs = defs


def time_source_calls() -> dict[str, float]:
    """Times every call of the snapshot source (this process only): the offline stand-in for the
    network. Its first call parses the whole snapshot file, which a download of a few days would
    not do, so the report shows it apart from the warehouse's own work."""
    from warehouse.sources import snapshot_source

    seconds: dict[str, float] = {}
    source = snapshot_source.SnapshotSource
    for name in (
        "fetch_prices",
        "fetch_fx",
        "fetch_fundamentals",
        "fetch_share_counts",
        "fetch_quarterly_financials",
        "coverage",
    ):
        original = getattr(source, name, None)
        if original is None:
            continue

        def timed(
            self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any
        ) -> Any:
            started = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                seconds[_name] = seconds.get(_name, 0.0) + time.perf_counter() - started

        setattr(source, name, timed)
    return seconds


def _add_usage(record: dict[str, Any]) -> None:
    import resource

    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN is the largest waited-for descendant (dbt).
    record["maxrss_self_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    record["maxrss_children_bytes"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def stage_of_step(definitions: Any = None) -> dict[str, str]:
    """Each executable node's stage, from its asset groups (and checks-only nodes)."""
    if definitions is None:
        from orchestration.definitions import defs

        definitions = _DEFINITIONS[0] if _DEFINITIONS else defs()
    graph = definitions.resolve_asset_graph()
    stages: dict[str, str] = {}
    for assets_def in graph.assets_defs:
        if not assets_def.is_executable:
            continue
        try:
            name = assets_def.node_def.name
        except Exception:
            continue
        groups = {assets_def.group_names_by_key.get(key) for key in assets_def.keys}
        stages[name] = stage_for(name, groups, has_checks=bool(list(assets_def.check_keys)))
    return stages


def stage_for(name: str, groups: Iterable[str | None], *, has_checks: bool) -> str:
    groups = {group for group in groups if group}
    if name.startswith("dbt_") or groups & {
        "staging",
        "intermediate",
        "marts",
        "event_study",
        "reference",
        "history",
        "dbt",
    }:
        return "dbt"
    if "ingest" in groups:
        return "ingest"
    if "publish" in groups:
        return "publish"
    if groups & {"reports", "report", "charts"}:
        return "reports"
    if groups & {"quality", "findings", "checks"} or (has_checks and not groups):
        return "checks"
    return guess_stage(name)


def rows_loaded(run_id: str | None, first: date, last: date) -> dict[str, Any]:
    import duckdb

    from warehouse import settings, storage

    path = settings.warehouse_path()
    with duckdb.connect(str(path), read_only=True) as con:
        rows: dict[str, Any] = {
            "price_rows_in_window": con.execute(
                "SELECT count(*) FROM raw.daily_prices WHERE trade_date BETWEEN ? AND ?",
                [first, last],
            ).fetchone()[0],
            "price_rows_total": con.execute("SELECT count(*) FROM raw.daily_prices").fetchone()[0],
            "warehouse_bytes": path.stat().st_size,
        }
        if run_id:
            totals = storage.run_load_totals(con, run_id)
            rows.update(
                raw_rows_received=totals["received"],
                raw_rows_inserted=totals["inserted"],
                raw_rows_changed=totals["changed"],
            )
    published = settings.published_path(path)
    if published.exists():
        rows["published_bytes"] = published.stat().st_size
    return rows


def dbt_artifacts(run_id: str | None, keep_compiled: Path | None = None) -> dict[str, Any]:
    """Per dbt step of the run: dbt's start-up, parse and execution time (dbt.log), and each node's
    execution time (run_results.json). The run's artifact folders are removed afterwards (the bench
    ran them; they hold nothing the repository needs), after copying the models' compiled SQL to
    ``keep_compiled`` when given."""
    if not run_id:
        return {}
    target = Path(os.environ.get("DBT_TARGET_PATH") or DBT_TARGET_DIR)
    steps: dict[str, Any] = {}
    for folder in sorted(target.glob(f"*-{run_id[:7]}-*")):
        step = folder.name.rsplit("-", 2)[0]
        try:
            steps[step] = summarize_dbt_folder(folder)
            if keep_compiled is not None:
                keep_compiled.mkdir(parents=True, exist_ok=True)
                # *.py: the Python model of the residual correlations
                for compiled in [
                    *(folder / "compiled").glob("*/models/*/*.sql"),
                    *(folder / "compiled").glob("*/models/*/*.py"),
                ]:
                    shutil.copyfile(compiled, keep_compiled / compiled.name)
        finally:
            if not os.environ.get("BENCH_KEEP_DBT_TARGETS"):
                shutil.rmtree(folder, ignore_errors=True)
    return steps


def summarize_dbt_folder(folder: Path) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    log_times = _dbt_log_times(folder / "dbt.log")
    summary.update(log_times)
    results_path = folder / "run_results.json"
    if not results_path.exists():
        return summary
    run_results = json.loads(results_path.read_text())
    tags = _node_tags(folder / "manifest.json")
    by_type: dict[str, float] = {}
    models: dict[str, float] = {}
    tests: dict[str, float] = {}
    story = 0.0
    for node in run_results.get("results", []):
        unique_id, seconds = node["unique_id"], float(node.get("execution_time") or 0.0)
        kind, name = unique_id.split(".")[0], unique_id.split(".")[2]
        by_type[kind] = by_type.get(kind, 0.0) + seconds
        if kind in ("model", "snapshot", "seed"):
            models[name] = seconds
        elif kind == "test":
            tests[name] = seconds
            if "story" in tags.get(unique_id, ()):
                story += seconds
    summary.update(
        execution_seconds=round(float(run_results.get("elapsed_time") or 0.0), 2),
        node_seconds_by_type={kind: round(value, 2) for kind, value in sorted(by_type.items())},
        nodes=len(run_results.get("results", [])),
        model_seconds={
            name: round(value, 3) for name, value in sorted(models.items(), key=lambda kv: -kv[1])
        },
        slowest_tests={
            name: round(value, 3)
            for name, value in sorted(tests.items(), key=lambda kv: -kv[1])[:5]
        },
        story_test_seconds=round(story, 3),
    )
    return summary


def _dbt_log_times(path: Path) -> dict[str, Any]:
    """When dbt started (its first log line), finished parsing ("Found N models...") and ended."""
    if not path.exists():
        return {}
    first = parsed = last = None
    partial_parse = None
    for line in path.read_text(errors="replace").splitlines():
        try:
            info = json.loads(line)["info"]
        except (ValueError, KeyError, TypeError):
            continue
        moment = datetime.fromisoformat(info["ts"]).timestamp()
        first = first if first is not None else moment
        last = moment
        message = info.get("msg", "")
        if parsed is None and message.startswith("Found "):
            parsed = moment
        if "partial parsing" in message.lower() and partial_parse is None:
            partial_parse = message.strip()
    times: dict[str, Any] = {"log_started_at": first, "log_ended_at": last}
    if first is not None and parsed is not None:
        times["parse_seconds"] = round(parsed - first, 2)
    if partial_parse:
        times["partial_parse"] = partial_parse
    return times


def _node_tags(manifest_path: Path) -> dict[str, list[str]]:
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return {}
    return {
        unique_id: node.get("tags", []) for unique_id, node in manifest.get("nodes", {}).items()
    }


# ------------------------------------------------------------------------------------- output


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_bytes": _memory_total(),
    }
    with suppress(OSError), open("/proc/cpuinfo") as handle:
        names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    from importlib.metadata import PackageNotFoundError, version

    for package in (
        "duckdb",
        "dagster",
        "dagster-dbt",
        "dbt-core",
        "dbt-duckdb",
        "pandas",
        "numpy",
    ):
        with suppress(PackageNotFoundError):
            info[package] = version(package)
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        info["git_dirty"] = bool(dirty)
    except (OSError, subprocess.CalledProcessError):
        # not a git checkout (e.g. `git archive` of a commit): the caller may say which commit
        if os.environ.get("BENCH_SOURCE_COMMIT"):
            info["git_commit"] = os.environ["BENCH_SOURCE_COMMIT"][:7]
            info["git_dirty"] = False
    return info


def _memory_total() -> int | None:
    with suppress(OSError), open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    by_size = {size["size"]: size for size in results["sizes"]}
    checks = []

    def wall(size: str, phase: str, key: str = "wall_seconds") -> float | None:
        run = by_size.get(size, {}).get(phase) or {}
        return run.get(key) if run.get("success") else None

    # "excluding network": the snapshot source's time (the offline stand-in for downloads) is left out
    nightly_small = wall("500x10", "nightly", "wall_excluding_source_seconds")
    nightly_large = wall("3000x20", "nightly", "wall_excluding_source_seconds")
    build_small = wall("500x10", "build")
    checks.append(
        _check(
            "nightly refresh, 500x10 (source time excluded)",
            nightly_small,
            TARGETS["nightly_seconds_500x10"],
            "s",
        )
    )
    growth = nightly_large / nightly_small if nightly_small and nightly_large else None
    checks.append(
        _check(
            "nightly growth 500x10 -> 3000x20",
            growth,
            TARGETS["nightly_growth_500x10_to_3000x20"],
            "x",
        )
    )
    checks.append(_check("full build, 500x10", build_small, TARGETS["build_seconds_500x10"], "s"))
    for phase in ("build", "nightly"):
        run = by_size.get("500x10", {}).get(phase) or {}
        if run.get("peak_rss_bytes"):
            checks.append(
                _check(
                    f"peak memory, {phase} 500x10",
                    run["peak_rss_bytes"],
                    TARGETS["peak_rss_bytes_500x10"],
                    "bytes",
                )
            )
    for name, size in by_size.items():
        speedup = (size.get("baseline") or {}).get("comparison", {}).get("all", {}).get("speedup")
        if speedup is not None:
            checks.append(
                _check(
                    f"SQL vs pandas on the marts, {name}",
                    speedup,
                    TARGETS["sql_speedup_over_pandas"],
                    "x",
                    at_least=True,
                )
            )
    return checks


def _check(
    name: str, value: float | None, target: float, unit: str, *, at_least: bool = False
) -> dict[str, Any]:
    met = None if value is None else (value >= target if at_least else value < target)
    return {
        "target": name,
        "value": None if value is None else round(value, 2),
        "limit": target,
        "unit": unit,
        "direction": ">=" if at_least else "<",
        "met": met,
    }


def write_results(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "results.md").write_text(render_markdown(results))


def _gib(value: float | None) -> str:
    return "-" if not value else f"{value / 2**30:.2f} GiB"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _rate(value: float | None) -> str:
    return "-" if not value else f"{value:,.0f}"


def render_markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"`{results['command']}` on {machine.get('cpus')} CPUs ({machine.get('cpu', 'unknown CPU')}), "
        f"{_gib(machine.get('memory_bytes'))} RAM, Python {machine.get('python')}, DuckDB "
        f"{machine.get('duckdb')}, dbt-core {machine.get('dbt-core')}, Dagster {machine.get('dagster')}; "
        f"commit {machine.get('git_commit', '?')}{' (uncommitted changes)' if machine.get('git_dirty') else ''}, "
        f"{results['started_at'][:10]}.",
        "",
        "Wall times in seconds, end to end in a fresh process (start-up = interpreter, imports, "
        "loading the Dagster definitions and planning the run, up to the first step). Ingest (source) = "
        "the ingest stage and, in brackets, the part of it spent inside the snapshot source (reading "
        "the snapshot files: the offline stand-in for the network). Stages are the "
        "sums of their steps' wall times; dbt includes the dbt tests (dbt build). Peak RSS is the "
        "worker process plus its dbt subprocesses, sampled together. Rows = price rows in the run's "
        "window. CPU s = CPU time of the worker and its subprocesses; others' CPU = the share of the "
        "machine's CPUs other processes used meanwhile (a shared machine makes wall times longer).",
        "",
        "| size | price rows | phase | total | start-up | ingest (source) | dbt | checks | reports | publish "
        "| other | peak RSS | rows | rows/s | CPU s | others' CPU |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        for phase in ("build", "nightly"):
            run = size.get(phase)
            if not run:
                continue
            stages = run.get("stages", {})
            status = "" if run.get("success") else f" **{run.get('status', 'failed')}**"
            other = (
                (run.get("between_steps_seconds") or 0)
                + (run.get("teardown_seconds") or 0)
                + (stages.get("other", {}).get("seconds") or 0)
            )
            label = (
                phase if phase == "build" else f"nightly ({run.get('partitions', '?')} partitions)"
            )
            repeats = run.get("repeats_wall_seconds") or ()
            if len(repeats) > 1:
                label += f", median of {len(repeats)}: {min(repeats):.0f}-{max(repeats):.0f} s"
            lines.append(
                f"| {size['size']} | {_rate(run.get('rows', {}).get('price_rows_total'))} | {label}{status} "
                f"| {_seconds(run.get('wall_seconds'))} | {_seconds(run.get('startup_seconds'))} "
                + f"| {_seconds(stages.get('ingest', {}).get('seconds'))} ({_seconds(run.get('source_seconds'))}) "
                + " ".join(
                    f"| {_seconds(stages.get(stage, {}).get('seconds'))}"
                    for stage in ("dbt", "checks", "reports", "publish")
                )
                + f" | {_seconds(other)} | {_gib(run.get('peak_rss_bytes'))} "
                f"| {_rate(run.get('rows', {}).get('price_rows_in_window'))} "
                f"| {_rate(run.get('price_rows_per_second'))} "
                f"| {_seconds(run.get('cpu_seconds'))} | {_share(run.get('others_busy_share'))} |"
            )
        if size["status"] not in ("ok",) and not size.get("build"):
            lines.append(
                f"| {size['size']} | - | - **{size['status']}** | | | | | | | | | | | | | |"
            )
    lines += _dbt_section(results) + _baseline_section(results) + _targets_section(results)
    failures = [size for size in results["sizes"] if size["status"] != "ok"]
    if failures:
        lines += ["", "## Failures", ""]
        for size in failures:
            errors = [size.get("error")] + [
                (size.get(phase) or {}).get("error") for phase in ("build", "nightly")
            ]
            lines.append(
                f"- {size['size']}: {size['status']}: "
                + "; ".join(e.strip().splitlines()[0] for e in errors if e and e.strip())
            )
    return "\n".join(lines) + "\n"


def _dbt_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Inside the dbt steps",
        "",
        "Step wall time = start-up (Dagster's dbt adapter, the dbt process, its imports) + parse + "
        "execution (dbt's own elapsed time; 2 threads) + the rest (Dagster handling the events). "
        "Model and test seconds are sums over nodes, as reported in run_results.json.",
        "",
        "| size | phase | step | wall | before parse | parse | execution | models | tests | story tests "
        "| slowest models |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in results["sizes"]:
        for phase in ("build", "nightly"):
            run = size.get(phase) or {}
            steps = run.get("stages", {}).get("dbt", {}).get("steps", {})
            ordered = sorted(
                (run.get("dbt") or {}).items(),
                key=lambda item: _step_start(run, item[0]) or float("inf"),
            )
            for step, details in ordered:
                wall = steps.get(step)
                by_type = details.get("node_seconds_by_type", {})
                slowest = ", ".join(
                    f"{name} {seconds:.1f}"
                    for name, seconds in list(details.get("model_seconds", {}).items())[:3]
                )
                before = None
                if wall is not None and details.get("log_started_at"):
                    step_start = _step_start(run, step)
                    before = details["log_started_at"] - step_start if step_start else None
                lines.append(
                    f"| {size['size']} | {phase} | {step} | {_seconds(wall)} | {_seconds(before)} "
                    f"| {_seconds(details.get('parse_seconds'))} | {_seconds(details.get('execution_seconds'))} "
                    f"| {_seconds(by_type.get('model', 0) + by_type.get('snapshot', 0) + by_type.get('seed', 0))} "
                    f"| {_seconds(by_type.get('test'))} | {_seconds(details.get('story_test_seconds'))} | {slowest} |"
                )
    return lines


def _step_start(run: dict[str, Any], step: str) -> float | None:
    return (run.get("step_started_at") or {}).get(step)


def _baseline_section(results: dict[str, Any]) -> list[str]:
    rows = []
    for size in results["sizes"]:
        baseline = size.get("baseline")
        if not baseline:
            continue
        comparison = baseline.get("comparison", {})
        for family in (*SQL_MART_FAMILIES, "all"):
            entry = comparison.get(family, {})
            if family == "all":
                match = "all match" if baseline.get("all_match") else "**see results.json**"
            else:
                match = baseline.get("checks", {}).get(family, {}).get("summary", "")
            rows.append(
                f"| {size['size']} | {family.replace('_', ' ')} | {_seconds(entry.get('sql_seconds'))} "
                f"| {_seconds(entry.get('sql_alone_seconds'))} | {_seconds(entry.get('pandas_seconds'))} "
                f"| {_speedup(entry.get('speedup'))} | {_speedup(entry.get('speedup_sql_alone'))} | {match} |"
            )
        rows.append(
            f"| {size['size']} | (pandas reading the raw tables: not counted) | | | "
            f"{_seconds(baseline.get('load_seconds'))} | | | pandas peak RSS "
            f"{_gib(baseline.get('compute_peak_rss_bytes'))} |"
        )
    if not rows:
        return []
    return [
        "",
        "## SQL marts vs a pandas baseline",
        "",
        "SQL in build = the dbt models behind each family, their execution times in the full build "
        "(run_results.json: DuckDB computing and writing each table, 2 dbt threads sharing the 2 cores). "
        "SQL alone = each model's compiled query run on its own on the built warehouse into an in-memory "
        "table. pandas = `bench/baseline.py` computing the same tables in memory from the same raw tables "
        "(reading them into pandas is not counted). Speed-up = pandas time / SQL time: above 1, SQL is "
        "faster. Match = the baseline's values checked against the marts (keys, nulls, values to 1e-6).",
        "",
        "| size | marts | SQL in build (s) | SQL alone (s) | pandas (s) | speed-up (build) "
        "| speed-up (alone) | match |",
        "|---|---|---:|---:|---:|---:|---:|---|",
        *rows,
    ]


def _speedup(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _targets_section(results: dict[str, Any]) -> list[str]:
    lines = ["", "## Targets", "", "| target | measured | limit | met |", "|---|---:|---:|---|"]
    for check in results.get("target_checks", []):
        unit = check["unit"]
        if unit == "bytes":
            value, limit = _gib(check["value"]), _gib(check["limit"])
        else:
            value = "-" if check["value"] is None else f"{check['value']:g} {unit}"
            limit = f"{check['direction']} {check['limit']:g} {unit}"
        met = {True: "yes", False: "**no**", None: "not measured"}[check["met"]]
        lines.append(f"| {check['target']} | {value} | {limit} | {met} |")
    return lines


# --------------------------------------------------------------------------------------- misc


def _checkpoint(warehouse: Path) -> None:
    """Folds a write-ahead log left beside the file into it, so a byte copy is the whole database."""
    if Path(f"{warehouse}.wal").exists():
        import duckdb

        with duckdb.connect(str(warehouse)) as con:
            con.execute("CHECKPOINT")


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _weekdays_between(first: date, last: date) -> int:
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    return sum(1 for day in days if day.weekday() < 5)


if __name__ == "__main__":
    raise SystemExit(main())
