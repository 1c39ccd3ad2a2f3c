"""The dbt step's helpers (failure messages, lock errors, test descriptions, group layout) and the
metadata helpers that make assets and checks read well in the UI."""

from __future__ import annotations

import graphlib
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from orchestration.defs.dbt.assets import (
    DbtFailure,
    dbt_test_description,
    descendants,
    failed_nodes,
    first_dbt_error,
    relation_of,
    sql_type,
)
from orchestration.metadata import day, markdown_text, percent, preview
from warehouse.storage import WarehouseLockedError

LOCK_ERROR = (
    'Runtime Error\n  IO Error: Could not set lock on file "/data/market_warehouse.duckdb": '
    "Conflicting lock is held in /usr/bin/duckdb (PID 4242). However, you would be able to open "
    "this database in read-only mode"
)


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def test_a_dbt_failure_names_its_nodes_and_first_error(tmp_path: Path) -> None:
    results = [
        {"unique_id": "model.market_warehouse.stg_daily_prices", "status": "success"},
        {
            "unique_id": "test.market_warehouse.not_null_x",
            "status": "fail",
            "message": "Got 3 results, configured to fail if != 0\nmore detail",
        },
        {
            "unique_id": "model.market_warehouse.fct_event_impact",
            "status": "error",
            "message": "Binder Error: column foo not found",
        },
    ]
    error = (
        "The dbt CLI process with command\n\n`dbt build`\n\nfailed with exit code `1`.\n\n"
        "Errors parsed from dbt logs:\n\nFailure in test not_null_x\nsecond line"
    )
    failure = DbtFailure(failed_nodes(results), first_dbt_error(error), tmp_path / "dbt.log")
    assert failure.first_error == "Failure in test not_null_x"
    assert failure.message == (
        "dbt build failed: test not_null_x: Got 3 results, configured to fail if != 0. "
        f"Also failed: model fct_event_impact. Full log: {tmp_path / 'dbt.log'}"
    )
    many = [
        (
            f"test.market_warehouse.t{index}.abc",
            "Runtime Error in test t (x.yml)\n  Catalog Error: Table raw.x does not exist",
        )
        for index in range(6)
    ]
    assert DbtFailure(many, "", tmp_path / "dbt.log").message == (
        "dbt build failed: test t0: Catalog Error: Table raw.x does not exist. "
        f"Also failed: test t1, test t2, test t3 and 2 more. Full log: {tmp_path / 'dbt.log'}"
    )
    assert DbtFailure([], "", tmp_path / "dbt.log").message.startswith(
        "dbt build failed: no error message."
    )
    assert failure.lock_error() is None


def test_dbt_failing_on_the_lock_becomes_the_projects_lock_error(tmp_path: Path) -> None:
    failure = DbtFailure(
        [], first_dbt_error(f"Errors parsed from dbt logs:\n{LOCK_ERROR}"), tmp_path / "dbt.log"
    )
    assert failure.first_error == "Runtime Error"
    # the holder is named in a later line of the error: every line is searched
    failure = DbtFailure(
        [("model.market_warehouse.stg_fx_rates", LOCK_ERROR)], "Runtime Error", tmp_path / "dbt.log"
    )
    locked = failure.lock_error()
    assert isinstance(locked, WarehouseLockedError)
    assert (locked.pid, locked.program) == (4242, "/usr/bin/duckdb")
    assert "Close that session" in str(locked)


