"""`market-warehouse`, the command line: the top layer, above both ``warehouse`` (the library)
and the Dagster code location, so it may import either and neither imports it.

- ``main``: the console script; runs a command, turns a user's error into one line.
- ``parser``: the commands and their options.
- ``errors``: CliError, the exit codes, DuckDB's messages on one line.
- ``published``: the published copy, opened read-only and locked down for a query.
- ``sql_guard``: which SQL ``sql`` runs (queries only, by DuckDB's own parser).
- ``sql_command``, ``status``, ``event_command``: the reading commands.
- ``build_command``: ``build``, which runs the nightly job through ``orchestration.build``.
"""
