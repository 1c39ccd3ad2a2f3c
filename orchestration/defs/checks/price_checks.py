"""Asset checks on what the latest refresh brought: the large moves the dbt model
quality/large_moves classified, the stale closes and missing sessions the dbt models
quality/stale_closes and quality/missing_sessions found in the raw price tables, late sessions,
and the tickers the source could not deliver.

The moves, stale closes and missing sessions are read, not recomputed: dbt judged them over the
window of the run (quality/quarantine_load_health records it; the whole history without one).
Each check fails with severity WARN: a crash is data, a gap is worth a look, neither must stop the
refresh. Only dbt's load_is_not_broken test (on quality/quarantine_load_health) may stop it."""

from collections.abc import Callable, Sequence
from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from orchestration.defs.checks.metadata import (
    counts,
    described_counts,
    flagged_rows,
)
from orchestration.defs.checks.resources import QualityRulesResource
from orchestration.defs.dbt.assets import dbt_asset_key
from orchestration.metadata import day, percent
from orchestration.pools import WAREHOUSE_POOL
from orchestration.resources import UniverseResource, WarehouseResource
from orchestration.retries import retry_transient_errors
from warehouse.quality.coverage import (
    ExchangeFreshness,
    freshness,
    last_loaded,
    latest_load_failures,
)
from warehouse.universe import Security, Universe

WARN = dg.AssetCheckSeverity.WARN
PRICES_TABLE = "raw.daily_prices"
FX_TABLE = "raw.fx_rates"
LOADED_BY = {PRICES_TABLE: "raw/daily_prices", FX_TABLE: "raw/fx_rates"}
LARGE_MOVES = dbt_asset_key("large_moves")
STALE_CLOSES = dbt_asset_key("stale_closes")
MISSING_SESSIONS = dbt_asset_key("missing_sessions")
LOAD_HEALTH = dbt_asset_key("quarantine_load_health")
# A move a split or dividend explains: listed, never counted as a move.
CORPORATE_ACTION_MOVE = "corporate_action_move"
# The ingestion assets that log their loads. raw/corporate_actions arrives in raw/daily_prices'
# load, so its failures are that load's.
LOGGED_ASSETS = (
    "raw/daily_prices",
    "raw/fx_rates",
    "raw/fundamentals",
    "raw/shares_outstanding",
    "raw/quarterly_financials",
)
_SESSIONS_DEPS = [["raw", "exchange_sessions"], ["raw", "securities"]]
# The window dbt judged a raw table over: the run's, else its latest load's, else everything.
_WINDOW = (
    "select window_start, window_end from quality.quarantine_load_health "
    "where table_name = $table_name"
)
# The moves of the window (quality.large_moves also holds the move before it, classified again).
_MOVES = (
    "select * from quality.large_moves where trade_date >= $window_start "
    "order by trade_date, ticker"
)
# A finding of a dbt model of one raw table, in the columns of quality.price_anomalies.
_FINDINGS = (
    "select * exclude (table_name, last_date) from quality.{model} "
    "where table_name = $table_name order by ticker, trade_date"
)


