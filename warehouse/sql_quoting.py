"""Quoting names and strings into DuckDB SQL text: the one implementation every module uses.

Only for what parameters cannot carry (table, column and catalog names, ATTACH paths, the text
of a generated statement); values a query compares against go in as ``?`` / ``$name``
parameters."""

from __future__ import annotations


def ident(name: str) -> str:
    """A name as a double-quoted identifier, inner double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string as a single-quoted SQL literal, inner single quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def qualified(dotted: str) -> str:
    """``schema.name`` as two quoted identifiers, split at the first dot (a name may hold dots)."""
    schema, _, name = dotted.partition(".")
    return f"{ident(schema)}.{ident(name)}"
