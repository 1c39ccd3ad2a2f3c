"""`market-warehouse event`: what an event, seeded or any date, did to every security and
sector."""

from __future__ import annotations

import argparse
from datetime import date

from orchestration.cli.errors import CliError
from orchestration.cli.published import published_connection


def run_event(args: argparse.Namespace) -> int:
    # warehouse.reports brings pandas: imported by the one command that needs it.
    from warehouse.reports import UnknownEventError, event_impact, is_date, render_event

    if is_date(args.event):
        try:
            date.fromisoformat(args.event)
        except ValueError as error:
            raise CliError(f"{args.event!r} is not a date (YYYY-MM-DD)") from error
    with published_connection(args) as connection:
        try:
            impact = event_impact(connection, args.event)
        except UnknownEventError as error:
            raise CliError(str(error)) from error
    print(render_event(impact, top=args.top or None))
    return 0
