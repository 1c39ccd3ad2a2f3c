"""`market-warehouse`: the reading commands on a small published copy, the output helpers on their
own, and the build's progress lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import errors, main, sql_guard, status
from warehouse import formatting, publish, settings


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small warehouse published where the settings say readers find it."""
    warehouse = tmp_path / "market_warehouse.duckdb"
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(warehouse))
    monkeypatch.delenv(settings.PUBLISHED_PATH_ENV, raising=False)
    writer = duckdb.connect(str(warehouse))
    writer.execute(
        """
        CREATE SCHEMA raw; CREATE SCHEMA marts;
        CREATE TABLE raw.securities (ticker VARCHAR PRIMARY KEY, name VARCHAR);
        INSERT INTO raw.securities VALUES ('AAPL', 'Apple'), ('7203.T', 'Toyota, Motor');
        CREATE TABLE raw.daily_prices (ticker VARCHAR, trade_date DATE, close DOUBLE);
        INSERT INTO raw.daily_prices VALUES ('AAPL', DATE '2024-01-02', 185.64),
            ('AAPL', DATE '2024-01-03', 184.25), ('7203.T', DATE '2024-01-04', 2555.5);
        CREATE TABLE raw.load_log (run_id VARCHAR, asset_key VARCHAR, partition_start DATE,
            partition_end DATE, started_at TIMESTAMP, finished_at TIMESTAMP,
            tickers_requested INTEGER, tickers_loaded INTEGER, tickers_failed INTEGER,
            rows_written BIGINT, rows_inserted BIGINT, rows_changed BIGINT, rows_unchanged BIGINT);
        INSERT INTO raw.load_log VALUES
            ('old-run', 'raw/daily_prices', '2023-12-01', '2023-12-29', '2024-01-01 20:00',
             '2024-01-01 20:01', 2, 2, 0, 10, 10, 0, 0),
            ('run-42', 'raw/daily_prices', '2024-01-02', '2024-01-04', '2024-01-05 23:30',
             '2024-01-05 23:31', 2, 2, 0, 3, 2, 1, 0),
            ('run-42', 'raw/fx_rates', '2024-01-02', '2024-01-04', '2024-01-05 23:31',
             '2024-01-05 23:32', 1, 0, 1, 0, 0, 0, 0);
        CREATE TABLE marts.fct_daily_returns AS
            SELECT ticker, trade_date, close / 100 AS daily_return FROM raw.daily_prices;
        """
    )
    path = publish.publish(writer, run_id="run-42").path
    writer.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------------------------
# sql
# ---------------------------------------------------------------------------------------------


def test_sql_prints_an_aligned_table(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "sql", "SELECT ticker, trade_date, close FROM raw.daily_prices ORDER BY trade_date"
    )
    assert (code, err) == (0, "")
    assert out == (
        "ticker  trade_date   close\n"
        "------  ----------  ------\n"
        "AAPL    2024-01-02  185.64\n"
        "AAPL    2024-01-03  184.25\n"
        "7203.T  2024-01-04  2555.5\n"
        "(3 rows)\n"
    )


