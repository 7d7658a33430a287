"""The mock's layers: web over session over engines over the harness foundation, read from
the source (imports inside functions and under TYPE_CHECKING count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mock_symbl

PACKAGE = Path(mock_symbl.__file__).parent
FOUNDATION = (
    "harness.protocol",
    "harness.session_folder",
    "harness.audio",
    "harness.conformance",
    "harness.errors",
    "harness.serve",
    "harness.modes",
)
SANS_IO_FORBIDDEN = (
    "asyncio",
    "threading",
    "socket",
    "websockets",
    "starlette",
    "fastapi",
    "uvicorn",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str) -> set[str]:
    """Every module `module` imports; `from package import name` names the submodule."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
    return found


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def in_layer(layer: str) -> list[str]:
    return [name for name in MODULES if within(name, (layer,))]


@pytest.mark.parametrize("module", in_layer("mock_symbl.engines"))
def test_engines_import_only_engines_and_the_harness_foundation(module: str) -> None:
    ours = {name for name in imports_of(module) if within(name, ("mock_symbl", "harness"))}
    assert all(within(name, ("mock_symbl.engines", *FOUNDATION)) for name in ours), ours


@pytest.mark.parametrize("module", in_layer("mock_symbl.session"))
def test_the_session_imports_nothing_above_it_and_no_io(module: str) -> None:
    imported = imports_of(module)
    ours = {name for name in imported if within(name, ("mock_symbl", "harness"))}
    below = ("mock_symbl.session", "mock_symbl.engines", "mock_symbl.store", *FOUNDATION)
    assert all(within(name, below) for name in ours), ours
    assert not {name for name in imported if within(name, SANS_IO_FORBIDDEN)}


def test_the_store_is_a_leaf() -> None:
    assert not {name for name in imports_of("mock_symbl.store") if within(name, ("mock_symbl",))}


@pytest.mark.parametrize("module", in_layer("mock_symbl.web"))
def test_the_web_edge_reaches_the_harness_only_through_its_foundation(module: str) -> None:
    harness = {name for name in imports_of(module) if within(name, ("harness",))}
    # The package root only for __version__: it re-exports lazily and imports nothing.
    assert all(name == "harness" or within(name, FOUNDATION) for name in harness), harness


def test_no_two_modules_of_the_mock_import_each_other_even_indirectly() -> None:
    graph = {
        module: {name for name in imports_of(module) if name in MODULES and name != module}
        for module in MODULES
        if module != "mock_symbl"
    }

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for name in graph.get(todo.pop(), set()):
                if name not in seen:
                    seen.add(name)
                    todo.append(name)
        return seen

    cycles = [module for module in graph if module in reachable(module)]
    assert cycles == []
