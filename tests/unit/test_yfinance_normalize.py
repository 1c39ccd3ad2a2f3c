"""Normalisation of yfinance 1.x responses, on hand-built frames of yfinance's exact shapes.

``history`` builds what ``Ticker.history(actions=True, auto_adjust=False)`` returns for one ticker
and ``download_frame`` assembles several of them the way ``yf.download`` does (union of the
indexes, all-NaN padding, ``Price``/``Ticker`` column levels). A contract test runs the real
``yf.download`` on the same histories to prove the builders match it.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from warehouse.sources.base import SourceError, TickerFailure
from warehouse.sources.normalize import (
    UnusableResponse,
    fundamentals_frame,
    fundamentals_record,
    normalize_fx_download,
    normalize_price_download,
    quarterly_rows,
    share_count_rows,
)
from warehouse.universe import Security

NVDA = Security("NVDA", "NVIDIA", "equity", "XNAS", "USD", "^GSPC")
SOFTBANK = Security("9984.T", "SoftBank Group", "equity", "XTKS", "JPY", "^N225")
SIEMENS_ENERGY = Security("ENR.DE", "Siemens Energy", "equity", "XETR", "EUR", "^GDAXI")
SOX = Security("^SOX", "PHLX Semiconductor", "index", "XNAS", "USD", None)
MISSING = Security("GONE", "Delisted Inc.", "equity", "XNYS", "USD", "^GSPC")
JPY = Security("JPY=X", "USD in JPY", "fx", "FX", "JPY", None)
EUR = Security("EURUSD=X", "EUR in USD", "fx", "FX", "EUR", None)

NEW_YORK, TOKYO, FRANKFURT, LONDON = (
    "America/New_York",
    "Asia/Tokyo",
    "Europe/Berlin",
    "Europe/London",
)
FRIDAY, MONDAY = date(2025, 1, 24), date(2025, 1, 27)


def history(
    dates: list[str],
    tz: str,
    closes: list[float],
    *,
    volumes: list[float] | None = None,
    dividends: list[float] | None = None,
    splits: list[float] | None = None,
) -> pd.DataFrame:
    """One ticker's daily bars as Ticker.history returns them: midnight of the exchange-local date
    in the exchange's timezone."""
    index = pd.DatetimeIndex(pd.to_datetime(dates)).tz_localize(tz).rename("Date")
    close = np.array(closes, dtype=float)
    zeros = [0.0] * len(dates)
    return pd.DataFrame(
        {
            "Open": close + 1,
            "High": close + 2,
            "Low": close - 2,
            "Close": close,
            "Adj Close": close * 0.99,
            "Volume": volumes
            if volumes is not None
            else [1_000 * (i + 1) for i in range(len(dates))],
            "Dividends": dividends or zeros,
            "Stock Splits": splits or zeros,
        },
        index=index,
    )


def failed_history() -> pd.DataFrame:
    """What yfinance keeps for a ticker whose download failed (utils.empty_df)."""
    columns = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
    return pd.DataFrame({column: pd.Series(dtype=float) for column in columns}).rename_axis("Date")


def download_frame(
    histories: dict[str, pd.DataFrame],
    *,
    group_by: str = "column",
    ignore_tz: bool = True,
    convert_to: str | None = None,
    multi_level_index: bool = True,
) -> pd.DataFrame:
    """yf.download's assembly: with ignore_tz (the daily default) every index keeps its local wall
    time without a zone; otherwise all are converted to one zone (the most common exchange zone,
    or UTC in older releases), then unioned, so other tickers' days become all-NaN rows."""
    frames = {}
    for ticker, frame in histories.items():
        if not frame.empty:
            frame = frame.tz_localize(None) if ignore_tz else frame.tz_convert(convert_to)
        frames[ticker] = frame
    index = pd.DatetimeIndex([])
    for frame in frames.values():
        if not frame.empty:
            index = frame.index if index.empty else index.union(frame.index)
    frames = {ticker: frame.reindex(index) for ticker, frame in frames.items()}
    data = pd.concat(
        frames.values(), axis=1, sort=True, keys=frames.keys(), names=["Ticker", "Price"]
    )
    if group_by == "column":
        data.columns = data.columns.swaplevel(0, 1)
        data = data.sort_index(level=0, axis=1)
    if not multi_level_index and len(histories) == 1:
        data = data.droplevel(0 if group_by == "ticker" else 1, axis=1).rename_axis(None, axis=1)
    return data


