from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.universe import (
    Security,
    UniverseError,
    fx_quote_currencies,
    load_universe,
    universe_frame,
)

HEADER = "ticker,name,role,exchange,currency,benchmark"
VALID_ROWS = [
    "NVDA,NVIDIA Corporation,equity,XNAS,USD,^GSPC",
    "BRK-B,Berkshire Hathaway,equity,XNYS,USD,^GSPC",
    "9984.T,SoftBank Group Corp.,equity,XTKS,JPY,^N225",
    "ENR.DE,Siemens Energy AG,equity,XETR,EUR,^GDAXI",
    "SPY,SPDR S&P 500 ETF Trust,etf,XNYS,USD,^GSPC",
    "^GSPC,S&P 500,index,XNYS,USD,",
    "^N225,Nikkei 225,index,XTKS,JPY,",
    "^GDAXI,DAX,index,XETR,EUR,",
    "JPY=X,US dollar in yen,fx,FX,JPY,",
    "EURUSD=X,Euro in dollars,fx,FX,EUR,",
]


def write_universe(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "universe.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_bundled_universe_loads_and_is_consistent() -> None:
    universe = load_universe()

    assert universe.get("NVDA") == Security(
        "NVDA", "NVIDIA Corporation", "equity", "XNAS", "USD", "^GSPC"
    )
    assert universe.currencies() == {"USD", "JPY", "EUR"}
    assert [pair.ticker for pair in universe.fx_pairs()] == ["JPY=X", "EURUSD=X"]
    assert {s.role for s in universe.priced_securities()} == {"equity", "etf", "index"}
    assert len(universe.priced_securities()) + len(universe.fx_pairs()) == len(universe)
    assert universe.get("9984.T").benchmark == "^N225"


def test_valid_file_loads_every_row_in_order(tmp_path: Path) -> None:
    universe = load_universe(write_universe(tmp_path, VALID_ROWS))

    assert universe.tickers() == tuple(row.split(",")[0] for row in VALID_ROWS)
    assert universe.get("^GSPC").benchmark is None
    assert [s.ticker for s in universe.equities_and_etfs()] == [
        "NVDA",
        "BRK-B",
        "9984.T",
        "ENR.DE",
        "SPY",
    ]
    assert universe.exchanges() == {"XNAS", "XNYS", "XTKS", "XETR", "FX"}


@pytest.mark.parametrize(
    ("bad_row", "ticker", "message"),
    [
        ("nvda x,Bad,equity,XNAS,USD,^GSPC", "nvda x", "malformed ticker"),
        (",No ticker,equity,XNAS,USD,^GSPC", "", "malformed ticker"),
        ("AAPL,Apple,stock,XNAS,USD,^GSPC", "AAPL", "unknown role 'stock'"),
        ("AAPL,Apple,equity,NASDAQ-GS,USD,^GSPC", "AAPL", "unknown exchange 'NASDAQ-GS'"),
        ("AAPL,Apple,equity,FX,USD,^GSPC", "AAPL", "exchange FX is for fx rows only"),
        ("AAPL,Apple,equity,XNAS,,^GSPC", "AAPL", "currency '' is not a 3-letter ISO code"),
        ("AAPL,Apple,equity,XNAS,usd,^GSPC", "AAPL", "currency 'usd' is not a 3-letter ISO code"),
        ("NVDA,NVIDIA again,equity,XNAS,USD,^GSPC", "NVDA", "duplicate ticker"),
        ("AAPL,Apple,equity,XNAS,USD,", "AAPL", "benchmark is required for role equity"),
        ("QQQ,Invesco QQQ,etf,XNAS,USD,", "QQQ", "benchmark is required for role etf"),
        (
            "AAPL,Apple,equity,XNAS,USD,^IXIC",
            "AAPL",
            "benchmark '^IXIC' is not an index of the universe",
        ),
        (
            "AAPL,Apple,equity,XNAS,USD,SPY",
            "AAPL",
            "benchmark 'SPY' is not an index of the universe",
        ),
        ("^IXIC,Nasdaq,index,XNAS,USD,^GSPC", "^IXIC", "benchmark must be empty for role index"),
        ("GBP=X,Pound,fx,FX,GBP,^GSPC", "GBP=X", "benchmark must be empty for role fx"),
        ("SAP.DE,SAP,equity,XETR,CHF,^GDAXI", "SAP.DE", "currency CHF has no fx row"),
        ("GBPJPY=X,Pound in yen,fx,FX,GBP,", "GBPJPY=X", "not a USD currency pair"),
        ("USD=X,Dollar,fx,FX,USD,", "USD=X", "not a USD currency pair"),
        ("CHF=X,Franc,fx,XNYS,CHF,", "CHF=X", "exchange FX is for fx rows only"),
        ("GBP=X,Pound,fx,FX,CHF,", "GBP=X", "converts GBP, but its currency column says 'CHF'"),
    ],
)
def test_bad_row_is_rejected_naming_file_line_and_ticker(
    tmp_path: Path, bad_row: str, ticker: str, message: str
) -> None:
    path = write_universe(tmp_path, [*VALID_ROWS, bad_row])
    bad_line = len(VALID_ROWS) + 2  # the header is line 1

    with pytest.raises(UniverseError) as raised:
        load_universe(path)

    text = str(raised.value)
    problem = next(line for line in text.splitlines() if message in line)
    assert f"{path} line {bad_line}" in problem
    assert (f"ticker {ticker!r}" if ticker else "empty ticker") in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write_universe(
        tmp_path,
        [*VALID_ROWS, "AAPL,Apple,stock,XNAS,USD,^GSPC", "MSFT,Microsoft,equity,XNAS,usd,^GSPC"],
    )

    with pytest.raises(
        UniverseError, match=r"(?s)line 12 \(ticker 'AAPL'\).*line 13 \(ticker 'MSFT'\)"
    ):
        load_universe(path)


def test_missing_column_and_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(UniverseError, match=r"lacks column\(s\) \['benchmark'\]"):
        load_universe(
            write_universe(
                tmp_path, ["^GSPC,S&P 500,index,XNYS,USD"], header=HEADER.removesuffix(",benchmark")
            )
        )
    with pytest.raises(UniverseError, match=r"nowhere\.csv does not exist"):
        load_universe(tmp_path / "nowhere.csv")


def test_fx_quote_currencies_follow_yahoo_quoting() -> None:
    assert fx_quote_currencies("JPY=X") == ("USD", "JPY")
    assert fx_quote_currencies("EURUSD=X") == ("EUR", "USD")
    with pytest.raises(ValueError, match="EURJPY=X"):
        fx_quote_currencies("EURJPY=X")


def test_universe_frame_has_the_raw_securities_columns(tmp_path: Path) -> None:
    frame = universe_frame(load_universe(write_universe(tmp_path, VALID_ROWS)))

    assert list(frame.columns) == ["ticker", "name", "role", "exchange", "currency", "benchmark"]
    assert all(dtype == "str" for dtype in frame.dtypes)
    by_ticker = frame.set_index("ticker")
    assert by_ticker.at["9984.T", "benchmark"] == "^N225"
    assert by_ticker["benchmark"].isna()[["^GSPC", "JPY=X"]].all()


def test_a_universe_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts the file with a BOM, which used to hide the ticker column."""
    path = tmp_path / "universe.csv"
    path.write_text("\n".join([HEADER, *VALID_ROWS]) + "\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert load_universe(path).get("NVDA").exchange == "XNAS"
