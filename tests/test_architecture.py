"""The package floors of docs/architecture.md, checked: no module imports a package above its own.

Every module and package directly under ``orchestrion`` has a floor. An import that runs when the
module is imported may only reach the same package or one on a lower floor. A few imports go up on
purpose, late: from inside a function, or for type checking only. They are listed here and in the
doc, and a new one fails this test until it is argued for there.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import orchestrion

PACKAGE = Path(orchestrion.__file__).parent

# Bottom to top, as docs/architecture.md draws them.
FLOORS: list[str] = [
    "__version__",
    "types",
    "targets",
    "names",
    "config",
    "errors",
    "settings",
    "logs",
    "log_config",
    "engine",
    "db",
    "storage",
    "domain",
    "forms",
    "auth",
    "utils",
    "runtime",
    "metrics",
    "executors",
    "catalogue",
    "services",
    "migrations",
    "workflow",
    "workflows",
    "scheduler",
    "graphql",
    "api",
    "ui",
    "app",
    "cli",
    "testing",
]

# (importing package, imported package) pairs that may go up late (in a function, or for types only).
LATE_UP_CALLS = {
    ("db", "runtime"),  # get_database(), init_database(): the facade over the current runtime
    ("db", "domain"),  # open_database(): after the migrations, the history's backfill (domain.history_backfill)
    ("runtime", "executors"),  # the executor the settings name, made when first needed
    ("runtime", "scheduler"),  # the built-in tasks, registered with each runtime
}


def _unit(module: str) -> str | None:
    """The floor a dotted ``orchestrion...`` module belongs to; None for the top package itself."""
    parts = module.split(".")
    return parts[1].removesuffix(".py") if len(parts) > 1 else None


def _imports(path: Path) -> Iterator[tuple[str, bool]]:
    """Each ``orchestrion`` module ``path`` imports, and whether it is late (in a function, or for types)."""

    def walk(node: ast.AST, late: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            in_function = late or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
                in_function = True
            if isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("orchestrion"):
                yield child.module, late
                if child.module == "orchestrion":
                    yield from ((f"orchestrion.{alias.name}", late) for alias in child.names)
            elif isinstance(child, ast.Import):
                yield from ((a.name, late) for a in child.names if a.name.startswith("orchestrion"))
            yield from walk(child, in_function)

    yield from walk(ast.parse(path.read_text()), False)


def _module_units() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts == ("__init__.py",):
            continue  # the top package: lazy re-exports of everything (see orchestrion/__init__.py)
        if relative.parts == ("__main__.py",):
            yield "cli", path  # python -m orchestrion is the command line
            continue
        yield relative.parts[0].removesuffix(".py"), path


def test_every_package_has_a_floor() -> None:
    units = {unit for unit, _ in _module_units()}
    assert units - set(FLOORS) == set(), "place the new package in FLOORS and in docs/architecture.md"


def test_no_package_imports_one_above_it() -> None:
    wrong: list[str] = []
    for unit, path in _module_units():
        for module, late in _imports(path):
            target = _unit(module)
            if target is None or target == unit or target not in FLOORS:
                continue
            if FLOORS.index(target) > FLOORS.index(unit) and not (late and (unit, target) in LATE_UP_CALLS):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module} ({'late' if late else 'at import'})")
    assert wrong == []


def test_the_late_up_calls_are_all_still_needed() -> None:
    used = {
        (unit, _unit(module))
        for unit, path in _module_units()
        for module, late in _imports(path)
        if late and _unit(module) not in (None, unit)
    }
    assert used >= LATE_UP_CALLS, "drop the pairs nothing needs any more (and their lines in the doc)"


def test_the_engine_knows_nothing_of_http_sql_or_executors() -> None:
    outside = ("sqlalchemy", "fastapi", "starlette", "celery", "httpx")
    found = []
    for path in sorted((PACKAGE / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in outside]
    assert found == []
