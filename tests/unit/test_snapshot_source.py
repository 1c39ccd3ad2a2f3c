"""SnapshotSource on the bundled snapshot, and on small snapshots written for one behaviour."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from orchestration.retries import is_transient
from warehouse import settings
from warehouse.sources import (
    SnapshotSource,
    SourceDataError,
    SourceError,
    TickerFailure,
    snapshot_source,
)
from warehouse.sources.schema import COLUMNS
from warehouse.universe import Security, load_universe

FRIDAY, MONDAY = date(2025, 1, 24), date(2025, 1, 27)
UNIVERSE = load_universe()
SHARES_HEADER = "ticker,as_of,shares_outstanding,share_class_note,split_basis_note,source"


@pytest.fixture(scope="module")
def bundled() -> SnapshotSource:
    return SnapshotSource(settings.DEFAULT_SNAPSHOT_DIR)


def snapshot_copy(tmp_path: Path, **files: str) -> Path:
    """The bundled snapshot with some files replaced, e.g. ``actions_csv="ticker,date\\n"``."""
    directory = tmp_path / "snapshot"
    shutil.copytree(settings.DEFAULT_SNAPSHOT_DIR, directory)
    for name, text in files.items():
        (directory / name.replace("_csv", ".csv")).write_text(text, encoding="utf-8")
    return directory


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return frame.dtypes.astype(str).to_dict()


def test_nvda_closes_around_the_deepseek_selloff(bundled: SnapshotSource) -> None:
    batch = bundled.fetch_prices([UNIVERSE.get("NVDA")], FRIDAY, MONDAY)

    prices = batch.prices.set_index("trade_date")
    assert prices.at[pd.Timestamp(FRIDAY), "close"] == pytest.approx(142.62, abs=1e-4)
    assert prices.at[pd.Timestamp(MONDAY), "close"] == pytest.approx(118.42, abs=1e-4)
    assert prices.at[pd.Timestamp(MONDAY), "volume"] == 818_830_900
    assert batch.failures == []


def test_prices_have_the_contract_columns_and_dtypes(bundled: SnapshotSource) -> None:
    batch = bundled.fetch_prices(UNIVERSE.priced_securities(), FRIDAY, MONDAY)

    assert dtypes(batch.prices) == COLUMNS["daily_prices"]
    assert dtypes(batch.actions) == COLUMNS["corporate_actions"]
    assert not batch.prices.duplicated(["ticker", "trade_date"]).any()
    # ENR.DE's placeholder row of 2025-01-24 was removed from the snapshot (see SOURCES.md).
    assert set(batch.prices.loc[batch.prices["ticker"] == "ENR.DE", "trade_date"].dt.date) == {
        MONDAY
    }
    assert batch.prices.loc[batch.prices["ticker"] == "^SOX", "volume"].isna().all()
    assert "JPY=X" not in set(batch.prices["ticker"])


def test_tokyo_monday_session_is_there(bundled: SnapshotSource) -> None:
    batch = bundled.fetch_prices([UNIVERSE.get("9984.T")], MONDAY, MONDAY)

    assert batch.prices["trade_date"].dt.date.tolist() == [MONDAY]
    assert batch.prices["close"].iloc[0] == pytest.approx(9654.45, abs=1e-2)


def test_fx_rows_come_from_fetch_fx_with_yahoo_quoting(bundled: SnapshotSource) -> None:
    result = bundled.fetch_fx(UNIVERSE.fx_pairs(), MONDAY, MONDAY)

    assert dtypes(result.frame) == COLUMNS["fx_rates"]
    rates = result.frame.set_index("ticker")
    assert rates.loc["JPY=X", ["base_currency", "quote_currency"]].tolist() == ["USD", "JPY"]
    assert rates.loc["EURUSD=X", ["base_currency", "quote_currency"]].tolist() == ["EUR", "USD"]
    assert rates.at["JPY=X", "close"] == pytest.approx(155.744, abs=1e-3)
    assert rates.at["EURUSD=X", "close"] == pytest.approx(1.04676, abs=1e-5)
    assert result.failures == []


def test_actions_in_the_window_come_with_the_prices(bundled: SnapshotSource) -> None:
    batch = bundled.fetch_prices(
        [UNIVERSE.get("NVDA"), UNIVERSE.get("AVGO")], date(2024, 6, 1), date(2024, 7, 31)
    )

    actions = batch.actions.assign(action_date=batch.actions["action_date"].dt.date)
    assert {
        "ticker": "NVDA",
        "action_date": date(2024, 6, 10),
        "action_type": "split",
        "value": 10.0,
    } in actions.to_dict("records")
    assert {
        "ticker": "AVGO",
        "action_date": date(2024, 7, 15),
        "action_type": "split",
        "value": 10.0,
    } in actions.to_dict("records")
    assert actions["action_date"].between(date(2024, 6, 1), date(2024, 7, 31)).all()


def test_unknown_ticker_and_window_outside_coverage_are_failures(bundled: SnapshotSource) -> None:
    unknown = Security("ZZZZ", "Nothing", "equity", "XNYS", "USD", "^GSPC")

    batch = bundled.fetch_prices(
        [unknown, UNIVERSE.get("9984.T"), UNIVERSE.get("NVDA")], date(2024, 1, 2), date(2024, 3, 1)
    )

    assert batch.failures == [
        TickerFailure("ZZZZ", "not in snapshot (prices.csv)"),
        TickerFailure(
            "9984.T",
            "no rows in snapshot for 2024-01-02..2024-03-01 "
            "(snapshot covers 2024-06-10..2025-06-06)",
        ),
    ]
    assert set(batch.prices["ticker"]) == {"NVDA"}


def test_fundamentals_known_on_the_as_of_date(bundled: SnapshotSource) -> None:
    after = bundled.fetch_fundamentals(
        [UNIVERSE.get("NVDA"), UNIVERSE.get("TSM")], date(2025, 1, 27)
    )
    before = bundled.fetch_fundamentals([UNIVERSE.get("NVDA")], date(2024, 12, 19))

    assert dtypes(after.frame) == COLUMNS["fundamentals"]
    row = after.frame.iloc[0]
    assert (row["ticker"], row["as_of_date"].date(), row["name"], row["exchange"]) == (
        "NVDA",
        date(2024, 12, 20),
        "NVIDIA Corporation",
        "NMS",
    )
    assert row["market_cap"] == 3_298_803_056_640.0
    assert pd.isna(row["shares_outstanding"]) and pd.isna(row["trailing_pe"])
    assert after.failures == [TickerFailure("TSM", "not in snapshot (fundamentals.csv)")]
    assert before.frame.empty
    assert before.failures == [
        TickerFailure(
            "NVDA",
            "no rows in snapshot on or before 2024-12-19 (snapshot covers 2024-12-20..2024-12-20)",
        )
    ]


def test_fundamentals_history_up_to_as_of(tmp_path: Path) -> None:
    header = (
        "ticker,as_of,name,sector,industry,currency,exchange,shares_outstanding,market_cap,beta"
    )
    rows = [
        "NVDA,2024-06-28,NVIDIA Corporation,Technology,Semiconductors,USD,NMS,,3.0e12,1.7",
        "NVDA,2024-12-20,NVIDIA Corporation,Technology,Semiconductors,USD,NMS,,3.3e12,",
        "NVDA,2025-03-31,NVIDIA Corporation,Technology,Semiconductors,USD,NMS,,2.6e12,",
    ]
    source = SnapshotSource(
        snapshot_copy(tmp_path, fundamentals_csv="\n".join([header, *rows]) + "\n")
    )

    frame = source.fetch_fundamentals([UNIVERSE.get("NVDA")], date(2025, 1, 27)).frame

    assert frame["as_of_date"].dt.date.tolist() == [date(2024, 6, 28), date(2024, 12, 20)]
    assert frame["market_cap"].tolist() == [3.0e12, 3.3e12]
    assert frame["beta"].iloc[0] == 1.7


def test_share_counts_join_the_notes(tmp_path: Path) -> None:
    rows = [
        'NVDA,2024-11-15,24490000000,"common stock; cover says ""24.49 billion""",'
        "post-split (10:1),SEC 10-Q",
        'GOOGL,2024-10-22,12250000000,Class A + B + C,"no split in window, see 10-K",SEC 10-Q',
        "AMD,2024-10-25,1622000000,,,SEC 10-Q",
        "AMD,2026-01-30,1620000000,common stock,,SEC 10-K",
    ]
    source = SnapshotSource(
        snapshot_copy(tmp_path, shares_outstanding_csv="\n".join([SHARES_HEADER, *rows]) + "\n")
    )
    securities = [UNIVERSE.get(ticker) for ticker in ("NVDA", "GOOGL", "AMD", "ORCL")]

    result = source.fetch_share_counts(securities, date(2024, 1, 1), date(2025, 6, 30))

    assert dtypes(result.frame) == COLUMNS["shares_outstanding"]
    notes = result.frame.set_index("ticker")["note"]
    assert notes["NVDA"] == 'common stock; cover says "24.49 billion"; post-split (10:1)'
    assert notes["GOOGL"] == "Class A + B + C; no split in window, see 10-K"
    assert pd.isna(notes["AMD"])
    assert result.frame.set_index("ticker").at["NVDA", "shares_outstanding"] == 24.49e9
    assert result.failures == [TickerFailure("ORCL", "not in snapshot (shares_outstanding.csv)")]


