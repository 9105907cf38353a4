"""The arrows of docs/architecture.md, read from the code's module-level imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "api", "workers", "retraining", "training")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """What a module imports when it is imported (not inside functions or TYPE_CHECKING)."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0]
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


GRAPH = {
    module_name(path): top_level_imports(path)
    for package in PACKAGES
    for path in sorted((REPO / package).rglob("*.py"))
}


def imports_of(prefix: str) -> dict[str, set[str]]:
    return {name: deps for name, deps in GRAPH.items() if name.split(".")[0] == prefix}


@pytest.mark.parametrize(
    "forbidden", ["api", "workers", "retraining", "training", "flask", "apiflask", "celery"]
)
def test_the_core_knows_nothing_of_the_doors_or_their_frameworks(forbidden):
    offenders = {
        name: sorted(dep for dep in deps if dep.split(".")[0] == forbidden)
        for name, deps in imports_of("shared").items()
    }
    assert not {name: deps for name, deps in offenders.items() if deps}


@pytest.mark.parametrize(("door", "other"), [("api", "workers"), ("workers", "api")])
def test_the_doors_do_not_import_each_other(door, other):
    for name, deps in imports_of(door).items():
        assert not [dep for dep in deps if dep.split(".")[0] == other], name


def test_domain_modules_never_import_a_use_case():
    for name, deps in imports_of("shared").items():
        if not name.startswith("shared.usecases"):
            assert not [dep for dep in deps if dep.startswith("shared.usecases")], name


def test_there_is_no_import_cycle():
    modules = set(GRAPH)
    edges = {
        name: {dep for dep in deps if dep in modules and dep != name}
        for name, deps in GRAPH.items()
    }
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(edges[name]):
            if state.get(dep) == "open":
                cycle = [*path[path.index(dep) :], dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[name] = "done"

    for name in sorted(modules):
        if name not in state:
            visit(name, [name])
