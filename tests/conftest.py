"""Shared fixtures. The dbt manifest is parsed once per session before any test imports the
Dagster definitions (DbtProject.prepare_if_dev does nothing under pytest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from warehouse import settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    # Tests never record runs in the user's Dagster instance.
    os.environ.pop("DAGSTER_HOME", None)
    from orchestration.defs.dbt.project import parse_dbt_project

    parse_dbt_project()


@pytest.fixture
def warehouse_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty temporary warehouse that every setting points at."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(path))
    return path


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole nightly job run once over the bundled snapshot into a temporary warehouse:
    ingestion, dbt build and checks, exactly as `make demo` does."""
    from orchestration.build import default_window, run_refresh

    path = tmp_path_factory.mktemp("built") / "warehouse.duckdb"
    with settings.environment(
        {settings.WAREHOUSE_PATH_ENV: str(path), settings.SOURCE_ENV: "snapshot"}
    ):
        result = run_refresh(*default_window("snapshot"))
    assert result.success, f"the build failed in {result.failed_steps}"
    return path
