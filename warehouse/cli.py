"""`market-warehouse`: build the warehouse and look into it from a terminal.

`build` writes the warehouse (through the same Dagster job as the nightly run) and publishes its
read-only copy; every other command reads that published copy, never the warehouse file, so it
can run at any time, even during a refresh."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from warehouse import settings
from warehouse.formatting import (
    OUTPUT_FORMATS,
    format_table,
    render,
)

DEFAULT_MAX_ROWS = 200
# Exit codes: 1 the command failed (bad SQL, nothing published...), 2 usage or refused statement.
EXIT_FAILED = 1
EXIT_REFUSED = 2


class CliError(Exception):
    """A failure explained in one line; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from error


# --------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------


def _command_build(args: argparse.Namespace) -> int:
    # Settings are environment variables read when the Dagster definitions load: set them first.
    os.environ[settings.SOURCE_ENV] = args.source
    if args.snapshot_dir:
        os.environ[settings.SNAPSHOT_DIR_ENV] = str(Path(args.snapshot_dir).resolve())
    if args.warehouse:
        os.environ[settings.WAREHOUSE_PATH_ENV] = str(Path(args.warehouse).resolve())
    from warehouse import publish

    if args.new_warehouse:
        # The publish step's shrink guard reads it: a new warehouse may hold less than the copy.
        os.environ[publish.REBUILD_ENV] = "1"
    else:
        refusal = publish.new_warehouse_refusal(
            settings.warehouse_path(), settings.published_path()
        )
        if refusal:
            raise CliError(f"refused: {refusal}.")
    from orchestration.build import default_window, run_refresh
    from orchestration.partitions import HISTORY_START_ENV, history_start
    from warehouse.sources.base import SourceDataError

    try:
        first_day, last_day = default_window(args.source)
    except SourceDataError as error:
        raise CliError(f"{one_line(str(error))}; fix or replace that file, or point --snapshot-dir "
                       "at a complete snapshot.") from error
    first_day, last_day = args.start or first_day, args.end or last_day
    problem = build_window_problem(first_day, last_day, date.fromisoformat(history_start()),
                                   HISTORY_START_ENV)
    if problem:
        raise CliError(problem, EXIT_REFUSED)
    print(
        f"Building {settings.warehouse_path()} from {args.source} for {first_day}..{last_day}",
        flush=True,
    )
    terminal = sys.stderr
    progress = None if args.quiet else (lambda line: print(line, file=terminal, flush=True))
    # dbt's and Dagster's own log lines (tracebacks included) go to a file: the terminal gets one
    # progress line per step, a failed step's with its error. --debug leaves Dagster's on stderr.
    log_path = settings.warehouse_path().parent / "logs" / f"build-{datetime.now():%Y%m%d-%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log, redirect_stdout(log), \
            redirect_stderr(terminal if args.debug else log):
        result = run_refresh(first_day, last_day, progress=progress)
    print(f"Build log (dbt output): {log_path}")
    if not result.success:
        print(f"Build failed in: {', '.join(result.failed_steps) or 'unknown step'} "
              f"(run {result.run_id}); the published copy was not changed; the error is in "
              f"{log_path}", file=sys.stderr)
        return 1
    from warehouse.summary import print_build_summary

    manifest = publish.read_manifest(settings.published_path()) or {}
    if manifest.get("run_id") != result.run_id:
        print(f"The run did not publish: readers still see {settings.published_path()} as it was",
              file=sys.stderr)
        return 1
    print_build_summary(settings.published_path())
    print(f"Published the read-only copy every reader opens: {settings.published_path()}")
    return 0


def build_window_problem(
    first_day: date, last_day: date, history_start: date, history_start_env: str
) -> str | None:
    """What is wrong with a build window, with the fix, or None."""
    if last_day < first_day:
        return (f"--end {last_day} is before --start {first_day}; give an end on or after the "
                "start.")
    if first_day < history_start:
        return (f"--start {first_day} is before the history start {history_start}; start on or "
                f"after it, or set {history_start_env}={first_day} to reach back further.")
    return None