def nvda_history() -> pd.DataFrame:
    return history(["2025-01-23", "2025-01-24", "2025-01-27"], NEW_YORK, [147.22, 142.62, 118.42])


def softbank_history() -> pd.DataFrame:
    return history(["2025-01-24", "2025-01-27", "2025-01-28"], TOKYO, [10531.0, 9654.0, 9150.0])


def siemens_energy_history() -> pd.DataFrame:
    return history(["2025-01-23", "2025-01-27"], FRANKFURT, [58.80, 48.32])


def closes(prices: pd.DataFrame) -> dict[tuple[str, date], float]:
    return {
        (row.ticker, row.trade_date.date()): row.close
        for row in prices[["ticker", "trade_date", "close"]].itertuples(index=False)
    }


def test_several_tickers_become_rows_with_the_contract_columns_and_dtypes() -> None:
    raw = download_frame(
        {
            "NVDA": nvda_history(),
            "^SOX": history(["2025-01-24", "2025-01-27"], NEW_YORK, [5341.94, 4853.24]),
        }
    )

    batch = normalize_price_download(raw, [NVDA, SOX], FRIDAY, MONDAY)

    assert list(batch.prices.columns) == [
        "ticker",
        "trade_date",
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
    ]
    assert batch.prices.dtypes.astype(str).to_dict() == {
        "ticker": "str",
        "trade_date": "datetime64[us]",
        "open": "float64",
        "high": "float64",
        "low": "float64",
        "close": "float64",
        "adj_close": "float64",
        "volume": "Int64",
    }
    # 2025-01-23 is before the requested window.
    assert closes(batch.prices) == {
        ("NVDA", FRIDAY): 142.62,
        ("NVDA", MONDAY): 118.42,
        ("^SOX", FRIDAY): 5341.94,
        ("^SOX", MONDAY): 4853.24,
    }
    nvda_monday = batch.prices.iloc[1]
    assert nvda_monday["adj_close"] == pytest.approx(118.42 * 0.99)
    assert nvda_monday["volume"] == 3_000
    assert batch.failures == []
    assert batch.actions.empty


@pytest.mark.parametrize("multi_level_index", [True, False])
def test_one_ticker_with_multiindex_or_flat_columns(multi_level_index: bool) -> None:
    raw = download_frame({"NVDA": nvda_history()}, multi_level_index=multi_level_index)
    assert isinstance(raw.columns, pd.MultiIndex) == multi_level_index

    batch = normalize_price_download(raw, [NVDA], FRIDAY, MONDAY)

    assert closes(batch.prices) == {("NVDA", FRIDAY): 142.62, ("NVDA", MONDAY): 118.42}


def test_group_by_ticker_layout_gives_the_same_rows() -> None:
    histories = {"NVDA": nvda_history(), "9984.T": softbank_history()}

    by_ticker = normalize_price_download(
        download_frame(histories, group_by="ticker"), [NVDA, SOFTBANK], FRIDAY, MONDAY
    )
    by_column = normalize_price_download(
        download_frame(histories), [NVDA, SOFTBANK], FRIDAY, MONDAY
    )

    pd.testing.assert_frame_equal(by_ticker.prices, by_column.prices)
    assert len(by_ticker.prices) == 4


@pytest.mark.parametrize(
    "histories",
    [
        pytest.param({"NVDA": nvda_history()}, id="absent-from-columns"),
        pytest.param({"NVDA": nvda_history(), "GONE": failed_history()}, id="all-nan-columns"),
    ],
)
def test_a_ticker_without_rows_is_a_failure_and_the_others_load(
    histories: dict[str, pd.DataFrame],
) -> None:
    batch = normalize_price_download(download_frame(histories), [NVDA, MISSING], FRIDAY, MONDAY)

    assert batch.failures == [TickerFailure("GONE", "no rows returned for 2025-01-24..2025-01-27")]
    assert set(batch.prices["ticker"]) == {"NVDA"}
    assert len(batch.prices) == 2


