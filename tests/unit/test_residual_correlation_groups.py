"""The dbt Python model int_event_residual_correlation_groups: its numpy correlation matrix against
pandas' pairwise-complete DataFrame.corr, its group averages against a plain loop over the pairs,
and its per-event memo (only new or changed events are recomputed)."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

MODEL_PATH = (
    Path(__file__).resolve().parents[2]
    / "dbt_project"
    / "models"
    / "intermediate"
    / "int_event_residual_correlation_groups.py"
)
TOLERANCE = 1e-12


def load_model():
    spec = importlib.util.spec_from_file_location(
        "int_event_residual_correlation_groups", MODEL_PATH
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


model = load_model()


def residual_panel(seed: int = 0, days: int = 80, firms: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Correlated residuals with holes, and the awkward firms: two days only, one day only, constant,
    no day shared with firm 0, and a large common offset (numerical stability)."""
    rng = np.random.default_rng(seed)
    values = 0.01 * (rng.normal(size=(days, 1)) + rng.normal(size=(days, firms))) + 5.0
    present = rng.random((days, firms)) > 0.25
    present[:, 1] = False
    present[[3, 9], 1] = True
    present[:, 2] = False
    present[4, 2] = True
    values[:, 3] = 0.0123
    present[:, 4] = ~present[:, 0]
    return values, present


def test_correlation_matrix_is_pandas_pairwise_complete_correlation() -> None:
    values, present = residual_panel()
    expected = pd.DataFrame(np.where(present, values, np.nan)).corr(min_periods=2).to_numpy()
    # what is not present must not matter
    actual = model.correlation_matrix(np.where(present, values, 1e6), present)
    first, second = np.triu_indices(values.shape[1], k=1)
    expected, actual = expected[first, second], actual[first, second]
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    assert np.isnan(expected).sum() > values.shape[1]  # the awkward firms are there
    known = ~np.isnan(expected)
    assert np.max(np.abs(actual[known] - expected[known])) < TOLERANCE


def reference_groups(
    correlations: np.ndarray, sectors: list[str], industries: list[str]
) -> pd.DataFrame:
    """The pairs one by one, as agg_event_sector_impact used to average them."""
    rows = []
    for i, j in itertools.combinations(range(len(sectors)), 2):
        same_sector = sectors[i] == sectors[j]
        rows.append(
            {
                "all": True,
                "sector": sectors[i] if same_sector else None,
                "industry": industries[i]
                if same_sector and industries[i] == industries[j]
                else None,
                "r": correlations[i, j],
            }
        )
    pairs = pd.DataFrame(rows)
    out = []
    for level, keys in (
        ("all", []),
        ("sector", ["sector"]),
        ("sector_industry", ["sector", "industry"]),
    ):
        firms = pd.DataFrame({"sector": sectors, "industry": industries})
        for key, group in firms.groupby(keys) if keys else [((), firms)]:
            key = key if isinstance(key, tuple) else (key,)
            selected = pairs
            for name, value in zip(keys, key, strict=True):
                selected = selected[selected[name] == value]
            r = selected["r"].dropna()
            out.append(
                {
                    "grouping_level": level,
                    "sector": key[0] if keys else None,
                    "industry": key[1] if len(keys) == 2 else None,
                    "firms": len(group),
                    "avg_residual_correlation": r.mean() if len(r) else np.nan,
                    "residual_correlation_pairs": len(r),
                }
            )
    return pd.DataFrame(out)


