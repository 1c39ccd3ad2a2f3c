"""The S&P 500-wide snapshot (``warehouse/snapshot_broad``, issue #10) as raw-table frames.

NOT WIRED IN YET: nothing in the pipeline imports this module. It is pure functions over the
bundled files, so the lead can wire it behind ``SnapshotSource`` (see docs/BROAD_UNIVERSE.md).

The files are Parquet copies of the shared ``market_snapshot_broad`` CSVs, written by
``warehouse/snapshot_broad/convert.py``. ``prices.parquet`` is typed (every float there prints back
to the CSV text with ``repr``, which the converter checks); the small files keep every cell as the
CSV text (null = empty cell), and this module parses them. ``render_csv`` prints a file back to CSV
bytes: their SHA-256 equals the source CSV's, recorded in ``MANIFEST.json`` at conversion time.

Frames for the existing raw tables hold exactly their data columns and pandas dtypes
(``warehouse.sources.schema.COLUMNS``). Frames for the tables the broad data needs and the warehouse
does not have yet (the extended ``raw.quarterly_financials``, ``raw.factor_returns``,
``raw.price_bases``) follow ``PROPOSED_SPECS`` below, spelt in the style of
``warehouse/storage/tables.py``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.sources.schema import PANDAS_DTYPES, conform
from warehouse.storage.tables import Column, TableSpec
from warehouse.universe import COLUMNS as UNIVERSE_COLUMNS
from warehouse.universe import Security, Universe, universe_frame

BROAD_DIR = Path(__file__).resolve().parents[1] / "snapshot_broad"
MANIFEST = "MANIFEST.json"
# The one date the share counts (Yahoo Marketcap / Currentprice) hold.
SHARES_AS_OF = date(2024, 12, 20)
DEFAULT_BENCHMARK = "^GSPC"

# source CSV -> stored Parquet, and the types of the typed file; other columns are stored as text
FILES = {
    "prices.csv": "prices.parquet",
    "price_sources.csv": "price_sources.parquet",
    "securities.csv": "securities.parquet",
    "shares_outstanding.csv": "shares_outstanding.parquet",
    "quarterly_financials.csv": "quarterly_financials.parquet",
    "ff_factors_daily.csv": "ff_factors_daily.parquet",
}
PRICE_TYPES = {
    "ticker": pa.string(),
    "date": pa.date32(),
    "open": pa.float64(),
    "high": pa.float64(),
    "low": pa.float64(),
    "close": pa.float64(),
    "adj_close": pa.float64(),
    "volume": pa.int64(),
}
TYPED_FILES = {"prices.csv": PRICE_TYPES}

# securities.csv exchange (Yahoo names, from NothCK sp500_companies.csv) -> exchange_calendars code.
# "CBOE BZX" (only CBOE itself) -> BATS, exchange_calendars' alias of the XNYS calendar.
# "NYSE Arca" (SPY only) is not mapped: SPY is in today's universe, which wins.
EXCHANGE_CODES = {"NYSE": "XNYS", "NASDAQ": "XNAS", "CBOE BZX": "BATS"}
# SOURCES.md: the dane-anderson files are the "Nasdaq-100 set + SPY"; the Nasdaq-100 holds Nasdaq
# listings only, so a dane ticker without an exchange row is taken to be XNAS (marked inferred).
NASDAQ_100_SOURCE = "dane-anderson/equity-signal-engine"
ETFS = frozenset({"SPY"})

# price_sources.csv ohlc_adjusted text -> basis of close
BASIS_RAW = "raw"  # printed prices on the current split basis; adj_close = Yahoo Adj Close
BASIS_RAW_LATER_SPLIT = "raw_later_split"  # raw, back-adjusted for a split after 2024-12-20
BASIS_SPINOFF_SCALED = "spinoff_scaled"  # raw after a spin-off, scaled by a non-integer before it
BASIS_ADJUSTED = "split_dividend_adjusted"  # yfinance auto_adjust: close IS the adjusted close
NO_RAW_RETURN_REASON = (
    "close is split- and dividend-adjusted (yfinance auto_adjust, 0Ustinian0/Project0, as of "
    "~2026-02-01): no printed price, so no raw close return; total return = close/previous close"
)

_CAVEAT_FACTOR = re.compile(
    r"(?:(?P<mul>multiply) shares by (?P<m>\d+)|(?P<div>divide) shares by (?P<d>\d+))"
)
_MARKETCAP = re.compile(r"Marketcap (?P<cap>\d+) / Currentprice (?P<price>[0-9.]+)")
# Companies with several listed classes; Yahoo's Marketcap is whole-company for each of them.
COMPANY_CLASSES = {
    "GOOGL": "Alphabet",
    "GOOG": "Alphabet",
    "FOXA": "Fox Corporation",
    "FOX": "Fox Corporation",
    "NWSA": "News Corp",
    "NWS": "News Corp",
    "BRK-B": "Berkshire Hathaway",
}


def _spec(name: str, description: str, key: tuple[str, ...], *columns: Column) -> TableSpec:
    return TableSpec(name, description, key=key, columns=columns)


_TICKER = Column("ticker", "VARCHAR", "Yahoo Finance symbol, e.g. NVDA, 9984.T, ^GSPC, JPY=X")
PROPOSED_SPECS: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "quarterly_financials",
            "Quarterly income statement figures, with the dates they became public",
            ("ticker", "period_end"),
            _TICKER,
            Column("period_end", "DATE", "Last day of the fiscal quarter"),
            Column("revenue", "DOUBLE", "The quarter's revenue as reported"),
            Column("net_income", "DOUBLE", "The quarter's net_income as reported"),
            Column("diluted_eps", "DOUBLE", "The quarter's diluted_eps as reported"),
            Column("fiscal_period", "VARCHAR", "The issuer's fiscal quarter, e.g. Q4 FY2025"),
            Column(
                "filing_date",
                "DATE",
                "Date the 10-Q/10-K (or 6-K/20-F) was filed; null when unknown",
            ),
            Column(
                "earnings_release_date",
                "DATE",
                "Date the quarter's earnings were announced (earnings calendar); null when unknown",
            ),
            Column("currency", "VARCHAR", "ISO 4217 currency the figures are reported in"),
        ),
        _spec(
            "factor_returns",
            "Daily factor returns (Ken French data library), one row per factor and date",
            ("factor", "factor_date"),
            Column(
                "factor",
                "VARCHAR",
                "mkt_rf, smb, hml, rmw, cma, rf (5-factor 2x3 file) or mom (momentum file)",
            ),
            Column("factor_date", "DATE", "US trading date the return is for"),
            Column(
                "return_pct",
                "DOUBLE",
                "Return in PERCENT per day, as published (0.47 = "
                "0.47 %); rf is the daily risk-free rate",
            ),
        ),
        _spec(
            "price_bases",
            "What each ticker's stored close is: printed or adjusted, and as of which download",
            ("ticker",),
            _TICKER,
            Column(
                "close_basis",
                "VARCHAR",
                "raw, raw_later_split, spinoff_scaled or split_dividend_adjusted",
            ),
            Column(
                "has_adj_close", "BOOLEAN", "Whether adj_close carries the source's adjusted close"
            ),
            Column(
                "raw_return_null_reason",
                "VARCHAR",
                "Why no raw close return can be computed; null when it can",
            ),
            Column(
                "basis_note",
                "VARCHAR",
                "The source's own words (price_sources.csv "
                "ohlc_adjusted) and the file it came from",
            ),
        ),
    )
}
PROPOSED_DTYPES = {**PANDAS_DTYPES, "BOOLEAN": "bool"}
PROPOSED_COLUMNS: dict[str, dict[str, str]] = {
    name: {column.name: PROPOSED_DTYPES[column.type] for column in spec.columns}
    for name, spec in PROPOSED_SPECS.items()
}


def _conform_proposed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    columns = PROPOSED_COLUMNS[table]
    conformed = frame.reindex(columns=list(columns)).astype(columns)
    return conformed.sort_values(list(PROPOSED_SPECS[table].key), ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Reading and round-tripping the stored files


@lru_cache(maxsize=16)
def _read(path: Path, mtime_ns: int) -> pa.Table:
    return pq.read_table(path)


def read_arrow(name: str, directory: Path | None = None) -> pa.Table:
    """The stored table of a source CSV name (``prices.csv``), as written by convert.py."""
    path = Path(directory or BROAD_DIR) / FILES[name]
    return _read(path, path.stat().st_mtime_ns)


def read_frame(name: str, directory: Path | None = None) -> pd.DataFrame:
    """The stored file as pandas: prices typed (dates datetime64[us], volume Int64), the text files
    as ``str`` columns with NaN for an empty cell."""
    table = read_arrow(name, directory)
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get, date_as_object=False)
    for column, kind in TYPED_FILES.get(name, {}).items():
        if kind == pa.date32():
            frame[column] = frame[column].astype("datetime64[us]")
    text = [c for c in frame.columns if c not in TYPED_FILES.get(name, {})]
    return frame.astype({c: "str" for c in text}) if text else frame


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_csv(table: pa.Table) -> bytes:
    """The CSV text a stored table came from (Python csv dialect, minimal quoting, \\n lines).
    Floats print as Python's repr (shortest round-trip), null as an empty cell."""
    if all(pa.types.is_string(field.type) for field in table.schema):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(table.column_names)
        columns = [table.column(name).to_pylist() for name in table.column_names]
        writer.writerows([_cell(v) for v in row] for row in zip(*columns, strict=True))
        return buffer.getvalue().encode("utf-8")
    return _render_typed(table)