def _command_event(args: argparse.Namespace) -> int:
    from warehouse.reports import UnknownEventError, event_impact, is_date, render_event

    if is_date(args.event):
        _date(args.event)
    with published_connection(args) as connection:
        try:
            impact = event_impact(connection, args.event)
        except UnknownEventError as error:
            raise CliError(str(error)) from error
    print(render_event(impact, top=args.top or None))
    return 0


# --------------------------------------------------------------------------------------------
# Reading the published copy (sql, status; `event` slots in the same way)
# --------------------------------------------------------------------------------------------


def _published_path(args: argparse.Namespace) -> Path:
    from warehouse import publish

    return publish.stable_path(args.published) if args.published else settings.published_path()


@contextmanager
def published_connection(args: argparse.Namespace) -> Iterator[Any]:
    """The published copy, opened read-only; its absence or a lock becomes a one-line CliError."""
    from warehouse import publish

    try:
        connection = publish.open_published(_published_path(args))
    except (publish.NotPublishedError, publish.PublishedUnavailableError) as error:
        raise CliError(str(error)) from error
    try:
        # Nothing a query does may install anything, read or write a file other than the copy,
        # reach the network, or change these settings back.
        connection.execute("SET autoinstall_known_extensions = false")
        connection.execute("SET allow_community_extensions = false")
        if not getattr(args, "allow_files", False):
            connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        yield connection
    finally:
        connection.close()


_READ_ONLY_HELP = (
    "`sql` runs read-only queries on the published copy: SELECT, WITH, FROM, VALUES, SHOW, "
    "DESCRIBE, SUMMARIZE, PIVOT and EXPLAIN of those"
)
_EXPLAIN_PREFIX = re.compile(
    r"^\s*explain\s+(?:analy[sz]e\s+)?(?:\([^)]*\)\s*)?", re.IGNORECASE | re.DOTALL
)
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_PIVOT_KEYWORD = re.compile(r"^(?:un)?pivot(?:_wider|_longer)?\b", re.IGNORECASE)


def read_only_statements(query: str) -> list[str]:
    """The statements of ``query`` when every one only reads; raises CliError otherwise.

    Statement types come from DuckDB's own parser, not from pattern matching: anything but a
    query is refused, including the statements a read-only connection would still run because
    they write elsewhere (ATTACH, COPY ... TO, EXPORT, INSTALL, LOAD, SET, PRAGMA, CALL)."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as error:
        raise CliError(one_line(str(error))) from error
    if not statements:
        raise CliError("No SQL statement given.", EXIT_REFUSED)
    texts = []
    for statement in statements:
        try:
            kind = statement.type.name
        except ValueError:  # a statement type this duckdb's Python binding cannot name
            kind = "UNKNOWN"
        refusal = _refusal(kind, statement.query)
        if refusal:
            raise CliError(f"Refused: {refusal} is not a read-only query. {_READ_ONLY_HELP}. The "
                           "warehouse changes only through a refresh (`market-warehouse build` or "
                           "the nightly run).", EXIT_REFUSED)
        texts.append(statement.query)
    return texts


def _refusal(kind: str, text: str) -> str | None:
    """Why a statement is refused (its kind, as a phrase), or None when it only reads."""
    import duckdb

    if kind == "SELECT":
        return None
    if kind == "EXPLAIN":
        inner = _EXPLAIN_PREFIX.sub("", _LEADING_COMMENTS.sub("", text), count=1)
        try:
            explained = duckdb.extract_statements(inner)
            inner_kind = explained[0].type.name if len(explained) == 1 else None
        except (duckdb.Error, ValueError):
            inner_kind = None
        if inner_kind in ("SELECT", "MULTI") and _refusal(inner_kind, explained[0].query) is None:
            return None
        return "EXPLAIN of a statement that is not a query"
    if kind == "MULTI" and _PIVOT_KEYWORD.match(_LEADING_COMMENTS.sub("", text)):
        return None  # PIVOT expands into several statements; it only reads
    return f"{kind.replace('_', ' ')} statement"


def _command_sql(args: argparse.Namespace) -> int:
    query = sys.stdin.read() if args.query == "-" else args.query
    statements = read_only_statements(query)
    import duckdb

    max_rows = None if args.format != "table" or args.max_rows <= 0 else args.max_rows
    with published_connection(args) as connection:
        for position, statement in enumerate(statements):
            try:
                cursor = connection.execute(statement)
                columns = [column[0] for column in cursor.description or ()]
                rows = cursor.fetchall() if max_rows is None else cursor.fetchmany(max_rows + 1)
            except duckdb.PermissionException as error:
                raise CliError(f"Refused: {one_line(str(error))}. `sql` reads the published copy "
                               "only; pass --allow-files to let a query read local files and "
                               "URLs.", EXIT_REFUSED) from error
            except duckdb.Error as error:
                raise CliError(one_line(str(error))) from error
            truncated = max_rows is not None and len(rows) > max_rows
            rows = rows[:max_rows] if truncated else rows
            if position:
                sys.stdout.write("\n")
            sys.stdout.write(render(args.format, columns, rows))
            if args.format == "table":
                shown = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
                note = (f"first {shown} shown; raise --max-rows or use --format csv for all"
                        if truncated else shown)
                sys.stdout.write(f"({note})\n")
    return 0


def one_line(message: str) -> str:
    """DuckDB's error message on one line: its lines without the caret diagram under the query."""
    kept = [
        line.strip()
        for line in message.splitlines()
        if line.strip() and not line.startswith("LINE ") and set(line.strip()) != {"^"}
    ]
    return " ".join(kept) or message.strip()


