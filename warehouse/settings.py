"""Where the warehouse lives and where its data comes from: one setting each, shared by the Python
assets, dbt (through ``dbt_project/profiles.yml``) and the command-line interface."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent

WAREHOUSE_PATH_ENV = "MARKET_WAREHOUSE_DB"
SNAPSHOT_DIR_ENV = "MARKET_WAREHOUSE_SNAPSHOT_DIR"
SOURCE_ENV = "MARKET_WAREHOUSE_SOURCE"
UNIVERSE_PATH_ENV = "MARKET_WAREHOUSE_UNIVERSE"
PUBLISHED_PATH_ENV = "MARKET_WAREHOUSE_PUBLISHED_DB"
REPORTS_DIR_ENV = "MARKET_WAREHOUSE_REPORTS_DIR"
MEMORY_LIMIT_ENV = "MARKET_WAREHOUSE_MEMORY_LIMIT"
# DuckDB's own default is 80% of the machine's RAM, which a large rebuild fills; past this limit it
# spills to disk instead. dbt_project/profiles.yml reads the same variable with the same default.
DEFAULT_MEMORY_LIMIT = "1GB"

DEFAULT_WAREHOUSE_PATH = PACKAGE_DIR / "market_warehouse.duckdb"
DEFAULT_SNAPSHOT_DIR = PACKAGE_DIR / "snapshot"
DEFAULT_UNIVERSE_PATH = PACKAGE_DIR / "universe.csv"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def _absolute(value: str | os.PathLike[str]) -> Path:
    return Path(value).expanduser().resolve()


def warehouse_path() -> Path:
    """The DuckDB file every writer and reader uses, always absolute so dbt (which runs inside
    ``dbt_project/``) and the Python assets can never disagree about it."""
    return _absolute(os.environ.get(WAREHOUSE_PATH_ENV) or DEFAULT_WAREHOUSE_PATH)


def published_path(warehouse: str | os.PathLike[str] | None = None) -> Path:
    """The read-only copy every reader opens (see ``warehouse/publish.py``): the environment
    variable when set, else ``<warehouse dir>/published/<warehouse file name>``. The copy keeps the
    warehouse's file name because DuckDB names a database after its file, and views and macros
    built by dbt refer to their tables through that name."""
    override = os.environ.get(PUBLISHED_PATH_ENV)
    if override:
        # Not resolved itself: the path is a link to the current version, and readers need the link.
        link = Path(override).expanduser()
        return _absolute(link.parent) / link.name
    source = _absolute(warehouse) if warehouse is not None else warehouse_path()
    return source.parent / "published" / source.name


def reports_dir(warehouse: str | os.PathLike[str] | None = None) -> Path:
    """Where the event charts are written: the environment variable when set, else
    ``<warehouse dir>/reports``, so a temporary warehouse keeps its charts next to it."""
    override = os.environ.get(REPORTS_DIR_ENV)
    if override:
        return _absolute(override)
    source = _absolute(warehouse) if warehouse is not None else warehouse_path()
    return source.parent / "reports"


def snapshot_dir() -> Path:
    return _absolute(os.environ.get(SNAPSHOT_DIR_ENV) or DEFAULT_SNAPSHOT_DIR)


def universe_path() -> Path:
    return _absolute(os.environ.get(UNIVERSE_PATH_ENV) or DEFAULT_UNIVERSE_PATH)


def memory_limit() -> str:
    """DuckDB's memory limit for every connection that writes the warehouse (e.g. ``2GB``)."""
    return os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT


def source_kind() -> str:
    return os.environ.get(SOURCE_ENV) or "yfinance"


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Sets environment variables for a block and restores them afterwards: for settings a
    subprocess (dbt) copies when it starts, and for session-wide test fixtures."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
