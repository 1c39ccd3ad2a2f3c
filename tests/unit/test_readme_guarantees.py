"""README's Guarantees section names the test that holds each guarantee: every test it names must
exist, so a renamed or deleted test cannot leave a guarantee pointing at nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# `publish::test_x` style references use the aliases the section defines in its first paragraph.
ALIASES = {
    "publish": "tests/unit/test_publish.py",
    "readers": "tests/unit/test_publish_readers.py",
    "guards": "tests/unit/test_publish_guards.py",
}
REFERENCE = re.compile(r"`(?P<file>[\w/.]+\.py|\w+)::(?P<test>test_\w+)`")


def guarantees_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Guarantees")
    end = readme.find("\n## ", start)
    return readme[start : end if end != -1 else None]


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_a_guarantee_names_exists() -> None:
    references = [
        (match["file"], match["test"])
        for match in REFERENCE.finditer(guarantees_section().replace("\n", " "))
    ]
    assert len(references) >= 10, "the Guarantees section lost its test references"
    missing = []
    for file, test in references:
        path = REPO_ROOT / ALIASES.get(file, file)
        if not path.exists() or test not in defined_tests(path):
            missing.append(f"{file}::{test}")
    assert not missing, f"README's Guarantees name tests that do not exist: {missing}"