def test_sql_prints_csv_and_json(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = "SELECT ticker, name, NULL AS note FROM raw.securities ORDER BY ticker"
    code, out, _ = run(capsys, "sql", query, "--format", "csv")
    assert code == 0
    assert out == 'ticker,name,note\n7203.T,"Toyota, Motor",\nAAPL,Apple,\n'

    code, out, _ = run(
        capsys,
        "sql",
        "SELECT trade_date, close FROM raw.daily_prices WHERE ticker = 'AAPL' ORDER BY 1",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == [
        {"trade_date": "2024-01-02", "close": 185.64},
        {"trade_date": "2024-01-03", "close": 184.25},
    ]


def test_sql_reads_the_published_copy_given_on_the_command_line(
    published: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(tmp_path / "nowhere" / "w.duckdb"))
    code, out, _ = run(
        capsys,
        "sql",
        "--published",
        str(published),
        "SELECT count(*) AS n FROM marts.fct_daily_returns",
        "--format",
        "csv",
    )
    assert (code, out) == (0, "n\n3\n")


def test_sql_caps_the_rows_of_the_table_format(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "sql", "SELECT range AS i FROM range(10)", "--max-rows", "3")
    assert code == 0
    assert out.splitlines()[2:] == [
        "0",
        "1",
        "2",
        "(first 3 rows shown; raise --max-rows or use --format csv for all)",
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO raw.securities VALUES ('X', 'x')",
        "UPDATE raw.securities SET name = 'x'",
        "DELETE FROM raw.securities",
        "CREATE TABLE marts.x (a INTEGER)",
        "DROP TABLE raw.securities",
        "ALTER TABLE raw.securities ADD COLUMN x INTEGER",
        "COPY (SELECT 1) TO '/tmp/market_warehouse_cli_test.csv'",
        "COPY raw.securities FROM '/tmp/x.csv'",
        "ATTACH '/tmp/market_warehouse_cli_test.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA show_tables",
        "SET threads = 1",
        "CHECKPOINT",
        "EXPORT DATABASE '/tmp/market_warehouse_cli_export'",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/market_warehouse_cli_test.csv'",
        "SELECT 1; DROP TABLE raw.securities",
        "UPDATE EXTENSIONS",
    ],
)
def test_sql_refuses_statements_that_write(
    published: Path, capsys: pytest.CaptureFixture[str], statement: str
) -> None:
    before = published.read_bytes()
    code, out, err = run(capsys, "sql", statement)
    assert code == errors.EXIT_REFUSED
    assert out == ""
    assert "Refused" in err and "read-only" in err and "Traceback" not in err
    assert published.read_bytes() == before
    assert not Path("/tmp/market_warehouse_cli_test.csv").exists()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 1",
        "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
        "FROM raw.securities",
        "VALUES (1), (2)",
        "SHOW TABLES",
        "DESCRIBE raw.securities",
        "SUMMARIZE raw.securities",
        "EXPLAIN SELECT * FROM raw.securities",
        "-- a comment\nEXPLAIN ANALYZE SELECT 1",
        "PIVOT raw.daily_prices ON ticker USING sum(close)",
        "SELECT 1; SELECT 2",
    ],
)
def test_sql_accepts_queries(statement: str) -> None:
    assert sql_guard.read_only_statements(statement)


def test_bad_sql_prints_duckdbs_message_on_one_line(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "sql", "SELEC 1")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and 'Parser Error: syntax error at or near "SELEC"' in err

    code, _, err = run(capsys, "sql", "SELECT * FROM marts.nope")
    assert code == 1
    assert err.count("\n") == 1 and "Catalog Error" in err and "nope does not exist" in err


def test_the_console_script_reports_errors_without_a_traceback(published: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "sql", "SELECT * FROM nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert "Catalog Error" in finished.stderr and "Traceback" not in finished.stderr


def test_nothing_published_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(tmp_path / "market_warehouse.duckdb"))
    monkeypatch.delenv(settings.PUBLISHED_PATH_ENV, raising=False)
    for command in (["sql", "SELECT 1"], ["status"]):
        code, out, err = run(capsys, *command)
        assert (code, out) == (1, "")
        assert "No published warehouse" in err and "make demo" in err and "nightly refresh" in err


# ---------------------------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------------------------


def test_status_reports_refresh_tables_and_missing_anomalies(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "status")
    assert (code, err) == (0, "")
    version = publish.read_manifest(published)["version"]
    assert f"Published copy:  {published} (version {version})" in out
    assert "by run run-42: success" in out
    assert (
        "Last load:       run run-42, sessions 2024-01-02..2024-01-04, 2 loads finished "
        "2024-01-05 23:32:00 UTC; rows inserted 2, changed 1; tickers failed 1"
    ) in out
    assert "Open anomalies:  not computed yet (quality.price_anomalies does not exist)" in out
    rows = {
        line.split()[0]: line.split()[1:]
        for line in out.splitlines()
        if line.startswith(("raw.", "marts."))
    }
    assert rows["raw.daily_prices"] == ["3", "2024-01-02", "2024-01-04"]
    assert rows["raw.securities"] == ["2", "-", "-"]
    assert rows["raw.load_log"] == ["3", "2023-12-01", "2024-01-02"]
    assert rows["marts.fct_daily_returns"] == ["3", "2024-01-02", "2024-01-04"]
    assert list(rows) == [
        "raw.daily_prices",
        "raw.load_log",
        "raw.securities",
        "marts.fct_daily_returns",
    ]


