"""The commands of `market-warehouse` and their options."""

from __future__ import annotations

import argparse
from datetime import date

from orchestration.cli.build_command import run_build
from orchestration.cli.event_command import run_event
from orchestration.cli.sql_command import DEFAULT_MAX_ROWS, run_sql
from orchestration.cli.status import run_status
from warehouse import settings
from warehouse.formatting import OUTPUT_FORMATS

DESCRIPTION = """`market-warehouse`: build the warehouse and look into it from a terminal.

`build` writes the warehouse (through the same Dagster job as the nightly run) and publishes its
read-only copy; every other command reads that published copy, never the warehouse file, so it
can run at any time, even during a refresh."""
_DEBUG_HELP = "on an error, print the Python traceback (and, for build, Dagster's log) too"


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from error


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


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes, also after its name (``market-warehouse build --debug``)."""
    options = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not overwrite `market-warehouse --debug build`.
    options.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="market-warehouse",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()
    reader = _reader_options()

    build = commands.add_parser(
        "build",
        parents=[common],
        help="ingest, build the dbt models, run the checks and publish the read-only copy",
    )
    build.add_argument("--source", choices=("snapshot", "yfinance"), default=settings.source_kind())
    build.add_argument("--snapshot-dir", help="directory of snapshot files (default: bundled)")
    build.add_argument(
        "--warehouse",
        help=f"DuckDB file (default: ${settings.WAREHOUSE_PATH_ENV} "
        f"or {settings.DEFAULT_WAREHOUSE_PATH})",
    )
    build.add_argument("--start", type=_date, help="first trading date (default: history start)")
    build.add_argument("--end", type=_date, help="last trading date (default: snapshot end/today)")
    build.add_argument("--quiet", action="store_true", help="no per-step progress on stderr")
    build.add_argument(
        "--new-warehouse",
        action="store_true",
        help="build even though the warehouse file does not exist while a copy is published, "
        "and publish the result even if its tables hold far fewer rows than that copy "
        "(a deliberate rebuild); without it such a build is refused",
    )
    build.set_defaults(handler=run_build)

    sql = commands.add_parser(
        "sql",
        parents=[common, reader],
        help="run a read-only SQL query on the published copy",
        description="Runs read-only SQL on the published copy of the warehouse, opened read-only "
        "(it never blocks or sees a half-done refresh). Statements that write "
        "(INSERT, CREATE, COPY, ATTACH, INSTALL, SET, PRAGMA...) are refused, and "
        "so is reading any other file or URL unless --allow-files.",
    )
    sql.add_argument(
        "query", help='SQL text, e.g. "SELECT * FROM marts.dim_security"; - reads stdin'
    )
    sql.add_argument("--format", choices=OUTPUT_FORMATS, default="table", help="output format")
    sql.add_argument(
        "--max-rows",
        type=int,
        default=DEFAULT_MAX_ROWS,
        help=f"rows the table format prints (default {DEFAULT_MAX_ROWS}; 0: all); "
        "csv and json print all rows",
    )
    sql.add_argument(
        "--allow-files",
        action="store_true",
        help="let the query read local files and URLs (read_csv, read_parquet, "
        "glob...); off by default, so a query sees the published copy only",
    )
    sql.set_defaults(handler=run_sql)

    status = commands.add_parser(
        "status",
        parents=[common, reader],
        help="last refresh, row counts and date ranges, open anomalies (from the published copy)",
    )
    status.set_defaults(handler=run_status)

    event = commands.add_parser(
        "event",
        parents=[common, reader],
        help="an event's impact by security and by sector",
        description="What an event did to every equity and sector: day-0 return, abnormal returns "
        "(market model CARs) and USD market value change. EVENT is an event_id of "
        "the events seed (e.g. deepseek_selloff) or any date, YYYY-MM-DD.",
    )
    event.add_argument("event", help="event_id (e.g. deepseek_selloff) or a date (YYYY-MM-DD)")
    event.add_argument("--top", type=int, default=0, help="securities to show (default: all)")
    event.set_defaults(handler=run_event)
    return parser
