"""The import rules of the layout, three layers: ``warehouse`` the library, ``orchestration`` the
Dagster code location above it, ``orchestration.cli`` (`market-warehouse`) on top. No module
imports a layer above its own, and no project module imports, even indirectly, a module that
imports it back.

Imports are read from the source with ``ast``, function-level and ``TYPE_CHECKING`` ones included,
so a lazy import cannot hide a dependency."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse import settings

PACKAGES = ("warehouse", "orchestration", "bench")
LIBRARY = "warehouse"
UPPER_LAYER = "orchestration"
COMMAND_LINE = "orchestration.cli"


def _module_files() -> dict[str, Path]:
    """Every project module by dotted name (a package by its own name, for its __init__)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((settings.REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(settings.REPO_ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = _module_files()


def _imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of every import in a module: ``import a.b`` gives ``a.b``; ``from a
    import b`` gives ``a.b`` when that is a module, else ``a``; relative imports are resolved.
    ``importlib.import_module("a.b")`` with a literal name counts too."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in MODULES else base), node.lineno
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, node.lineno


def _import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    return {
        module: {name for name, _ in _imported_names(module, path) if name in MODULES} - {module}
        for module, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_modules_are_found() -> None:
    assert {"warehouse.settings", "warehouse.storage", "orchestration.cli.main"} <= set(MODULES)


def test_the_library_never_imports_the_layer_above() -> None:
    upward = [
        f"{path.relative_to(settings.REPO_ROOT)}:{line} imports {name}"
        for module, path in MODULES.items()
        if module.split(".")[0] == LIBRARY
        for name, line in _imported_names(module, path)
        if name.split(".")[0] == UPPER_LAYER
    ]
    assert upward == []


def test_only_the_command_line_imports_the_command_line() -> None:
    upward = [
        f"{path.relative_to(settings.REPO_ROOT)}:{line} imports {name}"
        for module, path in MODULES.items()
        if not _inside(module, COMMAND_LINE)
        for name, line in _imported_names(module, path)
        if _inside(name, COMMAND_LINE)
    ]
    assert upward == []


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_no_import_cycles() -> None:
    assert _cycles(_import_graph()) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert _cycles(graph) == expected


def test_relative_and_function_level_imports_are_seen(tmp_path: Path) -> None:
    source = tmp_path / "storage.py"
    source.write_text("from . import settings\n\ndef f():\n    import orchestration.build\n")
    assert list(_imported_names("warehouse.storage", source)) == [
        ("warehouse.settings", 1),
        ("orchestration.build", 4),
    ]