def test_status_counts_open_anomalies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warehouse = tmp_path / "market_warehouse.duckdb"
    writer = duckdb.connect(str(warehouse))
    writer.execute(
        """
        CREATE SCHEMA quality;
        CREATE TABLE quality.price_anomalies (ticker VARCHAR, trade_date DATE, status VARCHAR);
        INSERT INTO quality.price_anomalies VALUES ('A', '2024-01-02', 'open'),
            ('B', '2024-01-03', 'explained'), ('C', '2024-01-04', 'OPEN');
        """
    )
    path = publish.publish(writer).path
    writer.close()
    code, out, _ = run(capsys, "status", "--published", str(path))
    assert code == 0
    assert "Open anomalies:  2 (quality.price_anomalies)" in out
    assert "Last load:       none recorded" in out
    assert ["quality.price_anomalies", "3", "2024-01-02", "2024-01-04"] in [
        line.split() for line in out.splitlines()
    ]


def test_status_notes_a_failed_run_after_the_last_publish() -> None:
    text = status.render_status(
        Path("/p/market_warehouse.duckdb"),
        {"published_at": "2024-01-05T23:40:00+00:00", "run_id": "good"},
        None,
        0,
        [],
        {
            "run_id": "bad",
            "status": "FAILURE",
            "started_at": datetime.fromisoformat("2024-01-08T23:30:00+00:00"),
            "finished_at": None,
        },
    )
    assert (
        "Latest run:      bad FAILURE (started 2024-01-08 23:30:00 UTC); readers still see" in text
    )
    assert "Open anomalies:  0 (quality.price_anomalies)" in text


# ---------------------------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------------------------


def test_format_table_aligns_numbers_right_and_text_left() -> None:
    text = formatting.format_table(["name", "n", "x"], [("a", 1, 1.5), ("long name", 100, None)])
    assert text == (
        "name         n     x\n---------  ---  ----\na            1   1.5\nlong name  100  NULL\n"
    )
    assert formatting.format_table(["only"], []) == "only\n----\n"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "NULL"),
        (True, "true"),
        (1.0, "1.0"),
        (0.1234567891, "0.123457"),
        (-0.0, "0.0"),
        (2.5e-7, "2.500e-07"),
        (float("nan"), "nan"),
        (12, "12"),
        (Decimal("1.50"), "1.50"),
        (date(2024, 1, 2), "2024-01-02"),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
        ([1, 2], "[1, 2]"),
        ({"a": 1}, '{"a": 1}'),
    ],
)
def test_display_value(value: object, shown: str) -> None:
    assert formatting.display_value(value) == shown


def test_format_csv_quotes_and_leaves_null_empty() -> None:
    rows = [("x,y", None, date(2024, 1, 2)), ('say "hi"', 1.25, [1])]
    assert formatting.format_csv(["a", "b", "c"], rows) == (
        'a,b,c\n"x,y",,2024-01-02\n"say ""hi""",1.25,[1]\n'
    )


def test_format_json_keeps_types_and_nulls_nan() -> None:
    rows = [(date(2024, 1, 2), Decimal("1.5"), float("nan"), 3, {"k": [datetime(2024, 1, 2, 9)]})]
    assert json.loads(formatting.format_json(["d", "dec", "nan", "i", "nested"], rows)) == [
        {
            "d": "2024-01-02",
            "dec": 1.5,
            "nan": None,
            "i": 3,
            "nested": {"k": ["2024-01-02T09:00:00"]},
        }
    ]
    assert json.loads(formatting.format_json(["a"], [])) == []