# --------------------------------------------------------------------------------------------
# status
# --------------------------------------------------------------------------------------------

STATUS_SCHEMAS = ("raw", "marts", "quality")
ANOMALY_TABLE = ("quality", "price_anomalies")
# The column that dates a table's rows, by preference; else its first DATE column.
DATE_COLUMNS = (
    "trade_date", "session_date", "rate_date", "event_date", "action_date", "as_of_date",
    "period_end", "date", "partition_start",
)


def _command_status(args: argparse.Namespace) -> int:
    from warehouse import publish

    path = _published_path(args)
    with published_connection(args) as connection:
        # The manifest of the copy this connection reads, not of one published since it opened.
        manifest = publish.manifest_of_connection(connection) or {}
        tables = table_overview(connection, STATUS_SCHEMAS)
        last_load = latest_load_summary(connection)
        anomalies = open_anomalies(connection)
    dagster_run = _latest_dagster_run() if os.environ.get("DAGSTER_HOME") else None
    sys.stdout.write(render_status(path, manifest, last_load, anomalies, tables, dagster_run))
    return 0


def table_overview(connection: Any, schemas: Sequence[str]) -> list[tuple[str, int, Any, Any]]:
    """(schema.table, rows, first date, last date) of every table in ``schemas``."""
    placeholders = ", ".join("?" for _ in schemas)
    found = connection.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        f"WHERE database_name = current_database() AND schema_name IN ({placeholders}) "
        "ORDER BY list_position(?, schema_name), table_name",
        [*schemas, list(schemas)],
    ).fetchall()
    overview = []
    for schema, table in found:
        qualified = f"{_identifier(schema)}.{_identifier(table)}"
        column = _date_column(connection, schema, table)
        if column is None:
            rows, first, last = connection.execute(f"SELECT count(*), NULL, NULL FROM {qualified}").fetchone()
        else:
            rows, first, last = connection.execute(
                f"SELECT count(*), min({_identifier(column)}), max({_identifier(column)}) FROM {qualified}"
            ).fetchone()
        overview.append((f"{schema}.{table}", int(rows), first, last))
    return overview


def _date_column(connection: Any, schema: str, table: str) -> str | None:
    dated = [
        name
        for name, in connection.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ? AND data_type = 'DATE' ORDER BY column_index",
            [schema, table],
        ).fetchall()
    ]
    preferred = [name for name in DATE_COLUMNS if name in dated]
    return (preferred or dated or [None])[0]


