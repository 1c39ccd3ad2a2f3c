"""`market-warehouse sql` reads the published copy and nothing else (issue item 6): every function
that reads a local file or a URL is refused unless the user passes --allow-files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.cli import errors, parser
from orchestration.cli.published import published_connection
from tests.unit.test_cli import published, run  # noqa: F401 (published is a fixture)

SECRET = "/etc/passwd"


@pytest.mark.parametrize(
    "query",
    [
        f"SELECT * FROM read_csv('{SECRET}')",
        f"SELECT * FROM read_text('{SECRET}')",
        f"SELECT * FROM read_blob('{SECRET}')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('/tmp/*.parquet')",
        "SELECT * FROM read_json_auto('/etc/hostname')",
        "SELECT * FROM read_csv('https://example.com/data.csv')",
    ],
)
def test_sql_refuses_to_read_files_and_urls(
    published: Path,
    capsys: pytest.CaptureFixture[str],
    query: str,  # noqa: F811
) -> None:
    code, out, err = run(capsys, "sql", query)
    assert (code, out) == (errors.EXIT_REFUSED, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "published copy only" in err and "--allow-files" in err


def test_a_file_named_as_a_table_is_not_read(
    published: Path,
    capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    """DuckDB's replacement scan (a path in FROM) is off with file access: the name is no table."""
    code, out, err = run(capsys, "sql", f"SELECT * FROM '{SECRET}'")
    assert (code, out) == (1, "")
    assert "does not exist" in err and "root:" not in err


def test_allow_files_lets_a_query_read_a_local_file(
    published: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,  # noqa: F811
) -> None:
    data = tmp_path / "extra.csv"
    data.write_text("ticker,weight\nAAPL,0.5\n")
    query = f"SELECT r.ticker, weight FROM read_csv('{data}') r JOIN raw.securities USING (ticker)"
    code, out, _ = run(capsys, "sql", query, "--allow-files", "--format", "csv")
    assert (code, out) == (0, "ticker,weight\nAAPL,0.5\n")


def test_the_queries_own_settings_cannot_turn_file_access_back_on(
    published: Path,
    capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    code, _, err = run(capsys, "sql", "SET enable_external_access = true; SELECT 1")
    assert code == errors.EXIT_REFUSED and "Refused" in err
    # The connection's configuration is locked too, whatever gets past the statement check.
    args = parser.build_parser().parse_args(["sql", "SELECT 1"])
    with published_connection(args) as connection, pytest.raises(Exception, match="locked"):
        connection.execute("SET enable_external_access = true")


def test_the_console_script_refuses_a_file_read_without_leaking_it(published: Path) -> None:  # noqa: F811
    finished = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "sql", f"SELECT * FROM read_text('{SECRET}')"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == errors.EXIT_REFUSED
    assert finished.stdout == "" and "root:" not in finished.stderr
    assert "Traceback" not in finished.stderr and "--allow-files" in finished.stderr