def test_one_line_drops_the_caret_diagram() -> None:
    message = 'Parser Error: syntax error at or near "SELEC"\n\nLINE 1: SELEC 1\n        ^^^^^'
    assert errors.one_line(message) == 'Parser Error: syntax error at or near "SELEC"'


# ---------------------------------------------------------------------------------------------
# build progress
# ---------------------------------------------------------------------------------------------


def test_progress_line() -> None:
    from orchestration.build import progress_line

    assert progress_line("STEP_START", "raw__daily_prices") == "  start    raw__daily_prices"
    assert progress_line("STEP_SUCCESS", "dbt_models", elapsed=12.34) == (
        "  done     dbt_models (12.3s)"
    )
    assert progress_line("STEP_FAILURE", "dbt_models", elapsed=1, error="ValueError: x\ntrace") == (
        "  FAILED   dbt_models (1.0s): ValueError: x"
    )
    assert progress_line("ASSET_MATERIALIZATION", "dbt_models") is None


def test_a_run_reports_each_step_as_it_goes() -> None:
    import dagster as dg

    from orchestration.build import with_progress

    @dg.asset
    def first() -> None:
        pass

    @dg.asset(deps=[first])
    def second() -> None:
        raise ValueError("no data for 2024-01-02")

    job = dg.Definitions(
        assets=[first, second],
        jobs=[dg.define_asset_job("job", executor_def=dg.in_process_executor)],
    ).resolve_job_def("job")
    lines: list[str] = []
    job, run_config = with_progress(job, lines.append)
    result = job.execute_in_process(run_config=run_config, raise_on_error=False)
    assert not result.success
    assert [line.split()[:2] for line in lines] == [
        ["start", "first"],
        ["done", "first"],
        ["start", "second"],
        ["FAILED", "second"],
    ]
    assert lines[-1].endswith("ValueError: no data for 2024-01-02")


def test_a_retried_step_reports_the_retry_and_the_restart() -> None:
    import dagster as dg

    from orchestration.build import with_progress

    attempts: list[int] = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("timed out")

    job = dg.Definitions(
        assets=[flaky], jobs=[dg.define_asset_job("job", executor_def=dg.in_process_executor)]
    ).resolve_job_def("job")
    lines: list[str] = []
    job, run_config = with_progress(job, lines.append)
    assert job.execute_in_process(run_config=run_config).success
    assert [line.split()[0] for line in lines] == ["start", "retry", "restart", "done"]
    assert "ConnectionError: timed out" in lines[1]


# ---------------------------------------------------------------------------------------------
# build: errors a user can act on, one line each, before anything is written
# ---------------------------------------------------------------------------------------------


class FakeRefresh:
    """Stands in for run_refresh: records each window and whether the run was marked a rebuild,
    writes a traceback to stderr as Dagster's console log does, and fails (or raises ``error``)."""

    def __init__(self) -> None:
        self.windows: list[tuple[date, date]] = []
        self.rebuild: list[str | None] = []
        self.error: Exception | None = None

    def __call__(self, first_day: date, last_day: date, **_: object):
        from orchestration.build import BuildResult

        self.windows.append((first_day, last_day))
        self.rebuild.append(os.environ.get(publish.REBUILD_ENV) or None)
        if self.error is not None:
            raise self.error
        sys.stderr.write("Traceback (most recent call last): Dagster's own log\n")
        return BuildResult("run-x", False, first_day, last_day, ("raw__daily_prices",))


@pytest.fixture
def refresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeRefresh:
    """`build` runs FakeRefresh; the settings `build` writes into the environment are restored."""
    from orchestration import build

    fake = FakeRefresh()
    monkeypatch.setattr(build, "run_refresh", fake)
    for name in (settings.SNAPSHOT_DIR_ENV, publish.REBUILD_ENV):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv(settings.SOURCE_ENV, "snapshot")
    if not os.environ.get(settings.WAREHOUSE_PATH_ENV, "").startswith(str(tmp_path)):
        monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(tmp_path / "market_warehouse.duckdb"))
    return fake


