"""Which SQL `market-warehouse sql` runs: queries only, judged by DuckDB's own parser."""

from __future__ import annotations

import re

import duckdb

from orchestration.cli.errors import EXIT_REFUSED, CliError, one_line

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
            raise CliError(
                f"Refused: {refusal} is not a read-only query. {_READ_ONLY_HELP}. The "
                "warehouse changes only through a refresh (`market-warehouse build` or "
                "the nightly run).",
                EXIT_REFUSED,
            )
        texts.append(statement.query)
    return texts


def _refusal(kind: str, text: str) -> str | None:
    """Why a statement is refused (its kind, as a phrase), or None when it only reads."""
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
