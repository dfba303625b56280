"""The GraphQL operations orchestrator-ui sends, read from the installed npm package itself.

The package (``@orchestrator-ui/orchestrator-ui-components``, pinned by the real-UI host in
``tests/orchestrator_ui/host``) keeps each operation in a template literal of its bundle, with
fragments appended and a few constants interpolated. Reading them from the bundle means a new UI
release is checked as it is, not as someone once transcribed it. Nothing here is installed by
the README's test command: without the package the tests that use it skip.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent / "orchestrator_ui/host/node_modules/@orchestrator-ui/orchestrator-ui-components"
BUNDLE = PACKAGE / "dist/index.js"

_LITERAL = re.compile(r"var (\w+) = `((?:[^`\\]|\\.)*)`;")
_CONSTANT = re.compile(r"var (\w+) = (.*?);\n", re.DOTALL)
_OPERATION = re.compile(r"\s*(query|mutation|fragment)\s+(\w+)")
_SPREAD = re.compile(r"\.\.\.(\w+)")
_JOINED_STRINGS = re.compile(r"\[(.*)\]\.join\((\"[^\"]*\")\)", re.DOTALL)


@dataclass(frozen=True)
class Operation:
    variable: str  # the bundle's name for it, unique where operation names are not
    kind: str
    name: str
    document: str  # with the fragments it spreads appended, as the UI sends it


def require_bundle() -> None:
    """Skip without the package, unless ``ORCHESTRATOR_UI_REQUIRED`` says it was installed (.ci/run)."""
    if BUNDLE.exists():
        return
    if os.environ.get("ORCHESTRATOR_UI_REQUIRED"):
        pytest.fail(f"ORCHESTRATOR_UI_REQUIRED is set, but {BUNDLE} is missing")
    pytest.skip("orchestrator-ui is not installed (.ci/run: npm ci)")


def package_version() -> str | None:
    manifest = PACKAGE / "package.json"
    return str(json.loads(manifest.read_text())["version"]) if manifest.exists() else None


def _constant(bundle: str, name: str) -> str:
    """The value of a constant an operation interpolates: a number, or strings joined."""
    for found in _CONSTANT.finditer(bundle):
        if found.group(1) != name:
            continue
        expression = re.sub(r"/\*.*?\*/", "", found.group(2)).strip()
        if re.fullmatch(r"[0-9.e]+", expression):
            return str(int(float(expression)))
        joined = _JOINED_STRINGS.fullmatch(expression)
        if joined:
            return str(json.loads(joined.group(2))).join(json.loads(f"[{joined.group(1)}]"))
    raise LookupError(f"the bundle's constant {name!r} has a form this reader does not know")


def _interpolated(bundle: str, expression: str) -> str:
    """What ``${expression}`` gives: a string literal (an enum member inlined), or a constant."""
    expression = re.sub(r"/\*.*?\*/", "", expression).strip()
    if expression.startswith('"'):
        return str(json.loads(expression))
    return _constant(bundle, expression)


def operations() -> list[Operation]:
    """Every query and mutation of the bundle, ready to send."""
    bundle = BUNDLE.read_text()
    texts = {m.group(1): m.group(2) for m in _LITERAL.finditer(bundle) if _OPERATION.match(m.group(2))}
    resolved = {
        variable: re.sub(r"\$\{([^}]*)\}", lambda m: _interpolated(bundle, m.group(1)), text)
        for variable, text in texts.items()
    }
    fragments = {}
    for text in resolved.values():
        kind, name = _OPERATION.match(text).groups()  # type: ignore[union-attr]
        if kind == "fragment":
            fragments[name] = text
    found = []
    for variable, text in resolved.items():
        kind, name = _OPERATION.match(text).groups()  # type: ignore[union-attr]
        if kind == "fragment":
            continue
        spread = [fragments[s] for s in dict.fromkeys(_SPREAD.findall(text)) if s in fragments]
        found.append(Operation(variable, kind, name, "\n".join([text, *spread])))
    return found
