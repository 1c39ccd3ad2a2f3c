"""The quality assets and checks end to end: on the nightly build of the bundled snapshot (the
session's ``built_warehouse``, opened read-only), and on small windows materialized into temporary
warehouses with bad bars injected into the source."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.defs.checks import price_checks, quarantine
from orchestration.defs.checks.resources import QualityRulesResource
from orchestration.defs.dbt.assets import dbt_models, descendants
from orchestration.defs.dbt.project import dbt_cli, dbt_project
from orchestration.defs.ingest import assets as ingest
from orchestration.resources import MarketDataResource, UniverseResource, WarehouseResource
from tests.dbt_helpers import run_dbt
from warehouse import settings
from warehouse.sources.base import PriceBatch

pytestmark = pytest.mark.e2e

DEEPSEEK = date(2025, 1, 27)
UNIVERSE = UniverseResource(path=str(settings.DEFAULT_UNIVERSE_PATH))
# The snapshot ends on Monday 2025-06-30; at midnight UTC every exchange had closed that session.
AFTER_SNAPSHOT = "2025-07-01T00:00:00+00:00"


def _rows(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.sql(sql).df()


# --- the nightly build of the bundled snapshot -------------------------------------------------


def test_the_snapshot_build_tells_the_deepseek_sell_off_from_noise(built_warehouse: Path) -> None:
    flags = _rows(
        built_warehouse,
        "select * from quality.price_anomalies "
        "where trade_date = '2025-01-27' and check_name like 'large_%'",
    )
    by_ticker = flags.set_index("ticker")
    for ticker in ("NVDA", "AVGO", "TSM", "ARM", "ORCL"):
        assert by_ticker.loc[ticker, "classification"] == "market_event", ticker
    assert "Semiconductors peers moved with it" in by_ticker.loc["NVDA", "reason"]
    assert by_ticker.loc["NVDA", "daily_return"] == pytest.approx(-0.1697, abs=1e-4)
    assert "MSFT" not in by_ticker.index  # -2.1%
    # ENR.DE's -17.8% spans 2025-01-24, a session its source lacks; no peer moved with it
    assert by_ticker.loc["ENR.DE", "classification"] == "idiosyncratic"
    assert "spans 2 sessions" in by_ticker.loc["ENR.DE", "reason"]


def test_the_snapshot_build_detects_its_market_shocks(built_warehouse: Path) -> None:
    events = _rows(
        built_warehouse,
        "select * from quality.detected_market_events "
        "where scope = 'market' order by abs(value_change_usd) desc",
    )
    top = events.head(3).set_index("event_date")
    assert pd.Timestamp(DEEPSEEK) in top.index  # with 2025-04-09 and 2025-04-03 (tariffs)
    sell_off = top.loc[pd.Timestamp(DEEPSEEK)]
    assert sell_off.direction == "drop"
    assert sell_off.securities_flagged == 5 and sell_off.breadth > 0.5
    assert sell_off.value_change_usd < -1e12
    technology = _rows(
        built_warehouse,
        "select * from quality.detected_market_events "
        "where event_date = '2025-01-27' and scope = 'Technology'",
    )
    assert technology["breadth"].item() > 0.75


def test_the_snapshot_build_reports_gaps_and_quirks_and_quarantines_nothing(
    built_warehouse: Path,
) -> None:
    found = _rows(
        built_warehouse,
        "select ticker, check_name, count(*) as flags, "
        "count(*) filter (where trade_date = '2025-01-24') as on_jan_24 "
        "from quality.price_anomalies where check_name in "
        "('missing_session', 'fx_range_quirk') group by all",
    ).set_index(["ticker", "check_name"])
    assert found.loc[("ENR.DE", "missing_session")].tolist() == [23, 1]
    assert found.loc[("JPY=X", "fx_range_quirk"), "flags"] == 35
    assert found.loc[("EURUSD=X", "fx_range_quirk"), "flags"] == 18
    counts = _rows(
        built_warehouse,
        """
        select (select count(*) from quality.quarantined_prices) as quarantined,
               (select count(*) from raw.fx_rates) = (select count(*) from staging.stg_fx_rates)
                   as fx_rates_all_staged""",
    )
    assert counts.iloc[0].tolist() == [0, True]


def test_the_checks_report_their_findings_as_metadata(built_warehouse: Path) -> None:
    warehouse = WarehouseResource(path=str(built_warehouse))
    rules = QualityRulesResource(evaluation_time=AFTER_SNAPSHOT)

    # invoked directly, without a run: each check judges the latest load
    context = dg.build_asset_check_context()
    moves = price_checks.large_moves(context, warehouse=warehouse)
    assert (moves.passed, moves.severity) == (False, dg.AssetCheckSeverity.WARN)
    records = moves.metadata["moves"].value.records
    assert len(records) == 50
    assert moves.metadata["by_classification"].value["market_event"] > 0

    integrity = quarantine.integrity(context, warehouse=warehouse)
    assert integrity.passed
    assert integrity.metadata["fx_range_quirks_kept"].value == 53

    _, missing, fresh = price_checks.prices_checks
    gaps = missing(context, warehouse=warehouse)
    assert not gaps.passed and gaps.metadata["tickers"].value == {"ENR.DE": 23}
    late = fresh(context, warehouse=warehouse, universe=UNIVERSE, quality_rules=rules)
    assert (late.passed, late.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert (
        "XTKS: 1 of 2 securities lack its latest completed session 2025-06-30" in late.description
    )
    assert "ENR.DE (2025-03-31)" in late.metadata["exchanges"].value
    _, _, fx_fresh = price_checks.fx_checks
    assert fx_fresh(context, warehouse=warehouse, universe=UNIVERSE, quality_rules=rules).passed

    failures = {
        next(iter(check.check_keys)).asset_key.to_user_string(): check(context, warehouse=warehouse)
        for check in price_checks.source_failure_checks
    }
    assert failures["raw/daily_prices"].passed
    fundamentals = failures["raw/fundamentals"]
    assert not fundamentals.passed
    assert {row.data["ticker"] for row in fundamentals.metadata["failures"].value.records} == {
        "TSM",
        "ASML",
        "ARM",
        "9984.T",
        "ENR.DE",
    }


# --- bad bars injected into a small load -------------------------------------------------------

WINDOW = ("2025-01-27", "2025-01-28")  # 23 priced securities x 2 sessions = 46 bars
INGEST = [ingest.securities, ingest.exchange_sessions, ingest.daily_prices, ingest.fx_rates]


def _source_with_closes_above_high(monkeypatch: pytest.MonkeyPatch, tickers: list[str]) -> None:
    """The snapshot source, with these tickers' 2025-01-27 close 10% above the day's high."""
    build = MarketDataResource.build

    def corrupted_source(self: MarketDataResource):
        source = build(self)
        fetch_prices = source.fetch_prices

        def fetch_with_bad_bars(securities, start, end) -> PriceBatch:
            batch = fetch_prices(securities, start, end)
            prices = batch.prices.copy()
            on_the_day = pd.to_datetime(prices["trade_date"]) == pd.Timestamp(DEEPSEEK)
            bad = prices["ticker"].isin(tickers) & on_the_day
            prices.loc[bad, "close"] = prices.loc[bad, "high"] * 1.1
            return PriceBatch(prices, batch.actions, batch.failures)

        source.fetch_prices = fetch_with_bad_bars
        return source

    monkeypatch.setattr(MarketDataResource, "build", corrupted_source)


def _materialize(assets: list, path: Path, **extra_resources: object) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*INGEST, *assets],
        resources={
            "warehouse": WarehouseResource(path=str(path), lock_timeout_seconds=1),
            "universe": UNIVERSE,
            "market_data": MarketDataResource(source="snapshot"),
            "quality_rules": QualityRulesResource(),
            **extra_resources,
        },
        tags={
            "dagster/asset_partition_range_start": WINDOW[0],
            "dagster/asset_partition_range_end": WINDOW[1],
        },
        raise_on_error=False,
    )


def test_a_bad_tick_is_quarantined_reported_and_never_staged(
    warehouse_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _source_with_closes_above_high(monkeypatch, ["NVDA"])
    assert _materialize([], warehouse_file).success
    # the quarantine and the staging views, as dbt build runs them in the nightly job
    run_dbt(
        warehouse_file,
        "run",
        "--select",
        "quality",
        "staging",
        "fx_range_quirks",
        dbt_vars={"refresh_start": WINDOW[0]},
        target_dir=tmp_path / "dbt",
    )
    evaluation = quarantine.integrity(
        dg.build_asset_check_context(), warehouse=WarehouseResource(path=str(warehouse_file))
    )
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert "1 bar(s) quarantined (1 close_outside_range)" in evaluation.description

    nvda = "select count(*) as bars from {} where ticker = 'NVDA' and trade_date = '2025-01-27'"
    assert _rows(warehouse_file, nvda.format("raw.daily_prices"))["bars"].item() == 1
    assert _rows(warehouse_file, nvda.format("staging.stg_daily_prices"))["bars"].item() == 0
    assert (
        _rows(warehouse_file, "select count(*) as bars from staging.stg_daily_prices")[
            "bars"
        ].item()
        == 45
    )


def test_a_broken_load_stops_the_dbt_models(
    warehouse_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _source_with_closes_above_high(monkeypatch, ["NVDA", "AVGO", "TSM"])  # 3 of 46 bars: 6.5%
    result = _materialize([dbt_models], warehouse_file, dbt=dbt_cli())
    assert not result.success
    # dbt's blocking test on the quarantine's load health: failed, severity error
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "load_is_not_broken"
    ]
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    health = _rows(
        warehouse_file,
        "select bars, quarantined_bars, is_systemic "
        "from quality.quarantine_load_health where table_name = 'raw.daily_prices'",
    )
    assert health.iloc[0].tolist() == [46, 3, True]
    # the quarantine ran; nothing downstream of its load health did: the price staging models,
    # the marts built on them, the anomaly record (models that read no staged price, such as the
    # seeds or the raw coverage findings, may run)
    manifest = json.loads(dbt_project.manifest_path.read_text())
    blocked = {
        manifest["nodes"][unique_id]["name"]
        for unique_id in descendants(
            manifest["child_map"], ["model.market_warehouse.quarantine_load_health"]
        )
        if unique_id.startswith("model.")
    }
    assert {"stg_daily_prices", "fct_daily_returns", "price_anomalies"} <= blocked
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert not {key.path[-1] for key in materialized} & blocked
    assert {"quarantined_prices", "quarantine_load_health"} <= {
        key.path[-1] for key in materialized if key.path[0] == "quality"
    }
    assert (
        _rows(warehouse_file, "select count(*) as n from quality.quarantined_prices")["n"].item()
        == 3
    )
