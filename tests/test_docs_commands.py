"""The commands in the README and docs work when pasted into a fresh clone.

Every fenced block names its language. Every ``bash`` block is run, in document order, in a fresh
copy of the repository (the tutorial: in an empty directory, after writing the files its blocks
show), unless the line before it says ``<!-- not run: why -->``. A block marked ``<!-- file: PATH -->``
is written to PATH before the blocks after it run. Blocks that talk to ``127.0.0.1:8080`` get a
server with the example catalogue (on a free port, put in their place) unless they start one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TUTORIAL = ROOT / "docs" / "tutorial.md"  # run in a directory of one's own, not in a clone
FENCE = re.compile(r"(?:^<!-- (?P<marker>[^\n]*?) -->\n)?^```(?P<lang>[^\n`]*)\n(?P<code>.*?)^```$", re.S | re.M)
PORTS = re.compile(r"\b808[01]\b")  # the ports the docs show; each gets a free one
SERVED = re.compile(r"(127\.0\.0\.1|localhost):8080")
STARTS_SERVER = re.compile(r"orchestrion run|scripts/run")
VENV = Path(sys.executable).parent.parent


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    lang: str
    marker: str
    code: str

    def __str__(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text()
    return [
        Block(doc, text.count("\n", 0, m.start("lang")) + 1, m["lang"].strip(), m["marker"] or "", m["code"])
        for m in FENCE.finditer(text)
    ]


def _runnable(doc: Path) -> list[Block]:
    return [b for b in blocks(doc) if b.lang == "bash" and not b.marker.startswith("not run:")]


def test_every_block_names_its_language() -> None:
    unnamed = [str(b) for doc in DOCS for b in blocks(doc) if not b.lang]
    assert unnamed == [], "say what each block is (```bash, ```text, ```python, ...)"


def test_shell_blocks_are_bash_and_either_run_or_say_why_not() -> None:
    wrong = []
    for doc in DOCS:
        for b in blocks(doc):
            if b.lang in {"sh", "shell", "console", "zsh"}:
                wrong.append(f"{b}: ```{b.lang} (use ```bash, or ```text for output)")
            elif b.marker and not re.fullmatch(r"not run: \S.*|file: \S+", b.marker):
                wrong.append(f"{b}: unknown marker {b.marker!r}")
            elif b.marker.startswith("file: ") and b.lang == "bash":
                wrong.append(f"{b}: a shell block is run, not written to a file")
    assert wrong == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_directory(doc: Path, tmp_path: Path) -> Path:
    """A copy of the clone's files (tracked and new, nothing ignored), or an empty directory for the tutorial."""
    work = tmp_path / "work"
    work.mkdir()
    if doc != TUTORIAL:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        for name in filter(None, listed.split("\0")):
            source = ROOT / name
            if source.is_file():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, work / name)
    (work / ".venv").symlink_to(VENV)  # what scripts/run would have installed
    return work


def _environment(home: Path) -> dict[str, str]:
    """What a fresh shell has: no test settings, no PYTHONPATH."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}


def _server(work: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [str(work / ".venv/bin/orchestrion"), "run", "--import", "examples"]
    command += ["--catalogue", "examples/catalogue.yaml", "--port", str(port)]
    server = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health/").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        assert time.monotonic() < deadline, "the server did not become healthy"
        time.sleep(0.1)


def _run(block: Block, code: str, work: Path, env: dict[str, str]) -> None:
    shell = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", code],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its background jobs too are stopped below
    )
    try:
        output, _ = shell.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
    assert shell.returncode == 0, f"{block} failed ({shell.returncode}):\n{code}\n--- output ---\n{output}"


@pytest.mark.parametrize("doc", [d for d in DOCS if _runnable(d)], ids=lambda d: str(d.relative_to(ROOT)))
def test_the_commands_work_pasted_into_a_fresh_clone(doc: Path, tmp_path: Path) -> None:
    work = _fresh_directory(doc, tmp_path)
    env = _environment(tmp_path)
    ports = {"8080": str(_free_port()), "8081": str(_free_port())}
    server = None
    if any(SERVED.search(b.code) and not STARTS_SERVER.search(b.code) for b in _runnable(doc)):
        server = _server(work, int(ports["8080"]), env)
    try:
        for block in blocks(doc):
            if block.marker.startswith("file: "):
                path = work / block.marker.removeprefix("file: ")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(block.code)
            elif block in _runnable(doc):
                _run(block, PORTS.sub(lambda m: ports[m.group()], block.code), work, env)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


def test_the_production_units_start_real_commands() -> None:
    """Each systemd unit's ExecStart is a command and options orchestrion has (its --help answers)."""
    starts = [
        line.removeprefix("ExecStart=").split()
        for b in blocks(ROOT / "docs" / "production.md")
        if b.lang == "ini"
        for line in b.code.splitlines()
        if line.startswith("ExecStart=")
    ]
    assert len(starts) == 3
    for command in starts:
        assert command[0].endswith("/.venv/bin/orchestrion")
        answered = subprocess.run(
            [str(VENV / "bin" / "orchestrion"), *command[1:], "--help"], capture_output=True, text=True, timeout=60
        )
        assert answered.returncode == 0, f"{command}: {answered.stderr}"
