"""r-bar of the Kolari-Pynnonen adjustment: for each event and each group of agg_event_sector_impact
(the whole event, each sector, each sector x industry), the average Pearson correlation of the
estimation-window market-model residuals over the pairs of equities that are both in the group.

Exactly the average of the pairwise correlations (each pair over the calendar dates both firms have,
"pairwise complete"), without materializing the pairs: per event the residuals form a dates x firms
matrix X (0 where a firm has no residual) with mask M, and every pair's sums over its common dates
are entries of BLAS products (n = M'M, Sx = X'M, Sxx = (X*X)'M, Sxy = X'X). The group averages are
then sums over blocks of the correlation matrix's upper triangle. O(firms^2 x days) flops per event
in BLAS: about a second at 3000 firms x 250 days.

Memoised per event (see the model's description in int_event_residual_correlation_groups.yml): each row
carries the fingerprint of its event's inputs; an incremental run recomputes only the events whose
fingerprint is new or changed (delete+insert on event_id), and a post-hook drops the events that are
gone. A full refresh recomputes every event.

The pure functions (correlation_matrix, group_correlations, event_group_correlations) need only
numpy and pandas, so tests import this file directly.
"""

import numpy as np
import pandas as pd

# Part of every event's fingerprint: bump it when the computation changes, so that results stored
# by an older version are recomputed on the next run.
COMPUTATION_VERSION = 1
# Over a pair's common dates, a firm whose variance is below this share of its sum of squares is
# taken as constant (rounding leaves a constant series a tiny variance): the pair's correlation is
# null, as when the pair has fewer than two common dates.
CONSTANT_TOLERANCE = 1e-12
COLUMNS = {
    "event_id": "str",
    "grouping_level": "str",
    "sector": "str",
    "industry": "str",
    "firms": "int64",
    "avg_residual_correlation": "float64",
    "residual_correlation_pairs": "int64",
    "input_fingerprint": "str",
}


