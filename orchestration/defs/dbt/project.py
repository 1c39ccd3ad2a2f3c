"""The dbt project as Dagster sees it. Importing this module runs nothing: the manifest the dbt
assets are defined from is prepared by ``prepared_manifest()`` when the definitions are built, so a
fresh clone loads under `dg dev`, `dagster asset materialize`, the CLI and pytest alike."""

import functools
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from warehouse import settings

dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    profiles_dir=settings.DBT_PROJECT_DIR,
)


def dbt_executable() -> str:
    """The venv's dbt when Dagster runs without the venv activated, else whatever PATH has."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def dbt_cli() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


def parse_dbt_project() -> Path:
    """Writes target/manifest.json, which the dbt assets are defined from."""
    dbt_cli().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return dbt_project.manifest_path


@functools.cache
def prepared_manifest() -> Path:
    """The manifest, prepared once per process: re-parsed under `dg dev` (dagster-dbt's
    prepare_if_dev, so edited models show up; it does nothing elsewhere, and tests parse the
    project once per session in conftest.py), parsed when missing (a fresh clone)."""
    dbt_project.prepare_if_dev()
    if not dbt_project.manifest_path.exists():
        parse_dbt_project()
    return dbt_project.manifest_path
