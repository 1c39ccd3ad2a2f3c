import dagster as dg

from orchestration.defs.dbt.project import dbt_cli
from orchestration.resources import MarketDataResource, UniverseResource, WarehouseResource
from warehouse import settings


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse_path())),
            "universe": UniverseResource(path=str(settings.universe_path())),
            "market_data": MarketDataResource(
                source=settings.source_kind(), snapshot_dir=str(settings.snapshot_dir())
            ),
            "dbt": dbt_cli(),
        },
        # Materializations launched from the UI also run in one process: DuckDB admits one writer.
        executor=dg.in_process_executor,
    )
