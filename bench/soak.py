"""Memory of ``orchestrion run`` with the examples: after startup, at its peak, and over a soak.

Starts ``orchestrion run -i examples --catalogue examples/catalogue.yaml`` on a fresh SQLite file
(the embedded default) and reads its resident set size once it answers; stops it and starts it
again (a server's usual start: the database is up to date, so Alembic is not loaded), and reads
the resident set size once it answers (idle) and after a first
request to each kind of page (warm), then lets ``--clients`` threads call the process list, a
process's detail, the subscription list, the dashboard counts, the GraphQL process list and
start a process (every ``--start-every`` th call) for ``--minutes``. Prints the RSS once a minute
and at the end, the peak (``VmHWM``), and the end as a ratio to the warm RSS measured in the same
run (flat: about 1.0).

    .venv/bin/python bench/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
NODE = "0b6e8e2a-1c2d-4e8f-8a1b-2c3d4e5f6a01"  # the example catalogue's Node product
GRAPHQL = (
    "{ processes(first: 10) { page { processId workflowName lastStatus subscriptions { page { description } } } } }"
)


def memory(pid: int) -> dict[str, float]:
    """``VmRSS`` (now) and ``VmHWM`` (peak) of ``pid``, in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


def serve(port: int, work_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URI": f"sqlite:///{work_dir / 'orchestrion.db'}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "orchestrion.cli", "run", "-i", "examples"]
    command += ["--catalogue", str(ROOT / "examples" / "catalogue.yaml"), "--port", str(port)]
    log = (work_dir / "server.log").open("wb")
    return subprocess.Popen(command, env=env, cwd=work_dir, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server ended before it answered; see its server.log")
        try:
            if httpx.get(f"{base}/api/health/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer within 180 s")


class Clients:
    """Threads calling the API until told to stop; counts calls and failures."""

    def __init__(self, base: str, start_every: int) -> None:
        self.base = base
        self.start_every = start_every
        self.stop = threading.Event()
        self.calls = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def one_round(self, client: httpx.Client, n: int) -> None:
        """One call of each kind of page; a process start every ``start_every`` th round."""
        api = f"{self.base}/api"
        answers = [client.get(f"{api}/processes/", params={"range": "0,20"})]
        listed = answers[0].json() if answers[0].status_code == 200 else []
        if listed:
            answers.append(client.get(f"{api}/processes/{listed[n % len(listed)]['process_id']}"))
        answers.append(client.get(f"{api}/subscriptions/", params={"range": "0,20", "filter": "product,Node"}))
        answers.append(client.get(f"{api}/processes/status-counts"))
        answers.append(client.post(f"{api}/graphql", json={"query": GRAPHQL}))
        if n % self.start_every == 0:
            body = [{"product": NODE, "user_input": f"soak {n}"}]
            answers.append(client.post(f"{api}/processes/create_product_subscription", json=body))
        with self.lock:
            self.calls += len(answers)
            self.failures += [
                f"{a.request.method} {a.request.url.path}: {a.status_code}" for a in answers if a.is_error
            ]

    def run(self, index: int) -> None:
        with httpx.Client(timeout=30) as client:
            for n in itertools.count(index):
                if self.stop.is_set():
                    return
                self.one_round(client, n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--start-every", type=int, default=5, help="a process start every N rounds of a client")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="orchestrion-soak-"))
    base = f"http://127.0.0.1:{args.port}"
    first = serve(args.port, work_dir)  # creates and migrates the database, then is stopped
    try:
        wait_ready(base, first)
        first_idle = memory(first.pid)["VmRSS"]
    finally:
        first.terminate()
        first.wait(30)
    server = serve(args.port, work_dir)  # what runs from then on: the database is up to date
    try:
        wait_ready(base, server)
        idle = memory(server.pid)["VmRSS"]
        clients = Clients(base, args.start_every)
        with httpx.Client(timeout=30) as client:
            clients.one_round(client, 0)
        warm = memory(server.pid)["VmRSS"]
        print(f"{os.cpu_count()} CPUs; {args.clients} clients for {args.minutes:g} min")
        print(f"RSS idle after the first start (migrating a new database) {first_idle:.1f} MiB")
        print(f"RSS idle after a restart {idle:.1f} MiB, warm (each page once) {warm:.1f} MiB")
        threads = [threading.Thread(target=clients.run, args=(i,)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        while (left := args.minutes * 60 - (time.monotonic() - began)) > 0:
            time.sleep(min(60.0, left))
            now, minutes = memory(server.pid), (time.monotonic() - began) / 60
            print(f"  {minutes:5.1f} min: RSS {now['VmRSS']:.1f} MiB, {clients.calls} calls", flush=True)
        clients.stop.set()
        for thread in threads:
            thread.join()
        end = memory(server.pid)
        print(
            f"end RSS {end['VmRSS']:.1f} MiB ({end['VmRSS'] / warm:.2f} x warm), peak {end['VmHWM']:.1f} MiB; "
            f"{clients.calls} calls ({clients.calls / (args.minutes * 60):.0f}/s), {len(clients.failures)} failed"
        )
        for failure in sorted(set(clients.failures))[:10]:
            print(f"  failed: {failure}")
    finally:
        server.terminate()
        server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
