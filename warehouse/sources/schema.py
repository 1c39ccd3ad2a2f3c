"""The frames a source delivers: the data columns of the raw tables it feeds, in the order and with
the key that ``warehouse.storage.RAW_TABLES`` declares, as pandas dtypes; and the helpers both
sources use to shape their frames into them.

Dates are naive ``datetime64[us]`` at midnight, holding the exchange-local date (DuckDB casts them
to DATE); text is pandas' ``str`` dtype with NaN for null; numbers are float64 with NaN for null;
volume is nullable ``Int64``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from warehouse.storage.tables import RAW_TABLES
from warehouse.universe import fx_quote_currencies

FLOAT = "float64"
PANDAS_DTYPES = {"VARCHAR": "str", "DATE": "datetime64[us]", "DOUBLE": FLOAT, "BIGINT": "Int64"}
SOURCE_TABLES = (
    "daily_prices",
    "corporate_actions",
    "fx_rates",
    "fundamentals",
    "quarterly_financials",
    "shares_outstanding",
)

COLUMNS: dict[str, dict[str, str]] = {
    table: {column.name: PANDAS_DTYPES[column.type] for column in RAW_TABLES[table].columns}
    for table in SOURCE_TABLES
}


def empty_frame(table: str) -> pd.DataFrame:
    return pd.DataFrame(
        {column: pd.Series(dtype=dtype) for column, dtype in COLUMNS[table].items()}
    )


def conform(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Exactly the table's columns in order and dtype, sorted by its key, with a fresh index.
    Columns the frame lacks are added as nulls: a source that does not know a value reports none."""
    columns = COLUMNS[table]
    conformed = frame.reindex(columns=list(columns)).astype(columns)
    return conformed.sort_values(list(RAW_TABLES[table].key), ignore_index=True)


def tickers_without_rows(requested: Sequence[str], frame: pd.DataFrame) -> list[str]:
    """The requested tickers that have no row in ``frame``, in request order."""
    present = set(frame["ticker"].unique())
    return [ticker for ticker in requested if ticker not in present]


def with_fx_currencies(rates: pd.DataFrame) -> pd.DataFrame:
    """Adds base_currency and quote_currency, read from each row's yfinance FX ticker."""
    currencies = pd.DataFrame(
        [(ticker, *fx_quote_currencies(ticker)) for ticker in rates["ticker"].unique()],
        columns=["ticker", "base_currency", "quote_currency"],
    )
    return rates.merge(currencies.astype("str"), on="ticker", how="left")