def test_every_ticker_failed_gives_empty_frames_and_failures() -> None:
    raw = download_frame({"GONE": failed_history()})

    batch = normalize_price_download(raw, [MISSING], FRIDAY, MONDAY)

    assert batch.prices.empty and list(batch.prices.columns)[:2] == ["ticker", "trade_date"]
    assert batch.failures == [TickerFailure("GONE", "no rows returned for 2025-01-24..2025-01-27")]


@pytest.mark.parametrize(
    "assembly",
    [
        pytest.param({"ignore_tz": True}, id="naive-local-wall-time"),
        pytest.param({"ignore_tz": False, "convert_to": NEW_YORK}, id="converted-to-new-york"),
        pytest.param({"ignore_tz": False, "convert_to": "UTC"}, id="converted-to-utc"),
        pytest.param({"ignore_tz": False, "convert_to": TOKYO}, id="converted-to-tokyo"),
    ],
)
def test_mixed_exchanges_keep_their_local_trading_dates(assembly: dict[str, object]) -> None:
    raw = download_frame(
        {"NVDA": nvda_history(), "9984.T": softbank_history(), "ENR.DE": siemens_energy_history()},
        **assembly,
    )

    batch = normalize_price_download(
        raw, [NVDA, SOFTBANK, SIEMENS_ENERGY], date(2025, 1, 23), date(2025, 1, 28)
    )

    assert closes(batch.prices) == {
        ("9984.T", FRIDAY): 10531.0,
        ("9984.T", MONDAY): 9654.0,
        ("9984.T", date(2025, 1, 28)): 9150.0,
        ("ENR.DE", date(2025, 1, 23)): 58.80,
        ("ENR.DE", MONDAY): 48.32,
        ("NVDA", date(2025, 1, 23)): 147.22,
        ("NVDA", FRIDAY): 142.62,
        ("NVDA", MONDAY): 118.42,
    }


def test_utc_index_really_shifts_tokyo_to_the_previous_day() -> None:
    # The premise of the test above: in UTC, Tokyo's Monday session is stamped Sunday 15:00.
    raw = download_frame({"9984.T": softbank_history()}, ignore_tz=False, convert_to="UTC")

    assert raw.index[1] == pd.Timestamp("2025-01-26 15:00", tz="UTC")
    assert closes(normalize_price_download(raw, [SOFTBANK], MONDAY, MONDAY).prices) == {
        ("9984.T", MONDAY): 9654.0
    }


def test_rows_without_a_close_are_dropped() -> None:
    nvda = nvda_history()
    nvda.loc[nvda.index[1], ["Close", "Adj Close"]] = np.nan

    batch = normalize_price_download(download_frame({"NVDA": nvda}), [NVDA], FRIDAY, MONDAY)

    assert closes(batch.prices) == {("NVDA", MONDAY): 118.42}


def test_volume_zero_is_null_for_an_index_but_kept_for_an_equity() -> None:
    raw = download_frame(
        {
            "^SOX": history(["2025-01-27"], NEW_YORK, [4853.24], volumes=[0]),
            "NVDA": history(["2025-01-27"], NEW_YORK, [118.42], volumes=[0]),
        }
    )

    prices = normalize_price_download(raw, [SOX, NVDA], MONDAY, MONDAY).prices.set_index("ticker")

    assert prices.at["^SOX", "volume"] is pd.NA
    assert prices.at["NVDA", "volume"] == 0