def latest_load_summary(connection: Any) -> dict[str, Any] | None:
    """The last run recorded in raw.load_log: its window, steps, tickers and rows; None when the
    table is absent or empty."""
    import duckdb

    if not _table_exists(connection, "raw", "load_log"):
        return None
    try:
        row = connection.execute(
            """
            WITH last_run AS (
                SELECT run_id FROM raw.load_log ORDER BY finished_at DESC NULLS LAST LIMIT 1
            )
            SELECT run_id, min(started_at), max(finished_at), min(partition_start),
                   max(partition_end), count(*), sum(tickers_failed), sum(rows_inserted),
                   sum(rows_changed)
            FROM raw.load_log WHERE run_id IN (SELECT run_id FROM last_run)
            GROUP BY run_id
            """
        ).fetchone()
    except duckdb.Error:
        return None
    if row is None:
        return None
    keys = ("run_id", "started_at", "finished_at", "first_day", "last_day", "loads",
            "tickers_failed", "rows_inserted", "rows_changed")
    return dict(zip(keys, row, strict=True))


def open_anomalies(connection: Any) -> int | None:
    """Open price anomalies, or None when the quality checks have not created their table. A row
    is open unless a `status` column says otherwise or a `resolved` column is true."""
    import duckdb

    schema, table = ANOMALY_TABLE
    if not _table_exists(connection, schema, table):
        return None
    columns = {
        name.lower()
        for name, in connection.execute(
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
        return int(connection.execute(
            f"SELECT count(*) FROM {_identifier(schema)}.{_identifier(table)} WHERE {condition}"
        ).fetchone()[0])
    except duckdb.Error:
        return None


def _table_exists(connection: Any, schema: str, table: str) -> bool:
    return bool(connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchone()[0])


def _latest_dagster_run() -> dict[str, Any] | None:
    """The latest nightly run recorded in $DAGSTER_HOME (best effort: None on any problem)."""
    try:
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
    from datetime import timezone

    return datetime.fromtimestamp(value, tz=timezone.utc) if value else None


def render_status(
    path: Path,
    manifest: dict[str, Any],
    last_load: dict[str, Any] | None,
    anomalies: int | None,
    tables: Sequence[tuple[str, int, Any, Any]],
    dagster_run: dict[str, Any] | None = None,
) -> str:
    """The `status` report: pure, from what the published copy and its manifest say."""
    lines = [f"Published copy:  {path}"
             + (f" (version {manifest['version']})" if manifest.get("version") else "")]
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
            f"{_int_text(last_load['rows_inserted'])}, changed {_int_text(last_load['rows_changed'])}; "
            f"tickers failed {_int_text(last_load['tickers_failed'])}"
        )
    else:
        lines.append("Last load:       none recorded (raw.load_log is absent or empty)")
    if dagster_run:
        line = (f"Latest run:      {dagster_run['run_id']} {dagster_run['status']}"
                f" (started {_timestamp_text(dagster_run['started_at'])})")
        published_at = _parse_timestamp(manifest.get("published_at"))
        started = dagster_run.get("started_at")
        if dagster_run["status"] != "SUCCESS" and published_at and started and started > published_at:
            line += "; readers still see the copy published before it"
        lines.append(line)
    anomaly_table = ".".join(ANOMALY_TABLE)
    lines.append(
        f"Open anomalies:  {anomalies} ({anomaly_table})" if anomalies is not None
        else f"Open anomalies:  not computed yet ({anomaly_table} does not exist)"
    )
    lines.append("")
    lines.append(format_table(
        ["table", "rows", "first date", "last date"],
        [(name, rows, first if first is not None else "-", last if last is not None else "-")
         for name, rows, first, last in tables],
    ).rstrip("\n"))
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


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------


def _reader_options() -> argparse.ArgumentParser:
    """Options shared by every command that reads the published copy."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--published",
        metavar="PATH",
        help=f"published DuckDB copy to read (default: ${settings.PUBLISHED_PATH_ENV} or "
             "<warehouse dir>/published/<warehouse file name>)",
    )
    return options


_DEBUG_HELP = "on an error, print the Python traceback (and, for build, Dagster's log) too"


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes, also after its name (``market-warehouse build --debug``)."""
    options = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not overwrite `market-warehouse --debug build`.
    options.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP)
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="market-warehouse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()
    reader = _reader_options()

    build = commands.add_parser(
        "build", parents=[common],
        help="ingest, build the dbt models, run the checks and publish the read-only copy",
    )
    build.add_argument("--source", choices=("snapshot", "yfinance"), default=settings.source_kind())
    build.add_argument("--snapshot-dir", help="directory of snapshot files (default: bundled)")
    build.add_argument("--warehouse", help=f"DuckDB file (default: ${settings.WAREHOUSE_PATH_ENV} "
                                           f"or {settings.DEFAULT_WAREHOUSE_PATH})")
    build.add_argument("--start", type=_date, help="first trading date (default: history start)")
    build.add_argument("--end", type=_date, help="last trading date (default: snapshot end/today)")
    build.add_argument("--quiet", action="store_true", help="no per-step progress on stderr")
    build.add_argument(
        "--new-warehouse", action="store_true",
        help="build even though the warehouse file does not exist while a copy is published, "
             "and publish the result even if its tables hold far fewer rows than that copy "
             "(a deliberate rebuild); without it such a build is refused",
    )
    build.set_defaults(handler=_command_build)

    sql = commands.add_parser(
        "sql", parents=[common, reader], help="run a read-only SQL query on the published copy",
        description="Runs read-only SQL on the published copy of the warehouse, opened read-only "
                    "(it never blocks or sees a half-done refresh). Statements that write "
                    "(INSERT, CREATE, COPY, ATTACH, INSTALL, SET, PRAGMA...) are refused, and "
                    "so is reading any other file or URL unless --allow-files.",
    )
    sql.add_argument("query", help='SQL text, e.g. "SELECT * FROM marts.dim_security"; - reads stdin')
    sql.add_argument("--format", choices=OUTPUT_FORMATS, default="table", help="output format")
    sql.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS,
                     help=f"rows the table format prints (default {DEFAULT_MAX_ROWS}; 0: all); "
                          "csv and json print all rows")
    sql.add_argument("--allow-files", action="store_true",
                     help="let the query read local files and URLs (read_csv, read_parquet, glob...)"
                          "; off by default, so a query sees the published copy only")
    sql.set_defaults(handler=_command_sql)

    status = commands.add_parser(
        "status", parents=[common, reader],
        help="last refresh, row counts and date ranges, open anomalies (from the published copy)",
    )
    status.set_defaults(handler=_command_status)

    event = commands.add_parser(
        "event", parents=[common, reader], help="an event's impact by security and by sector",
        description="What an event did to every equity and sector: day-0 return, abnormal returns "
                    "(market model CARs) and USD market value change. EVENT is an event_id of "
                    "the events seed (e.g. deepseek_selloff) or any date, YYYY-MM-DD.",
    )
    event.add_argument("event", help="event_id (e.g. deepseek_selloff) or a date (YYYY-MM-DD)")
    event.add_argument("--top", type=int, default=0, help="securities to show (default: all)")
    event.set_defaults(handler=_command_event)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that name a problem the user can fix (a bad universe or snapshot file, a locked or
    damaged warehouse, a refused publish): one line, no traceback."""
    from warehouse.calendars import CalendarRangeError
    from warehouse.publish import PublishError
    from warehouse.sources.base import SourceError
    from warehouse.storage.errors import WarehouseError
    from warehouse.universe import UniverseError

    return CliError, CalendarRangeError, PublishError, SourceError, UniverseError, WarehouseError


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:  # `market-warehouse sql ... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as error:
        if args.debug or not isinstance(error, _user_errors()):
            raise
        hint = "" if isinstance(error, CliError) else " (--debug prints the traceback)"
        print(f"market-warehouse {args.command}: {one_line(str(error))}{hint}", file=sys.stderr)
        return error.exit_code if isinstance(error, CliError) else EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
