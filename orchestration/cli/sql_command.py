"""`market-warehouse sql`: read-only SQL on the published copy, printed as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import sys

import duckdb

from orchestration.cli.errors import EXIT_REFUSED, CliError, one_line
from orchestration.cli.published import published_connection
from orchestration.cli.sql_guard import read_only_statements
from warehouse.formatting import render

DEFAULT_MAX_ROWS = 200


def run_sql(args: argparse.Namespace) -> int:
    query = sys.stdin.read() if args.query == "-" else args.query
    statements = read_only_statements(query)
    max_rows = None if args.format != "table" or args.max_rows <= 0 else args.max_rows
    with published_connection(args) as connection:
        for position, statement in enumerate(statements):
            try:
                cursor = connection.execute(statement)
                columns = [column[0] for column in cursor.description or ()]
                rows = cursor.fetchall() if max_rows is None else cursor.fetchmany(max_rows + 1)
            except duckdb.PermissionException as error:
                raise CliError(
                    f"Refused: {one_line(str(error))}. `sql` reads the published copy "
                    "only; pass --allow-files to let a query read local files and "
                    "URLs.",
                    EXIT_REFUSED,
                ) from error
            except duckdb.Error as error:
                raise CliError(one_line(str(error))) from error
            truncated = max_rows is not None and len(rows) > max_rows
            rows = rows[:max_rows] if truncated else rows
            if position:
                sys.stdout.write("\n")
            sys.stdout.write(render(args.format, columns, rows))
            if args.format == "table":
                shown = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
                note = (
                    f"first {shown} shown; raise --max-rows or use --format csv for all"
                    if truncated
                    else shown
                )
                sys.stdout.write(f"({note})\n")
    return 0
