"""The package's top level and its command line, as an orchestrator-core application's files use them.

Each check runs in a fresh interpreter, so what one import pulls in is seen on its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestrion.db import revision

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, cwd: Path = ROOT, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_package_is_cheap_and_its_names_load_on_first_use() -> None:
    out = _python(
        "import sys, orchestrion\n"
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'pydantic_forms') if m in sys.modules))\n"
        "from orchestrion import OrchestratorCore, app_settings, begin, done, inputstep, retrystep, step\n"
        "print(OrchestratorCore.__module__, type(app_settings).__name__, step.__module__)"
    )
    lines = out.splitlines()  # (pydantic-forms may log a line of its own while it is imported)
    assert (lines[0], lines[-1]) == ("[]", "orchestrion.app AppSettings orchestrion.engine.steps")


def test_the_workflow_decorator_is_not_hidden_by_the_submodule_of_that_name() -> None:
    out = _python(
        "import orchestrion.workflow\n"  # importing the submodule first used to shadow the decorator
        "from orchestrion import workflow\n"
        "from orchestrion.workflow import StepList, done, init\n"
        "print(callable(workflow), workflow.__module__, StepList.__name__)"
    )
    assert out.splitlines()[-1].split() == ["True", "orchestrion.engine.workflow", "StepList"]


def test_an_applications_main_py_extends_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "import typer\n"
        "from orchestrion import app_settings\n"
        "from orchestrion.cli.main import app as core_cli\n"
        "from orchestrion.db import init_database\n"
        "\n"
        "@core_cli.command()\n"
        "def greet(name: str) -> None:\n"
        "    typer.echo(f'hello {name}')\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    init_database(app_settings)\n"
        "    core_cli()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}"}

    def main(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "main.py", *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    greeted = main("greet", "world")
    assert greeted.returncode == 0, greeted.stderr
    assert greeted.stdout.splitlines()[-1] == "hello world"
    heads = main("db", "heads")
    assert heads.returncode == 0, heads.stderr
    assert f"Rev: {revision.HEAD} (head)" in heads.stdout


def test_a_server_on_sqlite_never_loads_the_postgresql_driver() -> None:
    out = _python(
        "import sys\n"
        "from orchestrion.app import OrchestratorCore\n"
        "from orchestrion.cli import main\n"
        "from orchestrion.db.failures import is_transient\n"
        "print(is_transient(RuntimeError('not a database error')), 'psycopg' in sys.modules)"
    )
    assert out.splitlines()[-1] == "False False"  # psycopg is about 8 MiB of a server's memory