@dg.asset_check(
    asset=LARGE_MOVES,
    name="large_moves",
    pool=WAREHOUSE_POOL,
    additional_deps=[LOAD_HEALTH],
    description="One-day adjusted returns at or beyond the drop and rise thresholds in the window "
    "this run judged, each classified market_event, suspect_data or idiosyncratic with its "
    "evidence by the dbt model quality/large_moves; moves a split or dividend explains are "
    "listed as corporate_action_move and not counted as moves. "
    "WARN: a real crash is data, not an error.",
)
def large_moves(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with retry_transient_errors(context), warehouse.connect(read_only=True) as connection:
        window = judged_window(connection, PRICES_TABLE)
        moves = connection.execute(_MOVES, {"window_start": window[0]}).df()
    counted = moves[moves["check_name"] != CORPORATE_ACTION_MOVE]
    by_classification = counts(counted, "classification")
    worst = worst_move(counted)
    return dg.AssetCheckResult(
        passed=counted.empty,
        severity=WARN,
        description=f"{len(counted)} large move(s) {_described_window(window)}: "
        f"{described_counts(by_classification)}; "
        f"{len(moves) - len(counted)} move(s) explained by corporate actions"
        + (f". Largest: {worst[0]} {percent(worst[1])} on {day(worst[2])}" if worst else ""),
        metadata={
            # numbers, not text, so the UI can plot them across evaluations
            "large_moves": len(counted),
            "market_events": by_classification.get("market_event", 0),
            "suspect_data": by_classification.get("suspect_data", 0),
            "explained_by_corporate_actions": len(moves) - len(counted),
            **(
                {"largest_move_pct": dg.MetadataValue.float(round(worst[1] * 100, 2))}
                if worst
                else {}
            ),
            "by_classification": dg.MetadataValue.json(by_classification),
            "moves": flagged_rows(
                moves.sort_values(["trade_date", "ticker"], ascending=[False, True])
            ),
        },
    )


def _price_table_checks(
    asset: str, table_name: str, securities: Callable[[Universe], Sequence[Security]]
) -> list[dg.AssetChecksDefinition]:
    """The coverage checks of one raw price table, whose securities the universe lists."""
    asset_key = dg.AssetKey.from_user_string(asset)

    @dg.asset_check(
        asset=asset_key,
        name="stale_closes",
        pool=WAREHOUSE_POOL,
        additional_deps=[STALE_CLOSES, LOAD_HEALTH],
        description="Securities whose close stayed the same on stale_sessions consecutive "
        "sessions of their exchange (holidays excluded), runs reaching into the window this run "
        "judged, as the dbt model quality/stale_closes found them: a feed that stopped.",
    )
    def stale(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        with retry_transient_errors(context), warehouse.connect(read_only=True) as connection:
            window = judged_window(connection, table_name)
            found = _findings(connection, "stale_closes", table_name)
        return _listing_result(found, f"stale close run(s) {_described_window(window)}")

    @dg.asset_check(
        asset=asset_key,
        name="missing_sessions",
        pool=WAREHOUSE_POOL,
        additional_deps=[MISSING_SESSIONS, LOAD_HEALTH],
        description="Trading sessions of each security's exchange, between its first and last "
        "loaded bar, that have no bar (raw.exchange_sessions; FX trades every weekday), dated in "
        "the window this run judged, as the dbt model quality/missing_sessions found them; "
        "quality.price_anomalies keeps the earlier ones.",
    )
    def missing(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        with retry_transient_errors(context), warehouse.connect(read_only=True) as connection:
            window = judged_window(connection, table_name)
            found = _findings(connection, "missing_sessions", table_name)
        return _listing_result(found, f"missing session(s) {_described_window(window)}")

    @dg.asset_check(
        asset=asset_key,
        name="latest_session_loaded",
        pool=WAREHOUSE_POOL,
        additional_deps=_SESSIONS_DEPS,
        description="The data's freshness: how old the newest bar is today, and whether every "
        "security of the universe has a bar for the latest session its exchange completed "
        "(exchange_calendars, early closes included) before now. WARN when any is behind; an "
        "offline snapshot build ends on the snapshot's last day, so there it warns by design.",
    )
    def fresh(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        universe: UniverseResource,
        quality_rules: QualityRulesResource,
    ) -> dg.AssetCheckResult:
        now = quality_rules.now()
        exchanges = {security.ticker: security.exchange for security in securities(universe.load())}
        with retry_transient_errors(context), warehouse.connect(read_only=True) as connection:
            loaded = last_loaded(connection, table_name)
        results = freshness(exchanges, loaded, now)
        late = [result for result in results if not result.is_fresh]
        newest = max(loaded.values(), default=None)
        behind = sum(len(result.tickers_behind) for result in results)
        return dg.AssetCheckResult(
            passed=not late,
            severity=WARN,
            description=described_age(newest, now.date(), results)
            + (
                "; ".join(map(_described_lateness, late))
                or "every exchange's latest completed session is loaded"
            ),
            metadata={
                "now": now.strftime("%Y-%m-%d %H:%M %Z").strip(),
                "newest_bar": day(newest),
                **({"data_age_days": (now.date() - newest).days} if newest else {}),
                "securities_behind": behind,
                "exchanges": dg.MetadataValue.md(_freshness_table(results)),
            },
        )

    return [stale, missing, fresh]


def _source_failures_check(asset: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey.from_user_string(asset),
        name="source_failures",
        pool=WAREHOUSE_POOL,
        description="Tickers the source could not deliver in the latest load of this asset "
        "(raw.load_log / raw.load_failures), with the source's reason.",
    )
    def source_failures(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        with retry_transient_errors(context), warehouse.connect(read_only=True) as connection:
            load = latest_load_failures(connection, asset)
        if load is None:
            return dg.AssetCheckResult(
                passed=False, severity=WARN, description=f"No load of {asset} is logged"
            )
        failures = pd.DataFrame(load.failures, columns=["ticker", "reason"])
        return dg.AssetCheckResult(
            passed=failures.empty,
            severity=WARN,
            description=f"{len(failures)} of {load.tickers_requested} ticker(s) not delivered "
            f"by the load of run {load.run_id}"
            + (f": {', '.join(failures['ticker'])}" if len(failures) else ""),
            metadata={
                "run_id": load.run_id,
                "failed_tickers": len(failures),
                "requested_tickers": int(load.tickers_requested),
                "failures": flagged_rows(failures),
            },
        )

    return source_failures


def _listing_result(found: pd.DataFrame, what: str) -> dg.AssetCheckResult:
    """WARN with the flagged rows and the tickers concerned; passed when there are none."""
    tickers = counts(found, "ticker")
    return dg.AssetCheckResult(
        passed=found.empty,
        severity=WARN,
        description=f"{len(found)} {what}" + (f": {described_counts(tickers)}" if tickers else ""),
        metadata={
            "count": len(found),
            "tickers": dg.MetadataValue.json(tickers),
            "found": flagged_rows(found),
        },
    )


def worst_move(moves: pd.DataFrame) -> tuple[str, float, object] | None:
    """(ticker, return, date) of the largest move in either direction, or None."""
    returns = moves["daily_return"].dropna() if "daily_return" in moves else pd.Series(dtype=float)
    if returns.empty:
        return None
    row = moves.loc[returns.abs().idxmax()]
    return str(row["ticker"]), float(row["daily_return"]), row["trade_date"]


def described_age(newest: date | None, today: date, results: Sequence[ExchangeFreshness]) -> str:
    """'Newest bar 2025-06-30, 522 day(s) old on 2026-12-04 (latest expected session:
    2026-12-03). ' — the age first, so an old snapshot reads as old at a glance."""
    if newest is None:
        return "No bar loaded. "
    expected = max((result.latest_completed_session for result in results), default=None)
    return (
        f"Newest bar {newest}, {(today - newest).days} day(s) old on {today}"
        + (f" (latest expected session: {expected})" if expected else "")
        + ". "
    )


def judged_window(con: duckdb.DuckDBPyConnection, table_name: str) -> tuple[date, date]:
    """The trade dates dbt judged a raw price table over (quality.quarantine_load_health)."""
    (window,) = con.execute(_WINDOW, {"table_name": table_name}).fetchall()
    return window


def _findings(con: duckdb.DuckDBPyConnection, model: str, table_name: str) -> pd.DataFrame:
    return con.execute(_FINDINGS.format(model=model), {"table_name": table_name}).df()


def _described_window(window: tuple[date, date]) -> str:
    if window == (date.min, date.max):
        return "over the whole table (no load logged)"
    if window[1] == date.max:
        return f"in the run's window (from {window[0]} on)"
    return f"in the load's window ({window[0]}..{window[1]})"


def _described_lateness(result: ExchangeFreshness) -> str:
    return (
        f"{result.exchange}: {len(result.tickers_behind)} of {result.securities} securities "
        f"lack its latest completed session {result.latest_completed_session} "
        f"(loaded through {result.loaded_through or 'never'})"
    )


def _freshness_table(results: Sequence[ExchangeFreshness]) -> str:
    lines = [
        "| exchange | latest completed session | loaded through | behind |",
        "|---|---|---|---|",
    ]
    for result in results:
        behind = ", ".join(
            f"{ticker} ({last or 'never'})" for ticker, last in result.tickers_behind
        )
        lines.append(
            f"| {result.exchange} | {result.latest_completed_session} "
            f"| {result.loaded_through or 'never'} | {behind or '-'} |"
        )
    return "\n".join(lines)


prices_checks = _price_table_checks(
    LOADED_BY[PRICES_TABLE], PRICES_TABLE, lambda universe: universe.priced_securities()
)
fx_checks = _price_table_checks(LOADED_BY[FX_TABLE], FX_TABLE, lambda universe: universe.fx_pairs())
source_failure_checks = [_source_failures_check(asset) for asset in LOGGED_ASSETS]