def assert_one_line(err: str, *fragments: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def test_build_refuses_an_end_before_the_start(
    refresh: FakeRefresh, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "build", "--start", "2024-01-10", "--end", "2024-01-02")
    assert code == errors.EXIT_REFUSED and refresh.windows == []
    assert_one_line(err, "--end 2024-01-02 is before --start 2024-01-10")


def test_build_refuses_a_start_before_the_history_start(
    refresh: FakeRefresh, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "build", "--start", "1990-01-01", "--end", "1990-02-01")
    assert code == errors.EXIT_REFUSED and refresh.windows == []
    assert_one_line(
        err, "before the history start 2023-01-02", "MARKET_WAREHOUSE_HISTORY_START=1990-01-01"
    )


def test_build_names_an_unparsable_snapshot_file(
    refresh: FakeRefresh, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from warehouse.sources.base import SourceDataError

    snapshot = tmp_path / "snapshot"
    shutil.copytree(settings.DEFAULT_SNAPSHOT_DIR, snapshot)
    prices = snapshot / "prices.csv"
    header, *rows = prices.read_text().splitlines()
    prices.write_text("\n".join([header, "garbage,,,x,y", *rows]) + "\n")
    code, _, err = run(capsys, "build", "--snapshot-dir", str(snapshot))
    assert code == errors.EXIT_FAILED and refresh.windows == []
    assert_one_line(err, f"{prices} cannot be parsed", "fix or replace that file")
    with pytest.raises(errors.CliError) as raised:  # --debug: the traceback, down to the parser
        main.main(["build", "--snapshot-dir", str(snapshot), "--debug"])
    assert isinstance(raised.value.__cause__, SourceDataError)


def test_an_error_the_user_can_fix_is_one_line_unless_debug(
    refresh: FakeRefresh, capsys: pytest.CaptureFixture[str]
) -> None:
    from warehouse.universe import UniverseError

    refresh.error = UniverseError("invalid universe file u.csv:\n  line 3: unknown role 'bond'")
    code, _, err = run(capsys, "build", "--start", "2024-01-02", "--end", "2024-01-05")
    assert code == errors.EXIT_FAILED
    assert_one_line(err, "invalid universe file u.csv: line 3: unknown role 'bond'", "--debug")
    with pytest.raises(UniverseError):
        main.main(["--debug", "build", "--start", "2024-01-02", "--end", "2024-01-05"])


def test_a_failed_run_keeps_dagsters_traceback_in_the_build_log(
    refresh: FakeRefresh, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "build", "--start", "2024-01-02", "--end", "2024-01-05", "--quiet")
    assert code == errors.EXIT_FAILED and "Traceback" not in err
    assert "Build failed in: raw__daily_prices (run run-x)" in err
    log = Path(err.rsplit("the error is in ", 1)[1].strip())
    assert "Traceback" in log.read_text()


def test_build_refuses_to_create_a_new_warehouse_over_a_published_copy(
    published: Path, refresh: FakeRefresh, capsys: pytest.CaptureFixture[str]
) -> None:
    """The field failure: the warehouse file was gone, a build from 2024 created a new one and
    published it over the copy, exit 0, and readers lost 2023."""
    settings.warehouse_path().unlink()
    code, _, err = run(capsys, "build", "--start", "2024-01-02", "--end", "2024-01-05")
    assert code == errors.EXIT_FAILED and refresh.windows == []
    assert_one_line(err, f"{settings.warehouse_path()} does not exist", "run-42", "--new-warehouse")

    code, _, _ = run(
        capsys, "build", "--start", "2024-01-02", "--end", "2024-01-05", "--new-warehouse"
    )
    assert refresh.windows == [(date(2024, 1, 2), date(2024, 1, 5))]
    assert refresh.rebuild == ["1"], "the publish step must know the rebuild is deliberate"
