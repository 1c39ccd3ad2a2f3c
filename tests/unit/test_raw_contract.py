"""The raw layer is described in three places; ``warehouse/storage/tables.py`` (RAW_TABLES) is the
source of truth and the other two must agree with it: dbt's source declaration
(``dbt_project/models/staging/_sources.yml``) and the raw-contract table of
``docs/ARCHITECTURE.md``."""

from __future__ import annotations

import re

import yaml

from warehouse import settings
from warehouse.storage.tables import RAW_SCHEMA, RAW_TABLES

SOURCES_YML = settings.DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml"
ARCHITECTURE_MD = settings.REPO_ROOT / "docs" / "ARCHITECTURE.md"
# A row of the raw-contract table: | `raw.<table>` | `<key columns>` | <columns, in prose> |
_CONTRACT_ROW = re.compile(r"^\| `raw\.(?P<table>\w+)` \| `(?P<key>[^`]+)` \| (?P<columns>.*) \|$")


def _declared_sources() -> dict[str, set[str]]:
    """Table -> column names of dbt's `raw` source."""
    sources = yaml.safe_load(SOURCES_YML.read_text())["sources"]
    (raw,) = [source for source in sources if source.get("schema", source["name"]) == RAW_SCHEMA]
    return {
        table["name"]: {column["name"] for column in table.get("columns", [])}
        for table in raw["tables"]
    }


def _contract_rows() -> dict[str, tuple[tuple[str, ...], str]]:
    """Table -> (key columns, the columns cell) of the ARCHITECTURE.md raw-contract table."""
    rows = {}
    for line in ARCHITECTURE_MD.read_text().splitlines():
        found = _CONTRACT_ROW.match(line)
        if found:
            key = tuple(name.strip() for name in found["key"].split(","))
            rows[found["table"]] = (key, found["columns"])
    return rows


# Raw tables no dbt model reads: declaring one as a dbt source would give Dagster an asset key
# that no ingest asset produces (raw.rejected_corrections is written inside the prices load).
NOT_READ_BY_DBT = {"rejected_corrections"}


def test_dbt_sources_declare_every_raw_table_and_column() -> None:
    expected = {
        name: {column.name for column in spec.stored_columns}
        for name, spec in RAW_TABLES.items()
        if name not in NOT_READ_BY_DBT
    }
    assert _declared_sources() == expected


def test_the_architecture_contract_lists_every_raw_table_with_its_key() -> None:
    rows = _contract_rows()
    assert list(rows) == list(RAW_TABLES)
    assert {table: key for table, (key, _) in rows.items()} == {
        name: spec.key for name, spec in RAW_TABLES.items()
    }


def test_the_architecture_contract_names_every_data_column() -> None:
    """Every data column appears in its table's row (lineage columns are described once, above
    the table)."""
    unnamed = {
        name: [
            column
            for column in spec.value_columns
            if not re.search(rf"\b{column}\b", _contract_rows()[name][1])
        ]
        for name, spec in RAW_TABLES.items()
    }
    assert {name: columns for name, columns in unnamed.items() if columns} == {}