def test_dividends_and_splits_become_corporate_actions() -> None:
    nvda = history(
        ["2024-06-07", "2024-06-10", "2024-06-11"],
        NEW_YORK,
        [1208.88, 121.79, 120.91],
        dividends=[0.0, 0.0, 0.01],
        splits=[0.0, 10.0, 0.0],
    )

    batch = normalize_price_download(
        download_frame({"NVDA": nvda}), [NVDA], date(2024, 6, 7), date(2024, 6, 11)
    )

    assert batch.actions.dtypes.astype(str).to_dict() == {
        "ticker": "str",
        "action_date": "datetime64[us]",
        "action_type": "str",
        "value": "float64",
    }
    assert batch.actions.assign(action_date=batch.actions["action_date"].dt.date).to_dict(
        "records"
    ) == [
        {"ticker": "NVDA", "action_date": date(2024, 6, 10), "action_type": "split", "value": 10.0},
        {
            "ticker": "NVDA",
            "action_date": date(2024, 6, 11),
            "action_type": "dividend",
            "value": 0.01,
        },
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "returned a NoneType, not a DataFrame"),
        ("Too Many Requests", "returned a str, not a DataFrame"),
        (
            pd.DataFrame({"price": [1.0]}, index=pd.DatetimeIndex(["2025-01-27"])),
            "no 'Close' column",
        ),
        (
            pd.DataFrame({("Last", "NVDA"): [1.0]}, index=pd.DatetimeIndex(["2025-01-27"])),
            "no 'Close' column",
        ),
        (pd.DataFrame({"Close": [1.0]}, index=[0]), "Index index, not dates"),
    ],
)
def test_garbage_downloads_raise_source_error(raw: object, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        normalize_price_download(raw, [NVDA], FRIDAY, MONDAY)


def test_flat_columns_for_several_tickers_are_ambiguous() -> None:
    raw = download_frame({"NVDA": nvda_history()}, multi_level_index=False)

    with pytest.raises(SourceError, match=r"flat columns .* for 2 tickers"):
        normalize_price_download(raw, [NVDA, SOX], FRIDAY, MONDAY)


def test_fx_download_becomes_fx_rates_with_yahoo_quoting() -> None:
    raw = download_frame(
        {
            "JPY=X": history(["2025-01-24", "2025-01-27"], LONDON, [156.155, 155.744]),
            "EURUSD=X": history(["2025-01-24", "2025-01-27"], LONDON, [1.0416, 1.0468]),
        },
        ignore_tz=False,
        convert_to="UTC",
    )

    result = normalize_fx_download(raw, [JPY, EUR], FRIDAY, MONDAY)

    assert list(result.frame.columns) == [
        "ticker",
        "rate_date",
        "base_currency",
        "quote_currency",
        "open",
        "high",
        "low",
        "close",
    ]
    monday = result.frame[result.frame["rate_date"] == pd.Timestamp(MONDAY)].set_index("ticker")
    assert monday.loc["JPY=X", ["base_currency", "quote_currency", "close"]].tolist() == [
        "USD",
        "JPY",
        155.744,
    ]
    assert monday.loc["EURUSD=X", ["base_currency", "quote_currency", "close"]].tolist() == [
        "EUR",
        "USD",
        1.0468,
    ]
    assert result.failures == []


# yfinance 1.7 itself still passes inplace= to pandas, which pandas 3.1 deprecates.
@pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")
def test_real_yf_download_assembles_frames_like_the_builders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Contract test: runs yfinance's own download() offline, with Ticker.history replaced."""
    import yfinance
    import yfinance.multi

    histories = {"NVDA": nvda_history(), "9984.T": softbank_history()}

    class OfflineTicker:
        def __init__(self, ticker: str) -> None:
            self.ticker = ticker
            self._price_history = None

        def history(self, **_: object) -> pd.DataFrame:
            if self.ticker not in histories:
                raise yfinance.exceptions.YFRateLimitError()
            return histories[self.ticker].copy()

    monkeypatch.setattr(yfinance.multi, "Ticker", OfflineTicker)
    real = yfinance.download(
        ["NVDA", "9984.T", "GONE"],
        start="2025-01-23",
        end="2025-01-29",
        auto_adjust=False,
        actions=True,
        progress=False,
        threads=False,
    )

    built = download_frame({**histories, "GONE": failed_history()})
    pd.testing.assert_frame_equal(
        real.sort_index(axis=1), built.sort_index(axis=1), check_dtype=False
    )
    batch = normalize_price_download(
        real, [NVDA, SOFTBANK, MISSING], date(2025, 1, 23), date(2025, 1, 28)
    )
    assert batch.failures == [TickerFailure("GONE", "no rows returned for 2025-01-23..2025-01-28")]
    assert closes(batch.prices)[("9984.T", MONDAY)] == 9654.0


def test_info_becomes_a_fundamentals_row() -> None:
    info = {
        "longName": "NVIDIA Corporation",
        "shortName": "NVIDIA",
        "sector": "Technology",
        "industry": "Semiconductors",
        "currency": "USD",
        "exchange": "NMS",
        "sharesOutstanding": 24_490_000_000,
        "marketCap": 3_493_000_000_000,
        "trailingPE": "Infinity",
        "forwardPE": 30.5,
        "beta": 1.7,
    }

    frame = fundamentals_frame([fundamentals_record("NVDA", info, MONDAY)])

    row = frame.iloc[0]
    assert row["name"] == "NVIDIA Corporation"
    assert row["as_of_date"] == pd.Timestamp(MONDAY)
    assert row["shares_outstanding"] == 24_490_000_000.0
    assert row["forward_pe"] == 30.5
    assert np.isnan(row["trailing_pe"])  # Yahoo's 'Infinity' is not a number we keep
    assert np.isnan(row["price_to_book"]) and np.isnan(row["dividend_yield"])  # missing keys
    assert frame.dtypes["market_cap"] == "float64" and frame.dtypes["sector"] == "str"


def test_info_falls_back_to_the_short_name() -> None:
    record = fundamentals_record("SPY", {"shortName": "SPDR S&P 500", "currency": "USD"}, MONDAY)

    assert record["name"] == "SPDR S&P 500"
    assert record["sector"] is None


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({}, "info has none of the fields"),
        ({"trailingPegRatio": None}, "info has none of the fields"),
        (None, "info is a NoneType, not a dict"),
        ("<html>", "info is a str, not a dict"),
    ],
)
def test_empty_or_garbage_info_is_unusable(info: object, message: str) -> None:
    with pytest.raises(UnusableResponse, match=message):
        fundamentals_record("GONE", info, MONDAY)