def test_group_averages_are_the_averages_of_the_pairs() -> None:
    values, present = residual_panel(seed=1)
    correlations = model.correlation_matrix(values, present)
    rng = np.random.default_rng(2)
    sectors = list(rng.choice(["Energy", "Tech", "Unclassified"], values.shape[1]))
    industries = [sector + rng.choice(["/a", "/b", "/c"]) for sector in sectors]
    sectors[7], industries[7] = "Lonely", "Lonely/x"  # a group of one firm: no pair
    actual = model.group_correlations(correlations, sectors, industries)
    expected = reference_groups(correlations, sectors, industries)
    keys = ["grouping_level", "sector", "industry"]
    joined = expected.merge(actual, on=keys, how="outer", suffixes=("", "_actual"), indicator=True)
    assert (joined["_merge"] == "both").all()
    assert (joined["firms"] == joined["firms_actual"]).all()
    assert (
        joined["residual_correlation_pairs"] == joined["residual_correlation_pairs_actual"]
    ).all()
    lonely = joined[joined["sector"] == "Lonely"]
    assert lonely["avg_residual_correlation_actual"].isna().all() and (lonely["firms"] == 1).all()
    assert np.allclose(
        joined["avg_residual_correlation"],
        joined["avg_residual_correlation_actual"],
        rtol=0,
        atol=TOLERANCE,
        equal_nan=True,
    )


def test_no_firm_gives_no_group() -> None:
    assert model.group_correlations(np.zeros((0, 0)), [], []).empty


class FakeDbt:
    """What dbt-duckdb hands a Python model: config, ref (a relation), this, is_incremental."""

    def __init__(self, con: duckdb.DuckDBPyConnection, is_incremental: bool) -> None:
        self.con, self.is_incremental, self.this = con, is_incremental, "correlation_groups"

    def config(self, **_: object) -> None:
        pass

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.con.query(f"select * from {name}")


def residual_rows(event_id: str, seed: int, firms: int = 6) -> pd.DataFrame:
    values, present = residual_panel(seed=seed, days=30, firms=firms)
    day, firm = np.nonzero(present)
    return pd.DataFrame(
        {
            "event_id": event_id,
            "ticker": [f"T{index}" for index in firm],
            "trade_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D"),
            "residual": values[day, firm],
            "sector_group": np.where(firm % 2 == 0, "Even", "Odd"),
            "industry_group": "Any",
        }
    )


@pytest.mark.parametrize("change", ["nothing", "rows_reordered", "one_residual", "a_sector"])
def test_only_new_or_changed_events_are_recomputed(change: str) -> None:
    con = duckdb.connect()
    residuals = pd.concat([residual_rows("a", 1), residual_rows("b", 2)], ignore_index=True)
    con.register("residuals_frame", residuals)
    con.execute("create table int_event_estimation_residuals as select * from residuals_frame")
    full = model.model(FakeDbt(con, is_incremental=False), con)
    assert set(full["event_id"]) == {"a", "b"}
    con.register("full_frame", full)
    con.execute("create table correlation_groups as select * from full_frame")

    if change == "one_residual":  # by one unit in the last place: builds are bit-identical
        con.execute(
            "update int_event_estimation_residuals set residual = nextafter(residual, 10) "
            "where event_id = 'b' and ticker = 'T5' and trade_date = (select min(trade_date) "
            "from int_event_estimation_residuals where event_id = 'b' and ticker = 'T5')"
        )
    elif change == "rows_reordered":  # the view's rows come in any order: same inputs
        con.execute(
            "create or replace table int_event_estimation_residuals as "
            "from int_event_estimation_residuals order by trade_date desc, ticker desc"
        )
    elif change == "a_sector":
        con.execute(
            "update int_event_estimation_residuals set sector_group = 'Odd' "
            "where event_id = 'b' and ticker = 'T0'"
        )
    con.register("new_event", residual_rows("c", 3))
    con.execute("insert into int_event_estimation_residuals select * from new_event")
    incremental = model.model(FakeDbt(con, is_incremental=True), con)
    expected_events = {"c"} if change in ("nothing", "rows_reordered") else {"b", "c"}
    assert set(incremental["event_id"]) == expected_events
    # what it recomputes is what a full run computes
    again = model.model(FakeDbt(con, is_incremental=False), con)
    keys = ["event_id", "grouping_level", "sector", "industry"]
    recomputed = again[again["event_id"].isin(expected_events)].sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(incremental.sort_values(keys, ignore_index=True), recomputed)
