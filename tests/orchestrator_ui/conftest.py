"""The real orchestrator-ui suite runs only when asked for by path (``pytest tests/orchestrator_ui``).

It starts two servers and a browser and takes minutes, so the README's test command (``scripts/test``, which
collects ``tests``) leaves it out; ``.ci/run`` builds the UI host and runs it afterwards. The Next.js host in
``host/`` holds no Python tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _asked_for(config: pytest.Config) -> bool:
    """Whether a command-line argument names this directory or something inside it."""
    for argument in config.args:
        path = (config.invocation_params.dir / argument.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.resolve() == HERE / "host":
        return True
    if collection_path.suffix == ".py" and not _asked_for(config):
        return True
    return None