def quarterly_statement() -> pd.DataFrame:
    """Ticker.quarterly_income_stmt: line items by period end, newest first, NaN where unknown."""
    periods = pd.to_datetime(["2024-10-31", "2024-07-31", "2024-04-30", "2023-10-31"])
    return pd.DataFrame(
        [
            [35_082e6, 30_040e6, 26_044e6, np.nan],
            [19_309e6, 16_599e6, 14_881e6, np.nan],
            [0.78, 0.67, 0.60, np.nan],
            [1e6, 2e6, 3e6, 4e6],
        ],
        index=["Total Revenue", "Net Income", "Diluted EPS", "Tax Effect Of Unusual Items"],
        columns=periods,
    )


def test_quarterly_income_statement_becomes_rows() -> None:
    rows = quarterly_rows("NVDA", quarterly_statement())

    assert list(rows.columns) == ["ticker", "period_end", "revenue", "net_income", "diluted_eps"]
    assert rows["period_end"].dt.date.tolist() == [
        date(2024, 4, 30),
        date(2024, 7, 31),
        date(2024, 10, 31),
    ]
    assert rows.iloc[-1][["revenue", "net_income", "diluted_eps"]].tolist() == [
        35_082e6,
        19_309e6,
        0.78,
    ]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (pd.DataFrame(), "no quarterly income statement"),
        (None, "no quarterly income statement"),
        (
            quarterly_statement().drop(["Total Revenue", "Net Income", "Diluted EPS"]),
            "none of the lines",
        ),
        (quarterly_statement().iloc[:3, 3:], "no values"),
    ],
)
def test_unusable_quarterly_statements(statement: object, message: str) -> None:
    with pytest.raises(UnusableResponse, match=message):
        quarterly_rows("NVDA", statement)


def test_share_counts_keep_the_last_value_of_each_local_date() -> None:
    stamps = pd.DatetimeIndex(
        [
            "2024-11-15 00:00",
            "2024-11-15 00:00",
            "2024-11-15 16:00",
            "2024-12-02 00:00",
            "2025-02-21 00:00",
        ]
    ).tz_localize(NEW_YORK)
    counts = pd.Series([24.50e9, 24.48e9, 24.49e9, 24.49e9, 24.40e9], index=stamps)

    rows = share_count_rows("NVDA", counts, date(2024, 11, 1), date(2024, 12, 31))

    assert list(rows.columns) == ["ticker", "as_of_date", "shares_outstanding", "note"]
    assert rows["as_of_date"].dt.date.tolist() == [date(2024, 11, 15), date(2024, 12, 2)]
    assert rows["shares_outstanding"].tolist() == [24.49e9, 24.49e9]
    assert rows["note"].isna().all()


@pytest.mark.parametrize("counts", [None, pd.Series(dtype=float)])
def test_missing_share_counts_are_unusable(counts: object) -> None:
    with pytest.raises(
        UnusableResponse, match=r"no share counts returned for 2024-01-01\.\.2024-12-31"
    ):
        share_count_rows("NVDA", counts, date(2024, 1, 1), date(2024, 12, 31))