def test_dbt_tests_are_described_in_words() -> None:
    assert dbt_test_description({"name": "t", "description": "Said in YAML."}) == "Said in YAML."
    singular = {
        "name": "nvda",
        "raw_code": "{{ config(tags=['story']) }}\n-- NVIDIA fell 17%\n"
        "-- on 2025-01-27.\nselect 1\n-- not this",
    }
    assert dbt_test_description(singular) == "NVIDIA fell 17% on 2025-01-27."
    generic = {
        "name": "not_null_fct_daily_returns_ticker",
        "column_name": "ticker",
        "test_metadata": {
            "name": "not_null",
            "kwargs": {"column_name": "ticker", "model": "{{ ref('x') }}"},
        },
        "config": {"severity": "warn", "where": "__refresh_window__"},
    }
    assert dbt_test_description(generic) == (
        "`ticker` is never null, on rows in the run's window. Severity WARN."
    )
    expression = {
        "name": "e",
        "column_name": "share",
        "test_metadata": {"name": "expression_is_true", "kwargs": {"expression": "share >= 0"}},
    }
    # inside backticks, so the markdown shows `>` as typed
    assert "(expression: `share >= 0`)" in dbt_test_description(expression)


def test_every_dbt_test_is_a_described_check(definitions: dg.Definitions) -> None:
    from orchestration.defs.dbt.assets import dbt_models

    specs = list(dbt_models.check_specs)
    assert specs and all(spec.description for spec in specs)
    attached = {spec.name: spec.asset_key.to_user_string() for spec in specs}
    # singular tests reading several models name the one they check (tests/_singular_tests.yml)
    assert attached["event_impact_covers_every_equity_and_etf"] == "marts/fct_event_impact"
    assert attached["deepseek_semiconductors_lose_most_usd"] == "marts/agg_event_sector_impact"


def test_dbt_assets_have_owners_tags_and_code_references(definitions: dg.Definitions) -> None:
    from orchestration.defs.dbt.assets import dbt_models

    for key in dbt_models.keys:
        spec = dbt_models.specs_by_key[key]
        assert spec.owners, key
        assert spec.tags.get("layer") == spec.group_name, key
        assert "dagster/code_references" in spec.metadata, key
    impact = dbt_models.specs_by_key[dg.AssetKey(["marts", "fct_event_impact"])]
    # `<measure>_<model>_<window>` survives the UI's markdown rendering, as code
    assert "`<measure>_<model>_<window>`" in (impact.description or "")


