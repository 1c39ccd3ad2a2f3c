"""Event charts: valid PNGs whose numbers are the marts' numbers, in an order that tells the story,
a note instead of a failure for an event without data, and an asset that writes the files and
shows them on its materialization."""

from __future__ import annotations

import base64
import io
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from warehouse import charts, publish, reports, settings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEEPSEEK = charts.Event("deepseek_selloff", "DeepSeek AI sell-off", date(2025, 1, 27))
SOURCE = "the test's data"


@pytest.fixture(scope="module")
def marts(built_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = publish.open_published(settings.published_path(built_warehouse))
    try:
        yield connection
    finally:
        connection.close()


def event_chart_data(connection: duckdb.DuckDBPyConnection, event_id: str) -> charts.ChartData:
    impact = reports.event_impact(connection, event_id)
    return charts.chart_data(impact.securities, impact.sectors)


def decoded(png: bytes) -> Image.Image:
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def no_securities() -> pd.DataFrame:
    return pd.DataFrame(columns=[column.strip() for column in reports.SECURITY_COLUMNS.split(",")])


def no_sectors() -> pd.DataFrame:
    return pd.DataFrame(columns=["sector", "securities", "usd_value_change", "largest_loser"])


def test_deepseek_chart_draws_what_the_mart_holds(marts: duckdb.DuckDBPyConnection) -> None:
    data = event_chart_data(marts, "deepseek_selloff")
    expected = marts.execute(
        """
        select ticker, day0_usd_value_change / 1e9 as usd_change_bn,
               car_mm_0_0 * 100 as abnormal_return_pct, day0_return * 100 as day0_return_pct
        from marts.fct_event_impact
        where event_id = 'deepseek_selloff' and role = 'equity' and day0_return is not null
        order by ticker
        """
    ).df()
    drawn = data.plotted[expected.columns].sort_values("ticker").reset_index(drop=True)
    pd.testing.assert_frame_equal(drawn, expected, check_dtype=False)

    nvda = data.plotted.set_index("ticker").loc["NVDA"]
    assert nvda["usd_change_bn"] == pytest.approx(-592.66, abs=0.01)
    all_equities = marts.execute(
        "select total_day0_usd_value_change / 1e9, largest_loser_ticker "
        "from marts.agg_event_sector_impact "
        "where event_id = 'deepseek_selloff' and grouping_level = 'all'"
    ).fetchone()
    assert data.total_usd_change_bn == pytest.approx(all_equities[0])
    assert data.biggest_loser == all_equities[1] == "NVDA"
    assert data.with_return == 14 and data.with_usd == 11
    assert "no USD value" in " ".join(data.notes) and "ENR.DE" in " ".join(data.notes)


def test_the_story_reads_from_the_top(marts: duckdb.DuckDBPyConnection) -> None:
    selloff = event_chart_data(marts, "deepseek_selloff")
    assert list(selloff.sectors["sector"]) == [
        "Technology",
        "Communication Services",
        "Consumer Cyclical",
        "Industrials",
    ]
    plotted = selloff.plotted
    # Sectors are contiguous, in the order of their bands.
    assert list(dict.fromkeys(plotted["sector"])) == list(selloff.sectors["sector"])
    assert plotted["sector"].ne(plotted["sector"].shift()).sum() == len(selloff.sectors)
    technology = plotted[plotted["sector"] == "Technology"]
    assert list(technology["ticker"]) == [
        "NVDA",
        "AVGO",
        "TSM",
        "ORCL",
        "MSFT",
        "ARM",
        "AMD",
        "AAPL",
        "ASML",
    ]
    assert selloff.sectors.set_index("sector").loc["Technology", "usd_change_bn"] == (
        pytest.approx(technology["usd_change_bn"].sum())
    )

    rally = event_chart_data(marts, "tariff_pause_rally")
    assert rally.plotted["ticker"].iloc[0] == "NVDA"
    assert rally.plotted["usd_change_bn"].iloc[0] > 400
    assert "biggest gainer NVDA" in charts.subtitle(rally)


def test_deepseek_chart_is_a_png_of_sensible_size(marts: duckdb.DuckDBPyConnection) -> None:
    chart = charts.render_event_chart(
        DEEPSEEK, event_chart_data(marts, "deepseek_selloff"), data_source=SOURCE
    )
    image = decoded(chart.png)
    assert image.width == charts.FIGURE_WIDTH_IN * charts.DPI
    assert charts.MIN_FIGURE_HEIGHT_IN * charts.DPI <= image.height <= 9 * charts.DPI
    preview = decoded(chart.preview_png)
    assert preview.width == charts.FIGURE_WIDTH_IN * charts.PREVIEW_DPI
    assert len(chart.preview_png) < 60_000


def test_securities_without_a_return_are_named_not_drawn(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    data = event_chart_data(marts, "svb_collapse")
    assert not {"ENR.DE", "ARM", "9984.T"} & set(data.plotted["ticker"])
    notes = " ".join(data.notes)
    assert "ARM (price history starts 2023-09-14, after day 0)" in notes
    # The history starts in January 2023: too short to estimate a market model before SVB.
    assert data.plotted["abnormal_return_pct"].isna().all()
    assert "raw returns only" in notes


def test_the_footnote_names_where_the_prices_came_from(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    from orchestration.defs.reports.assets import SOURCE_NAMES, price_sources

    assert price_sources(marts) == SOURCE_NAMES["snapshot"]


def test_event_without_rows_renders_a_note() -> None:
    event = charts.Event("quiet_day", "A quiet day", date(2030, 1, 2))
    data = charts.chart_data(no_securities(), no_sectors())
    chart = charts.render_event_chart(event, data, data_source=SOURCE)
    assert data.plotted.empty and data.total_usd_change_bn is None and data.biggest_loser is None
    assert charts.subtitle(data) == "No rows in marts.fct_event_impact for this event."
    assert decoded(chart.png).width == charts.FIGURE_WIDTH_IN * charts.DPI


def test_an_event_before_the_data_starts_renders_its_missing_reasons() -> None:
    """Every security lacks day 0 (the history starts later): the marts give all-null columns,
    which pandas types as strings, not numbers."""
    securities = pd.DataFrame(
        {
            "ticker": ["SYN0001", "1000.T"],
            "sector": ["Technology", "Industrials"],
            "day0_return": [None, None],
            "car_mm_0_0": [None, None],
            "day0_usd_value_change": [None, None],
            "day0_spans_missing_session": [None, None],
            "missing_reason": ["no previous close before day 0"] * 2,
        }
    )
    sectors = pd.DataFrame(
        {
            "sector": ["Technology", "Industrials", reports.ALL_EQUITIES],
            "usd_value_change": pd.Series([None, None, None], dtype="str"),
            "largest_loser": [None, None, None],
        }
    )
    data = charts.chart_data(securities, sectors)
    chart = charts.render_event_chart(DEEPSEEK, data, data_source=SOURCE)
    assert data.plotted.empty and data.with_return == 0 and data.equities == 2
    assert decoded(chart.png).width == charts.FIGURE_WIDTH_IN * charts.DPI


def test_a_large_universe_shows_its_largest_moves() -> None:
    rng = np.random.default_rng(7)
    count = 120
    usd = rng.normal(-1e9, 4e9, count)
    securities = pd.DataFrame(
        {
            "ticker": [f"SYN{number:04d}" for number in range(count)],
            "sector": rng.choice(["Technology", "Energy", "Utilities"], count),
            "day0_return": rng.normal(-0.01, 0.02, count),
            "car_mm_0_0": rng.normal(0, 0.01, count),
            "day0_usd_value_change": usd,
            "day0_spans_missing_session": False,
            "missing_reason": None,
        }
    )
    data = charts.chart_data(securities, no_sectors(), max_securities=25)
    assert len(data.plotted) == 25
    largest = set(securities.loc[np.argsort(-np.abs(usd))[:25], "ticker"])
    assert set(data.plotted["ticker"]) == largest
    assert data.notes[0].startswith("Showing the 25 largest moves of 120")
    assert (
        decoded(charts.render_event_chart(DEEPSEEK, data, data_source=SOURCE).png).height
        > 7 * charts.DPI
    )


def test_chart_files_cannot_leave_the_reports_folder() -> None:
    assert charts.chart_file_name("deepseek_selloff") == "deepseek_selloff.png"
    for event_id in ("../outside", "a/b", ""):
        with pytest.raises(ValueError, match="cannot name a chart file"):
            charts.chart_file_name(event_id)


def test_reports_folder_follows_the_warehouse_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(settings.REPORTS_DIR_ENV, raising=False)
    assert settings.reports_dir(tmp_path / "w.duckdb") == tmp_path / "reports"
    monkeypatch.setenv(settings.REPORTS_DIR_ENV, str(tmp_path / "elsewhere"))
    assert settings.reports_dir(tmp_path / "w.duckdb") == tmp_path / "elsewhere"


def test_event_charts_runs_in_the_nightly_job_after_the_marts() -> None:
    from orchestration.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["reports", "event_charts"]))
    parents = {key.to_user_string() for key in node.parent_keys}
    assert parents == {
        "marts/fct_event_impact",
        "marts/agg_event_sector_impact",
        "reference/events",
    }
    assert all(graph.get(key).is_executable for key in node.parent_keys), "a dangling dep"
    job = definitions.resolve_job_def("nightly_refresh")
    assert node.key in job.asset_layer.selected_asset_keys


def test_asset_writes_the_charts_and_shows_them(
    built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.defs.reports.assets import event_charts
    from orchestration.resources import WarehouseResource

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "insert into reference.events values "
            "('quiet_day', date '2030-01-02', 'A quiet day', 'No data yet.')"
        )
    monkeypatch.delenv(settings.REPORTS_DIR_ENV, raising=False)
    # The resource exports the warehouse path for dbt; monkeypatch restores it afterwards.
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(warehouse))

    result = dg.materialize(
        [event_charts], resources={"warehouse": WarehouseResource(path=str(warehouse))}
    )

    assert result.success
    reports_dir = tmp_path / "reports"
    written = sorted(path.name for path in reports_dir.iterdir() if not path.name.startswith("."))
    assert written == [
        "deepseek_selloff.png",
        "index.html",
        "liberation_day_tariffs.png",
        "quiet_day.png",
        "svb_collapse.png",
        "tariff_pause_rally.png",
        "yen_carry_unwind.png",
    ]
    for name in written:
        if name.endswith(".png"):
            decoded((reports_dir / name).read_bytes())
    assert 'src="deepseek_selloff.png"' in (reports_dir / "index.html").read_text()

    metadata = result.asset_materializations_for_node("reports__event_charts")[0].metadata
    assert metadata["reports_dir"] == dg.MetadataValue.path(str(reports_dir))
    assert metadata["index"] == dg.MetadataValue.path(str(reports_dir / "index.html"))
    summary = {record.data["event_id"]: record.data for record in metadata["events"].records}
    assert summary["deepseek_selloff"]["usd_change_bn"] == pytest.approx(-1076.2)
    assert summary["deepseek_selloff"]["biggest_loser"] == "NVDA"
    assert summary["deepseek_selloff"]["securities"] == 14
    assert summary["quiet_day"]["securities"] == 0
    image = re.fullmatch(
        r"!\[DeepSeek AI sell-off\]\(data:image/png;base64,(?P<png>[A-Za-z0-9+/=]+)\)",
        metadata["chart_deepseek_selloff"].value,
    )
    assert image is not None
    decoded(base64.b64decode(image["png"]))


