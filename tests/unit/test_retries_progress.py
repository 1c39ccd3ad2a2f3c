"""Progress lines of `market-warehouse build` show the project's one-line message for a failed or
retried step, not the library error underneath it."""

import dagster as dg
import duckdb
from dagster._utils.error import SerializableErrorInfo

from orchestration.build import project_error_names, shown_error, with_progress
from warehouse.sources.base import SourceDataError


def _info(cls_name: str, message: str, cause: SerializableErrorInfo | None = None):
    return SerializableErrorInfo(message, [], cls_name, cause=cause)


def test_the_outermost_project_error_is_shown() -> None:
    duckdb_error = _info("IOException", "IO Error: Could not set lock on file ...")
    message = "WarehouseLockedError: Warehouse w is locked"
    locked = _info("WarehouseLockedError", message, duckdb_error)
    wrapper = _info("DagsterExecutionStepExecutionError", "Error occurred while executing", locked)
    assert shown_error(wrapper) == message


def test_without_a_project_error_the_innermost_cause_is_shown() -> None:
    cause = _info("ValueError", "ValueError: no data for 2024-01-02")
    assert shown_error(_info("DagsterExecutionStepExecutionError", "Error", cause)) == (
        "ValueError: no data for 2024-01-02"
    )
    assert shown_error(None) is None


def test_project_errors_include_those_of_every_project_module() -> None:
    names = project_error_names()
    assert {"SourceDataError", "WarehouseLockedError", "WarehouseBusyError"} <= names
    assert "IOException" not in names and "ValueError" not in names


def test_a_failed_step_reports_the_project_message() -> None:
    @dg.asset
    def prices() -> None:
        try:
            raise duckdb.ConversionException("Conversion Error: Could not convert string 'n/a'")
        except duckdb.Error as error:
            raise SourceDataError("snapshot file prices.csv cannot be parsed: row 12") from error

    job = dg.Definitions(
        assets=[prices], jobs=[dg.define_asset_job("job", executor_def=dg.in_process_executor)]
    ).resolve_job_def("job")
    lines: list[str] = []
    job, run_config = with_progress(job, lines.append)
    assert not job.execute_in_process(run_config=run_config, raise_on_error=False).success
    assert lines[-1].startswith("  FAILED   prices")
    assert "prices.csv cannot be parsed: row 12" in lines[-1]
    assert "Conversion Error" not in lines[-1]
