"""The CLI's reading commands on the warehouse the nightly job built from the bundled snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.cli.main import main
from warehouse import settings


@pytest.fixture
def published(built_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(settings.WAREHOUSE_PATH_ENV, str(built_warehouse))
    return settings.published_path()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_event_by_id_tells_the_reference_story(published: Path, capsys) -> None:
    code, out, _ = _run(capsys, "event", "deepseek_selloff")
    assert code == 0
    assert out.startswith("DeepSeek AI sell-off (deepseek_selloff, 2025-01-27)")
    nvda = next(line for line in out.splitlines() if line.startswith("NVDA "))
    assert "-0.169682" in nvda and "-592.7" in nvda
    sectors = out.split("By sector:")[1]
    technology = next(line for line in sectors.splitlines() if line.startswith("Technology"))
    assert "-1010.8" in technology
    everyone = next(line for line in sectors.splitlines() if line.startswith("All equities"))
    assert "-1076.2" in everyone


def test_event_by_date_uses_the_table_macro(published: Path, capsys) -> None:
    code, out, _ = _run(capsys, "event", "2024-08-05", "--top", "3")
    assert code == 0
    assert out.startswith("Ad-hoc event on 2024-08-05")
    by_security = out.split("By sector:")[0]
    rows = [line for line in by_security.splitlines()[1:] if "2024-08-05" in line]
    assert len(rows) == 3


def test_an_unknown_event_names_the_known_ones(published: Path, capsys) -> None:
    code, _, err = _run(capsys, "event", "moon_landing")
    assert code == 1
    assert "no event 'moon_landing'" in err and "deepseek_selloff" in err
    assert "Traceback" not in err


def test_sql_on_the_built_warehouse(published: Path, capsys) -> None:
    code, out, _ = _run(
        capsys,
        "sql",
        "select ticker, round(day0_return, 4) as r from marts.fct_event_impact "
        "where event_id = 'deepseek_selloff' and ticker in ('NVDA', 'MSFT') order by ticker",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == [{"ticker": "MSFT", "r": -0.0214}, {"ticker": "NVDA", "r": -0.1697}]


def test_status_on_the_built_warehouse(published: Path, capsys) -> None:
    code, out, _ = _run(capsys, "status")
    assert code == 0
    assert "success" in out
    daily = next(line for line in out.splitlines() if line.startswith("raw.daily_prices"))
    assert "12354" in daily.replace(",", "") and "2023-01-02" in daily and "2025-06-30" in daily
    assert "quality.price_anomalies" in out