def _render_typed(table: pa.Table) -> bytes:
    """Vectorised printing of a typed table without text that needs quoting (prices.csv)."""
    cells = []
    for name in table.column_names:
        column = table.column(name)
        text = pc.cast(column, pa.string())
        if pa.types.is_floating(column.type):
            # Arrow prints 165.0 as "165"; Python's repr, which the CSV holds, as "165.0"
            whole = pc.match_substring_regex(text, r"^-?[0-9]+$")
            text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
        elif (
            pa.types.is_string(column.type)
            and pc.any(pc.match_substring_regex(column, r'[",\r\n]')).as_py()
        ):
            raise ValueError(f"column {name} holds text that needs CSV quoting")
        cells.append(pc.fill_null(text, ""))
    lines = pc.binary_join_element_wise(*cells, ",").combine_chunks()
    lines = pc.binary_join_element_wise(lines, "", "\n")  # "row\n"
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    data = lines.buffers()[2].to_pybytes()[offsets[0] : offsets[len(lines)]]
    return (",".join(table.column_names) + "\n").encode("utf-8") + data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(directory: Path | None = None) -> dict:
    return json.loads((Path(directory or BROAD_DIR) / MANIFEST).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# Per-ticker facts


def price_bases(directory: Path | None = None) -> pd.DataFrame:
    """One row per priced ticker (proposed ``raw.price_bases``): the basis of its close, read
    from price_sources.csv, and why a raw close return is impossible for the adjusted-only ones."""
    sources = read_frame("price_sources.csv", directory)
    text = sources["ohlc_adjusted"]
    basis = pd.Series(BASIS_RAW, index=sources.index)
    basis[text.str.startswith("split-adjusted only")] = BASIS_RAW_LATER_SPLIT
    basis[text.str.startswith("PARTLY")] = BASIS_SPINOFF_SCALED
    basis[text.str.startswith("yes")] = BASIS_ADJUSTED
    unknown = ~(text.str.startswith(("no (raw", "split-adjusted only", "PARTLY", "yes")))
    if unknown.any():
        raise ValueError(f"unrecognised ohlc_adjusted text: {sorted(set(text[unknown]))}")
    frame = pd.DataFrame(
        {
            "ticker": sources["ticker"],
            "close_basis": basis,
            "has_adj_close": sources["adj_close"].eq("yahoo_adj_close"),
            "raw_return_null_reason": basis.where(
                basis != BASIS_ADJUSTED, NO_RAW_RETURN_REASON
            ).where(basis == BASIS_ADJUSTED, None),
            "basis_note": text
            + " | "
            + sources["source_repo"]
            + " "
            + sources["path"]
            + " @"
            + sources["file_commit"],
        }
    )
    return _conform_proposed(frame, "price_bases")


def share_basis_factors(directory: Path | None = None) -> pd.DataFrame:
    """ticker, factor, caveat: the factor a 2024-12-20 count is multiplied by to be on the share
    basis of prices.csv, as the CAVEAT in shares_outstanding.csv states it (x25 BKNG ... /5 AMCR).
    Tickers without such a caveat are on the prices' basis already (factor 1, not listed)."""
    shares = read_frame("shares_outstanding.csv", directory)
    rows = []
    for ticker, source in zip(shares["ticker"], shares["source"], strict=True):
        match = _CAVEAT_FACTOR.search(source)
        if match:
            factor = float(match["m"]) if match["mul"] else 1.0 / float(match["d"])
            rows.append((ticker, factor, source.split("CAVEAT:", 1)[1].strip()))
    return pd.DataFrame(rows, columns=["ticker", "factor", "caveat"]).astype(
        {"ticker": "str", "factor": "float64", "caveat": "str"}
    )


def _marketcap_inputs(directory: Path | None = None) -> pd.DataFrame:
    """ticker, shares_outstanding, marketcap, currentprice: each count's quoted Yahoo inputs."""
    shares = read_frame("shares_outstanding.csv", directory)
    quoted = shares["source"].str.extract(_MARKETCAP)
    if quoted.isna().any().any():
        raise ValueError("a shares_outstanding.csv source does not quote Marketcap / Currentprice")
    return pd.DataFrame(
        {
            "ticker": shares["ticker"],
            "shares_outstanding": shares["shares_outstanding"].astype("float64"),
            "marketcap": quoted["cap"].astype("float64"),
            "currentprice": quoted["price"].astype("float64"),
        }
    )


def share_basis_check(directory: Path | None = None) -> pd.DataFrame:
    """For each of the 480 counts: shares x factor x close(2024-12-20) against the Yahoo Marketcap
    the count was derived from. ``ratio`` = Marketcap / (shares x factor x close); ``explanation``
    classifies every ticker (exact, dividend-adjusted close, spin-off scaled, multi-class)."""
    inputs = _marketcap_inputs(directory)
    factors = share_basis_factors(directory).set_index("ticker")["factor"]
    prices = read_frame("prices.csv", directory)
    closes = prices.loc[prices["date"] == pd.Timestamp(SHARES_AS_OF), ["ticker", "close"]]
    bases = price_bases(directory).set_index("ticker")["close_basis"]
    check = inputs.merge(closes, on="ticker", how="left")
    check["factor"] = check["ticker"].map(factors).fillna(1.0)
    check["close_basis"] = check["ticker"].map(bases)
    check["market_value"] = check["shares_outstanding"] * check["factor"] * check["close"]
    check["ratio"] = check["marketcap"] / check["market_value"]
    check["price_ratio"] = check["currentprice"] / (check["close"] * check["factor"])
    exact = (check["ratio"] - 1).abs() < 1e-6
    check["explanation"] = "UNEXPLAINED"
    check.loc[exact, "explanation"] = "exact"
    adjusted = check["close_basis"].eq(BASIS_ADJUSTED) & ~exact
    check.loc[adjusted, "explanation"] = (
        "close is dividend-adjusted (auto_adjust ~2026-02): Currentprice/close = later-dividend "
        "factor"
    )
    spin = check["close_basis"].eq(BASIS_SPINOFF_SCALED) & ~exact
    check.loc[spin, "explanation"] = "close scaled by Yahoo's spin-off factor (PARTLY)"
    multi = check["ticker"].isin(list(COMPANY_CLASSES))
    check.loc[multi & ~exact, "explanation"] = "multi-class: " + check["explanation"]
    return check


def company_keys() -> pd.DataFrame:
    """ticker -> company_key of the multi-class companies; any other ticker is its own company."""
    return pd.DataFrame(sorted(COMPANY_CLASSES.items()), columns=["ticker", "company_key"]).astype(
        "str"
    )


# ---------------------------------------------------------------------------------------------
# Frames in the raw-table contracts


def _only(frame: pd.DataFrame, tickers: Iterable[str] | None) -> pd.DataFrame:
    if tickers is None:
        return frame
    return frame[frame["ticker"].isin(list(tickers))]


def prices(directory: Path | None = None, tickers: Iterable[str] | None = None) -> pd.DataFrame:
    """``raw.daily_prices`` rows. adj_close is null for the 423 adjusted-only series (there close
    already is the adjusted close); ``price_bases`` says which."""
    frame = _only(read_frame("prices.csv", directory), tickers)
    return conform(frame.rename(columns={"date": "trade_date"}), "daily_prices")


def share_counts(
    directory: Path | None = None, tickers: Iterable[str] | None = None
) -> pd.DataFrame:
    """``raw.shares_outstanding`` rows, as_of 2024-12-20, the count as derived in the source
    (Marketcap / Currentprice, NOT multiplied by any later split). ``note`` carries the source text,
    including its CAVEAT (later split, multi-class), and says the figure is derived."""
    frame = _only(read_frame("shares_outstanding.csv", directory), tickers)
    frame = frame.assign(
        as_of_date=pd.to_datetime(frame["as_of"]).astype("datetime64[us]"),
        shares_outstanding=frame["shares_outstanding"].astype("float64"),
        note="DERIVED, not a filed count (Yahoo Marketcap / Currentprice); share basis of "
        + frame["as_of"]
        + ": "
        + frame["source"],
    )
    return conform(frame, "shares_outstanding")


def fundamentals(
    directory: Path | None = None, tickers: Iterable[str] | None = None
) -> pd.DataFrame:
    """``raw.fundamentals`` rows as_of 2024-12-20 for the tickers with a Yahoo Marketcap: name and
    GICS sector/sub-industry (securities.csv), currency, exchange as the source names it, and the
    reported market_cap. shares_outstanding stays null (the count is derived, see share_counts)."""
    securities = read_frame("securities.csv", directory)
    caps = _marketcap_inputs(directory)[["ticker", "marketcap"]]
    frame = _only(securities.merge(caps, on="ticker", how="inner"), tickers)
    frame = frame.assign(
        as_of_date=pd.Timestamp(SHARES_AS_OF),
        market_cap=frame["marketcap"],
        name=frame["name"].replace("", None),
    )
    return conform(frame, "fundamentals")


def quarterly_financials(
    directory: Path | None = None, tickers: Iterable[str] | None = None
) -> pd.DataFrame:
    """Proposed ``raw.quarterly_financials`` rows (the existing columns plus fiscal_period,
    filing_date, earnings_release_date, currency). filing_date = FMP ``fillingDate`` (the CSV's
    report_date); earnings_release_date = FMP earnings-calendar date."""
    frame = _only(read_frame("quarterly_financials.csv", directory), tickers)

    def day(column: str) -> pd.Series:
        return pd.to_datetime(frame[column]).astype("datetime64[us]")

    frame = frame.assign(
        period_end=day("period_end"),
        filing_date=day("report_date"),
        earnings_release_date=day("earnings_release_date"),
        revenue=frame["revenue"].astype("float64"),
        net_income=frame["net_income"].astype("float64"),
        diluted_eps=frame["eps_diluted"].astype("float64"),
    )
    return _conform_proposed(frame, "quarterly_financials")


def available_date(financials: pd.DataFrame) -> pd.Series:
    """The point-in-time rule: a quarter becomes public on its earnings_release_date, else on its
    filing_date; NEVER on period_end. A date on or before period_end is not credible (FMP puts the
    period end, or a day or two before it, into some rows) and counts as unknown. Null when neither
    date is credible: such a quarter must not be used point-in-time. Raw values stay as given."""
    after_end = {
        column: financials[column].where(financials[column] > financials["period_end"])
        for column in ("earnings_release_date", "filing_date")
    }
    return after_end["earnings_release_date"].fillna(after_end["filing_date"])


def factor_returns(directory: Path | None = None) -> pd.DataFrame:
    """Proposed ``raw.factor_returns`` rows: one per factor and date, return_pct in PERCENT."""
    wide = read_frame("ff_factors_daily.csv", directory)
    long = wide.melt(id_vars="date", var_name="factor", value_name="return_pct")
    long = long.assign(
        factor_date=pd.to_datetime(long["date"]).astype("datetime64[us]"),
        return_pct=long["return_pct"].astype("float64"),
    )
    return _conform_proposed(long, "factor_returns")


# ---------------------------------------------------------------------------------------------
# The union universe


@dataclass(frozen=True)
class UniverseRow:
    security: Security
    provenance: str


@dataclass(frozen=True)
class HeldOut:
    ticker: str
    reason: str


def _read_universe_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {c: (row[c] or "").strip() for c in UNIVERSE_COLUMNS} for row in csv.DictReader(handle)
        ]