def test_an_unchanged_chart_is_read_back_and_a_changed_one_redrawn(
    marts: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    impact = reports.event_impact(marts, "deepseek_selloff")
    securities, sectors = impact.securities.copy(), impact.sectors
    data = charts.chart_data(securities, sectors)
    first, drawn = charts.rendered_event_chart(
        DEEPSEEK, data, data_source=SOURCE, reports_dir=tmp_path
    )
    assert drawn and (tmp_path / "deepseek_selloff.png").read_bytes() == first.png

    refitted = securities.assign(car_mm_0_0=securities["car_mm_0_0"] * (1 + 1e-14))  # last bits
    same = charts.chart_data(refitted, sectors)
    again, drawn = charts.rendered_event_chart(
        DEEPSEEK, same, data_source=SOURCE, reports_dir=tmp_path
    )
    assert not drawn
    assert (again.png, again.preview_png) == (first.png, first.preview_png)

    securities.loc[securities["ticker"] == "NVDA", "day0_usd_value_change"] = -600e9
    changed = charts.chart_data(securities, sectors)
    redrawn, drawn = charts.rendered_event_chart(
        DEEPSEEK, changed, data_source=SOURCE, reports_dir=tmp_path
    )
    assert drawn and redrawn.png != first.png
    (tmp_path / charts.CACHE_DIR / "deepseek_selloff.json").write_text("not json")
    _, drawn = charts.rendered_event_chart(
        DEEPSEEK, changed, data_source=SOURCE, reports_dir=tmp_path
    )
    assert drawn  # an unreadable record is no reason to fail: the chart is drawn again
