"""The Dagster pool of every step that opens the warehouse file.

DuckDB admits one writing process per file; orchestration/dagster.yaml limits this pool to one run
at a time (run granularity), so two runs never write from two processes at once. A step that only
reads is in it too: a reader open beside a writer in another process fails on the lock."""

WAREHOUSE_POOL = "warehouse"