def union_universe(
    universe_path: Path | None = None,
    directory: Path | None = None,
    benchmark: str = DEFAULT_BENCHMARK,
    unknown_exchange: str | None = None,
) -> tuple[list[UniverseRow], list[HeldOut]]:
    """Today's universe.csv rows unchanged and in order, then every broad ticker not already in it
    (sorted), as Security rows with their provenance; and the broad tickers left out, with why.

    A broad ticker is left out when the data has no name for it (14 of the 17 without GICS) or no
    exchange that can be stated from the data (19 later S&P 500 joiners). ``unknown_exchange``
    (e.g. "XNYS") admits the latter with that code as a CALENDAR PROXY, marked so in provenance.
    ``benchmark`` must be an index of the universe for load_universe to accept the file (SPY is an
    etf there, hence ^GSPC, the existing US equities' benchmark)."""
    from warehouse import settings

    rows = _read_universe_rows(Path(universe_path or settings.universe_path()))
    kept = [
        UniverseRow(
            Security(
                r["ticker"],
                r["name"],
                r["role"],
                r["exchange"],
                r["currency"],
                r["benchmark"] or None,
            ),
            "warehouse/universe.csv (today's universe, kept unchanged)",
        )
        for r in rows
    ]
    present = {row.security.ticker for row in kept}
    securities = read_frame("securities.csv", directory).set_index("ticker")
    sources = read_frame("price_sources.csv", directory).set_index("ticker")
    added: list[UniverseRow] = []
    held_out: list[HeldOut] = []
    for ticker in sorted(set(sources.index) - present):
        info = securities.loc[ticker]
        name, exchange_name = _text(info["name"]), _text(info["exchange"])
        if not name:
            held_out.append(
                HeldOut(
                    ticker,
                    "securities.csv has no name (not in any S&P 500 "
                    "constituents version used) and no exchange row",
                )
            )
            continue
        where = f"securities.csv ({info['source']})"
        if exchange_name in EXCHANGE_CODES:
            exchange = EXCHANGE_CODES[exchange_name]
            where += f"; exchange {exchange_name!r} -> {exchange}"
        elif sources.at[ticker, "source_repo"] == NASDAQ_100_SOURCE:
            exchange = "XNAS"
            where += (
                "; exchange INFERRED XNAS: no row in NothCK sp500_companies.csv, ticker is "
                "in the Nasdaq-100 set of dane-anderson/equity-signal-engine (SOURCES.md)"
            )
        elif unknown_exchange:
            exchange = unknown_exchange
            where += (
                f"; exchange NOT IN DATA: {unknown_exchange} used as calendar proxy only "
                "(every broad series has exactly the NYSE sessions), listing to confirm"
            )
        else:
            held_out.append(
                HeldOut(
                    ticker,
                    "no exchange in securities.csv (no row in NothCK "
                    "sp500_companies.csv, Dec-2024 S&P 500 list) and not a "
                    "Nasdaq-100 source ticker",
                )
            )
            continue
        role = "etf" if ticker in ETFS else "equity"
        added.append(
            UniverseRow(
                Security(ticker, name, role, exchange, "USD", benchmark),
                f"market_snapshot_broad: prices {sources.at[ticker, 'source_repo']}; {where}; "
                "currency USD inferred from the US listing (SOURCES.md)",
            )
        )
    return kept + added, held_out


def _text(value: object) -> str:
    return "" if pd.isna(value) else str(value).strip()


def universe_csv_text(rows: Sequence[UniverseRow]) -> str:
    """universe.csv text with an extra provenance column (load_universe ignores extra columns)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*UNIVERSE_COLUMNS, "provenance"])
    for row in rows:
        s = row.security
        writer.writerow(
            [s.ticker, s.name, s.role, s.exchange, s.currency, s.benchmark or "", row.provenance]
        )
    return buffer.getvalue()


def securities_frame(rows: Sequence[UniverseRow]) -> pd.DataFrame:
    """``raw.securities`` rows of union_universe's securities (as ``universe.universe_frame``)."""
    return universe_frame(Universe(tuple(row.security for row in rows)))


__all__ = [
    "BROAD_DIR",
    "PROPOSED_COLUMNS",
    "PROPOSED_SPECS",
    "available_date",
    "company_keys",
    "factor_returns",
    "fundamentals",
    "price_bases",
    "prices",
    "quarterly_financials",
    "render_csv",
    "securities_frame",
    "share_basis_check",
    "share_basis_factors",
    "share_counts",
    "union_universe",
    "universe_csv_text",
]