def test_quarterly_financials_are_empty_with_the_right_columns(bundled: SnapshotSource) -> None:
    result = bundled.fetch_quarterly_financials([UNIVERSE.get("NVDA")])

    assert result.frame.empty
    assert dtypes(result.frame) == COLUMNS["quarterly_financials"]
    assert result.failures == [TickerFailure("NVDA", "the snapshot has no quarterly financials")]


def test_missing_directory_file_or_column_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"snapshot directory .*nowhere does not exist"):
        SnapshotSource(tmp_path / "nowhere")

    directory = snapshot_copy(tmp_path)
    (directory / "actions.csv").unlink()
    with pytest.raises(SourceError, match=r"snapshot file .*actions\.csv does not exist"):
        SnapshotSource(directory)

    (directory / "actions.csv").write_text(
        "ticker,date,value\nNVDA,2024-06-10,10.0\n", encoding="utf-8"
    )
    with pytest.raises(SourceError, match=r"actions\.csv lacks column\(s\) \['action'\]"):
        SnapshotSource(directory)


def test_an_unparseable_file_is_a_source_error_naming_it(tmp_path: Path) -> None:
    # An unquoted comma inside a note shifts the row by one field.
    broken = (
        "NVDA,2024-08-23,24530000000,common stock,"
        "post-split (10:1; distributed 2024-06-07, first session 2024-06-10),SEC\n"
    )
    source = SnapshotSource(
        snapshot_copy(tmp_path, shares_outstanding_csv=SHARES_HEADER + "\n" + broken)
    )

    with pytest.raises(
        SourceError, match=r"shares_outstanding\.csv cannot be parsed: .*Expected 6 columns, got 7"
    ):
        source.fetch_share_counts([UNIVERSE.get("NVDA")], date(2024, 1, 1), date(2025, 6, 30))


def test_files_are_parsed_once_per_process(bundled: SnapshotSource) -> None:
    bundled.fetch_prices([UNIVERSE.get("NVDA")], FRIDAY, MONDAY)
    parsed = snapshot_source._parse.cache_info().misses

    SnapshotSource(settings.DEFAULT_SNAPSHOT_DIR).fetch_fx(UNIVERSE.fx_pairs(), FRIDAY, MONDAY)

    assert snapshot_source._parse.cache_info().misses == parsed


def test_broken_snapshot_files_are_permanent_errors(tmp_path: Path) -> None:
    """A bad header or an unparsable file is bad data: the step fails at once, never retried."""
    directory = snapshot_copy(tmp_path)
    (directory / "actions.csv").write_text("ticker,date\n", encoding="utf-8")
    with pytest.raises(SourceDataError) as raised:
        SnapshotSource(directory)
    assert not is_transient(raised.value)