def correlation_matrix(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Pearson correlation of every pair of columns of `values` (days x firms) over the rows where
    both are `present` (the same as corr() over the pair's common rows); NaN where it is null: fewer
    than two common rows, or a column constant over them. Entries of `values` where not present are
    ignored."""
    present = np.asarray(present, dtype=bool)
    mask = present.astype(np.float64)
    x = np.where(present, np.asarray(values, dtype=np.float64), 0.0)
    # centre each firm on its own mean (numerical stability), then zero the missing days again
    x -= x.sum(axis=0) / np.maximum(mask.sum(axis=0), 1.0)
    x *= mask
    n = mask.T @ mask  # n[i, j]: common days
    null = n < 2
    sx = x.T @ mask  # sx[i, j]: sum of firm i's x over the days firms i and j share
    sxx = (x * x).T @ mask
    cov = x.T @ x  # sxy
    del x, mask
    np.divide(1.0, n, out=n, where=n > 0)  # n is 1/n from here (0 where no common day)
    work = sx * sx.T
    work *= n
    cov -= work  # co-moment: sum over common days of (x_i - mean_i)(x_j - mean_j)
    np.multiply(sx, sx, out=work)
    work *= n
    np.subtract(sxx, work, out=work)  # work[i, j]: firm i's second moment over the common days
    del sx, n
    sxx *= CONSTANT_TOLERANCE
    constant = work <= sxx
    null |= constant
    null |= constant.T
    del constant
    np.multiply(work, work.T, out=sxx)
    del work
    np.sqrt(sxx, out=sxx)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov /= sxx
    cov[null] = np.nan
    np.clip(cov, -1.0, 1.0, out=cov)  # rounding only; NaN stays NaN
    return cov


def _block_sums(matrix: np.ndarray, starts: np.ndarray, dtype=None) -> np.ndarray:
    """Sums of the blocks of `matrix` cut at `starts` (rows and columns alike)."""
    rows = np.add.reduceat(matrix, starts, axis=0, dtype=dtype)
    return np.add.reduceat(rows, starts, axis=1, dtype=dtype)


def group_correlations(correlations: np.ndarray, sectors, industries) -> pd.DataFrame:
    """Average and count of the non-null correlations (NaN = null) over the pairs of firms both in a
    group, for every group: the whole set ('all'), each sector, each sector x industry (the keys of
    agg_event_sector_impact). One row per group with at least one firm."""
    sectors = np.asarray(sectors, dtype=object)
    industries = np.asarray(industries, dtype=object)
    firms = len(sectors)
    sector_codes, sector_names = pd.factorize(sectors, sort=True)
    industry_codes, _ = pd.factorize(industries, sort=True)
    block_codes, _ = pd.factorize(
        sector_codes * (industry_codes.max(initial=0) + 1) + industry_codes, sort=True
    )
    order = np.argsort(block_codes, kind="stable")
    valid = ~np.isnan(correlations)
    # each pair once (i < j); after sorting the firms into groups a pair of a group is still in the
    # group's diagonal block, whichever triangle it lands in
    upper_values = np.triu(np.where(valid, correlations, 0.0), 1)
    upper_counts = np.triu(valid, 1).view(np.uint8)
    if not np.array_equal(order, np.arange(firms)):
        upper_values = upper_values[np.ix_(order, order)]
        upper_counts = upper_counts[np.ix_(order, order)]
    sorted_blocks = block_codes[order]
    block_starts = (
        np.flatnonzero(np.r_[True, sorted_blocks[1:] != sorted_blocks[:-1]])
        if firms
        else np.array([], int)
    )
    block_sector = sector_codes[order][block_starts]
    block_industry = industries[order][block_starts]
    block_firms = np.diff(np.r_[block_starts, firms])
    sector_starts = (
        np.flatnonzero(np.r_[True, block_sector[1:] != block_sector[:-1]])
        if firms
        else np.array([], int)
    )

    if firms:
        block_value_sums = _block_sums(upper_values, block_starts)
        block_count_sums = _block_sums(upper_counts, block_starts, dtype=np.int64)
        sector_value_sums = _block_sums(block_value_sums, sector_starts)
        sector_count_sums = _block_sums(block_count_sums, sector_starts, dtype=np.int64)
        total_value, total_count = block_value_sums.sum(), int(block_count_sums.sum())
    else:
        block_value_sums = block_count_sums = sector_value_sums = sector_count_sums = np.zeros(
            (0, 0)
        )
        total_value, total_count = 0.0, 0
    sums = np.r_[total_value, np.diagonal(sector_value_sums), np.diagonal(block_value_sums)]
    counts = np.r_[
        total_count, np.diagonal(sector_count_sums), np.diagonal(block_count_sums)
    ].astype(np.int64)
    groups = pd.DataFrame(
        {
            "grouping_level": ["all"]
            + ["sector"] * len(sector_starts)
            + ["sector_industry"] * len(block_starts),
            "sector": [None]
            + list(sector_names[block_sector[sector_starts]])
            + list(sector_names[block_sector]),
            "industry": [None] * (1 + len(sector_starts)) + list(block_industry),
            "firms": np.r_[
                firms, np.add.reduceat(block_firms, sector_starts) if firms else [], block_firms
            ],
            "avg_residual_correlation": np.divide(
                sums, counts, out=np.full(len(sums), np.nan), where=counts > 0
            ),
            "residual_correlation_pairs": counts,
        }
    )
    return groups if firms else groups.iloc[:0]


def event_group_correlations(
    firm: np.ndarray, day: np.ndarray, residual: np.ndarray, sectors, industries
) -> pd.DataFrame:
    """group_correlations of one event from its residuals in long form: firm (index into sectors /
    industries) and day (any integer code of the calendar date) of each residual."""
    firm = np.asarray(firm, dtype=np.int64)
    _, day = np.unique(np.asarray(day), return_inverse=True)
    values = np.zeros((int(day.max(initial=-1)) + 1, len(sectors)))
    present = np.zeros(values.shape, dtype=bool)
    values[day, firm] = residual
    present[day, firm] = True
    return group_correlations(correlation_matrix(values, present), sectors, industries)


def _empty_result() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in COLUMNS.items()})


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="event_id",
    )
    residuals = dbt.ref("int_event_estimation_residuals")
    # O(rows): one pass over the residuals, which are the same to the last bit on every build of
    # the same data (the market model is fitted with ordered sums); an integer sum of row hashes
    # does not depend on the order of the rows.
    fingerprints = residuals.query(
        "residuals",
        f"""
        select
            event_id,
            hash({COMPUTATION_VERSION}, count(*),
                 sum(hash(ticker, trade_date, residual, sector_group, industry_group)))::varchar
                as input_fingerprint
        from residuals
        group by event_id
        order by event_id
    """,
    ).df()
    if dbt.is_incremental:
        stored = session.sql(f"select distinct event_id, input_fingerprint from {dbt.this}").df()
        unchanged = fingerprints.merge(
            stored, on=["event_id", "input_fingerprint"], how="left", indicator=True
        )
        fingerprints = fingerprints[(unchanged["_merge"] == "left_only").to_numpy()]

    import duckdb

    frames = [_empty_result()]
    for event_id, fingerprint in zip(
        fingerprints["event_id"], fingerprints["input_fingerprint"], strict=True
    ):
        rows = residuals.filter(
            duckdb.ColumnExpression("event_id") == duckdb.ConstantExpression(event_id)
        )
        # firms numbered in (sector, industry, ticker) order, so that groups are contiguous blocks
        firms = rows.query(
            "r",
            """
            select ticker, sector_group, industry_group
            from r
            where residual is not null
            group by all
            order by sector_group, industry_group, ticker
        """,
        ).fetchnumpy()
        # in no particular order: each row fills its own (day, firm) cell of the matrix, so the
        # numbers do not depend on the order the rows arrive in
        cells = rows.query(
            "r",
            """
            select
                dense_rank() over (order by sector_group, industry_group, ticker) - 1 as firm,
                dense_rank() over (order by trade_date) - 1 as day,
                residual
            from r
            where residual is not null
        """,
        ).fetchnumpy()
        groups = event_group_correlations(
            cells["firm"],
            cells["day"],
            cells["residual"],
            firms["sector_group"],
            firms["industry_group"],
        )
        groups.insert(0, "event_id", event_id)
        groups["input_fingerprint"] = fingerprint
        frames.append(groups)
    return pd.concat(frames, ignore_index=True).astype(COLUMNS)
