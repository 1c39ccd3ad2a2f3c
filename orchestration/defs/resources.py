import dagster as dg

from orchestration.build import job_loggers
from orchestration.defs.dbt.project import dbt_cli
from orchestration.resources import (
    BUILD_LOCK_TIMEOUT_ENV,
    LOCK_TIMEOUT_ENV,
    MarketDataResource,
    UniverseResource,
    WarehouseResource,
    seconds_setting,
)
from warehouse import settings


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            # The warehouse path, source and snapshot directory are read from the environment
            # when a run uses them (see the resources), so `make demo`'s run and the UI share
            # one job snapshot. The lock timeouts are only ever set for tests.
            "warehouse": WarehouseResource(
                lock_timeout_seconds=seconds_setting(LOCK_TIMEOUT_ENV, 60.0),
                build_lock_timeout_seconds=seconds_setting(BUILD_LOCK_TIMEOUT_ENV, 3600.0),
            ),
            "universe": UniverseResource(path=str(settings.universe_path())),
            "market_data": MarketDataResource(),
            "dbt": dbt_cli(),
        },
        # Materializations launched from the UI also run in one process: DuckDB admits one writer.
        executor=dg.in_process_executor,
        # Part of every job, so `market-warehouse build` runs the job exactly as the UI has it;
        # only the build's run config turns the progress logger on.
        loggers=job_loggers(),
    )
