"""The `market-warehouse` console script: runs one command; an error the user can fix is one
line on stderr, anything else a traceback."""

from __future__ import annotations

import os
import sys

from orchestration.cli.errors import EXIT_FAILED, CliError, one_line
from orchestration.cli.parser import build_parser


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
