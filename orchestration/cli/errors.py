"""How a command fails: one line for the user, and the exit code that says what kind of failure."""

from __future__ import annotations

# Exit codes: 1 the command failed (bad SQL, nothing published...), 2 usage or refused statement.
EXIT_FAILED = 1
EXIT_REFUSED = 2


class CliError(Exception):
    """A failure explained in one line; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(message: str) -> str:
    """DuckDB's error message on one line: its lines without the caret diagram under the query."""
    kept = [
        line.strip()
        for line in message.splitlines()
        if line.strip() and not line.startswith("LINE ") and set(line.strip()) != {"^"}
    ]
    return " ".join(kept) or message.strip()