def test_the_collapsed_lineage_reads_left_to_right(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    edges = set()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        for parent in node.parent_keys:
            parent_group = graph.get(parent).group_name
            if parent_group != node.group_name:
                edges.add((parent_group, node.group_name))
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for parent_group, group in edges:
        sorter.add(group, parent_group)
    # raises CycleError when two groups feed each other: the layout then runs backwards
    order = list(sorter.static_order())
    column: dict[str, int] = {}  # the layout's column of a group: its longest path from a source
    for group in order:
        column[group] = max(
            (column[parent] + 1 for parent, child in edges if child == group), default=0
        )
    chain = ["ingest", "quality", "staging", "intermediate", "marts", "event_study"]
    assert [column[group] for group in chain] == sorted(column[group] for group in chain)
    assert len({column[group] for group in chain}) == len(chain)
    assert column["reports"] > column["event_study"] and column["publish"] > column["event_study"]


def test_descendants_follow_the_child_map() -> None:
    child_map = {
        "seed.events": ["model.a"],
        "model.a": ["model.b", "test.t"],
        "model.b": [],
        "model.c": ["model.a"],
    }
    assert descendants(child_map, ["seed.events"]) == {"model.a", "model.b", "test.t"}


def test_relations_and_types_read_as_duckdb_spells_them() -> None:
    assert relation_of({"dagster/table_name": "market_warehouse.marts.dim_security"}) == (
        '"marts"."dim_security"'
    )
    assert relation_of({}) is None
    assert sql_type("character varying(256)") == "VARCHAR"
    assert sql_type("DOUBLE") == "DOUBLE"


def test_markdown_text_keeps_angle_brackets_visible_outside_code() -> None:
    assert markdown_text("Written as <reports dir>/<event_id>.png, for 1 < 2") == (
        "Written as `<reports dir>/<event_id>.png`, for 1 &lt; 2"
    )
    assert markdown_text("naming: <measure>_<model>_<window>, models") == (
        "naming: `<measure>_<model>_<window>`, models"
    )
    assert markdown_text("`a<b>` and\n```sql\nselect 1 < 2\n```") == (
        "`a<b>` and\n```sql\nselect 1 < 2\n```"
    )


def test_returns_read_as_percentages_and_dates_as_dates() -> None:
    assert percent(0.133121628) == "13.3%"
    assert percent(None) is None and percent(float("nan")) is None
    assert day(pd.Timestamp("2025-06-12")) == "2025-06-12"
    assert day(datetime(2025, 6, 12, 0, 0)) == "2025-06-12"
    assert day(date(2025, 6, 12)) == "2025-06-12"
    frame = pd.DataFrame(
        {
            "ticker": ["ORCL", "NVDA"],
            "trade_date": pd.to_datetime(["2025-06-12", "2025-01-27"]),
            "daily_return": [0.133121628, None],
            "bars": [1, 2],
        }
    )
    table = preview(frame, percent_columns=["daily_return"])
    assert [record.data for record in table.value.records] == [
        {"ticker": "ORCL", "trade_date": "2025-06-12", "daily_return": "13.3%", "bars": 1},
        {"ticker": "NVDA", "trade_date": "2025-01-27", "daily_return": None, "bars": 2},
    ]
    assert [column.type for column in table.value.schema.columns] == [
        "string",
        "date",
        "percent",
        "int",
    ]


def test_the_event_chart_at_a_glance_fits_the_uis_inline_limit() -> None:
    from orchestration.defs.reports.inline import INLINE_MARKDOWN_LIMIT, inline_chart

    bars = [
        ("NVDA", -592.7),
        ("AVGO", -199.5),
        ("AAPL", 62.0),
        ("TSM", -153.4),
        ("GOOGL", -102.8),
        ("ORCL", -71.0),
        ("MSFT", -70.6),
        ("X", float("nan")),
    ]
    markdown = inline_chart("DeepSeek <sell-off>", bars)
    assert markdown is not None and len(markdown) < INLINE_MARKDOWN_LIMIT
    assert markdown.startswith("![DeepSeek &lt;sell-off&gt;](<data:image/svg+xml,%3Csvg")
    assert "NVDA" in markdown and "AAPL" not in markdown  # the six largest moves, by size
    assert "#" not in markdown and "<svg" not in markdown  # a valid data URI in a link
    assert inline_chart("empty", []) is None
    # long labels: fewer bars, still inline
    many = [(f"TICKER{index:02d}", -float(index)) for index in range(40)]
    assert len(inline_chart("x" * 300, many) or "") < INLINE_MARKDOWN_LIMIT


def test_the_freshness_check_leads_with_the_datas_age() -> None:
    from orchestration.defs.checks.price_checks import described_age
    from warehouse.quality.coverage import ExchangeFreshness

    results = [
        ExchangeFreshness("XNAS", date(2026, 12, 3), 15, date(2025, 6, 30), ()),
        ExchangeFreshness("XTKS", date(2026, 12, 4), 2, date(2025, 6, 30), ()),
    ]
    assert described_age(date(2025, 6, 30), date(2026, 12, 4), results) == (
        "Newest bar 2025-06-30, 522 day(s) old on 2026-12-04 "
        "(latest expected session: 2026-12-04). "
    )
    assert described_age(None, date(2026, 12, 4), results) == "No bar loaded. "


def test_the_largest_move_is_the_largest_either_way() -> None:
    from orchestration.defs.checks.price_checks import worst_move

    moves = pd.DataFrame(
        {
            "ticker": ["ORCL", "NVDA", "X"],
            "trade_date": pd.to_datetime(["2025-06-12", "2025-01-27", "2025-01-28"]),
            "daily_return": [0.133, -0.1697, None],
        }
    )
    assert worst_move(moves) == ("NVDA", -0.1697, pd.Timestamp("2025-01-27"))
    assert worst_move(moves.iloc[0:0]) is None
