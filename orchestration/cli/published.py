"""The published copy as the reading commands open it: read-only, and unable to reach anything
else."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration.cli.errors import CliError
from warehouse import publish, settings


def published_path(args: argparse.Namespace) -> Path:
    """The copy ``--published`` names, else the one the settings give."""
    return publish.stable_path(args.published) if args.published else settings.published_path()


@contextmanager
def published_connection(args: argparse.Namespace) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published copy, opened read-only; its absence or a lock becomes a one-line CliError."""
    try:
        connection = publish.open_published(published_path(args))
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
