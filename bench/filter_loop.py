#!/usr/bin/env python3
"""Another client's ``GET /Users`` latency while 16 clients send worst-case filters (issue 9,
item 7: "the filter parser can hold the event loop").

    .venv/bin/python bench/filter_loop.py [--src DIR ...] [--db sqlite|postgres] [--seconds 5]

Each ``--src`` is a source tree of scim-bridge (default: this checkout); give two for a
before/after comparison, e.g. ``git archive main | tar -x -C /tmp/main`` then
``--src /tmp/main --src .``. ``--hook`` adds a run of this checkout with the filter thread
wired into the list routes (``query.finder_off_loop``, what the SCIM service is to call).

For each tree a fresh server (``python -m scim_server.cli serve``, pinned to CPU 0, the client on
CPU 1) gets 200 users, then for each attack one victim client sends
``GET /Users?filter=userName eq "..."`` one request after another for ``--seconds`` while
``--attackers`` clients send ``POST /Users/.search`` with the attack's filter as fast as they
are answered:

- ``none``: no attack (the baseline);
- ``nested-64KB``: 31,990 nested parentheses around ``title eq "<n>"`` (64 KB);
- ``or-5000``: 5,000 comparisons joined by ``or`` (60 KB);
- ``max-accepted``: the costliest filter the default limits accept (8 value paths of two
  comparisons each: 16 comparisons, under 2048 characters, 1 level deep).

It prints the victim's latency median, p90 and max (ms) and the attackers' answers per attack.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from itertools import count
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
POSTGRES = os.environ.get("SCIM_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
USERS = 200

# Each request's filter differs (a counter in a literal), so no cache of parsed filters helps.
ATTACKS: dict[str, Callable[[int], str] | None] = {
    "none": None,
    "nested-64KB": lambda n: "(" * 31_990 + f'title eq "{n:08d}"' + ")" * 31_990,
    "or-5000": lambda n: f'title eq "{n:08d}" or ' + " or ".join(["title pr"] * 4999),
    "max-accepted": lambda n: " or ".join(f'emails[type eq "work" and value co "{n:08d}{i}"]' for i in range(8)),
}


def _taskset(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


def _database(kind: str, tmp: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", None
    name = f"sb_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", f'CREATE DATABASE "{name}"'],
                   check=True)  # fmt: skip
    return POSTGRES.rsplit("/", 1)[0] + "/" + name, name


def _drop(pg_name: str | None) -> None:
    if pg_name:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                        f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'], check=False)  # fmt: skip


class Server:
    """``scim-bridge serve`` from ``src`` on a fresh database; ``hook`` wires the filter thread."""

    def __init__(self, src: Path, db: str, port: int, hook: bool) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        url, self.pg_name = _database(db, self.tmp)
        env = os.environ | {"SCIM_BRIDGE_DATABASE_URL": url, "SCIM_BRIDGE_ACCESS_LOG": "false",
                            "SCIM_BRIDGE_LOG_LEVEL": "WARNING", "SCIM_BRIDGE_RUN_WORKER": "false",
                            "PYTHONPATH": str(src)}  # fmt: skip
        serve = [PY, str(Path(__file__).resolve()), "--serve-with-hook"] if hook else [PY, "-m", "scim_server.cli"]
        self.proc = subprocess.Popen(_taskset(0) + [*serve, "serve", "--port", str(port)], env=env, cwd=src,
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.base = f"http://127.0.0.1:{port}/scim/v2"
        self.token = self._token()
        self._wait(f"http://127.0.0.1:{port}/healthz")

    def _token(self) -> str:
        while True:
            line = self.proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise RuntimeError("serve exited")
            if line.startswith("SCIM token"):
                return line.rsplit(" ", 1)[1].strip()

    def _wait(self, url: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        _drop(self.pg_name)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _victim(base: str, headers: dict[str, str], stop: threading.Event, out: list[float]) -> None:
    """Sequential GET /Users?filter=userName eq "..." on its own thread and connection."""
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        i = 0
        while not stop.is_set():
            start = time.perf_counter()
            response = client.get("/Users", params={"filter": f'userName eq "user{i % USERS:04d}@bench.example.com"'})
            out.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
            i += 1


async def _attack(
    base: str, headers: dict[str, str], text: Callable[[int], str], attackers: int, stop: threading.Event
) -> Counter[int]:
    statuses: Counter[int] = Counter()
    numbers = count()
    limits = httpx.Limits(max_connections=attackers)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as client:

        async def one() -> None:
            while not stop.is_set():
                body = {"schemas": [SEARCH], "filter": text(next(numbers)), "count": 1}
                statuses[(await client.post("/Users/.search", json=body)).status_code] += 1

        await asyncio.gather(*(one() for _ in range(attackers)))
    return statuses


def measure(
    server: Server, text: Callable[[int], str] | None, attackers: int, seconds: float
) -> tuple[list[float], Counter[int]]:
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/scim+json"}
    stop = threading.Event()
    latencies: list[float] = []
    victim = threading.Thread(target=_victim, args=(server.base, headers, stop, latencies))
    timer = threading.Timer(seconds, stop.set)
    victim.start()
    timer.start()
    statuses: Counter[int] = Counter()
    if text is not None:
        statuses = asyncio.run(_attack(server.base, headers, text, attackers, stop))
    victim.join()
    return latencies, statuses


def seed(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
        for i in range(USERS):
            name = f"user{i:04d}@bench.example.com"
            body = {"schemas": [USER], "userName": name, "emails": [{"value": name, "type": "work"}]}
            assert client.post("/Users", json=body).status_code == 201


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(label: str, src: Path, db: str, hook: bool, attackers: int, seconds: float) -> None:
    server = Server(src, db, 18071, hook)
    try:
        seed(server)
        for attack, text in ATTACKS.items():
            latencies, statuses = measure(server, text, attackers, seconds)
            answers = ", ".join(f"{code}x{n}" for code, n in sorted(statuses.items())) or "-"
            print(f"{label:24s} {attack:13s} {len(latencies):6d} {1000 * statistics.median(latencies):9.1f}"
                  f" {_ms(latencies, 0.9):8.1f} {1000 * max(latencies):8.1f}   {answers}", flush=True)  # fmt: skip
    finally:
        server.close()


def serve_with_hook(argv: list[str]) -> int:
    """``scim-bridge serve`` as it is: the list routes plan filters through ``finder_off_loop``
    with the settings' limits (scim/service.py, scim/routes.py), so nothing is left to wire;
    ``--hook`` is kept for the command lines that use it."""
    from scim_server import cli

    return cli.main(argv)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-with-hook":
        sys.exit(serve_with_hook(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", action="append", type=Path, help="a scim-bridge source tree (repeatable)")
    parser.add_argument("--hook", action="store_true", help="also run this checkout with the filter thread wired")
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--attackers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})
    runs = [(src.resolve().name, src.resolve(), False) for src in args.src or [ROOT]]
    if args.hook:
        runs.append((f"{ROOT.name}+hook", ROOT, True))
    print(f"victim GET /Users latency (ms) on {args.db}, {args.attackers} attackers, {args.seconds:g} s per attack")
    print(f"{'source':24s} {'attack':13s} {'reqs':>6s} {'median':>9s} {'p90':>8s} {'max':>8s}   attackers' answers")
    for label, src, hook in runs:
        run(label, src, args.db, hook, args.attackers, args.seconds)


if __name__ == "__main__":
    main()
