#!/usr/bin/env python3
"""Time 1,000-operation Bulk requests (RFC 7644 §3.7) against a real `scim-bridge serve`:

  creates   1,000 ``POST /Users``
  mixed     200 user POSTs, 100 group POSTs whose members are bulkIds of those users,
            300 PATCHes and 100 PUTs of existing users, 200 member-adding PATCHes of the
            new groups (``/Groups/bulkId:...``), 100 DELETEs of existing users
  chain     1,000 ``POST /Groups`` in a reversed ``bulkId`` chain: each operation's group
            has the *next* operation's group as its member, so only the last can run first

    .venv/bin/python bench/bulk.py [--db sqlite postgres] [--runs 5]

Each database gets one fresh server (pinned to CPU 0, the client to CPU 1, as
bench/scim_load.py does) and a fresh database; each run uses its own names, and its mixed
request changes the users its creates request made. The figure is the wall time of the one
``POST /Bulk`` request; the table shows the median over the runs and the range. Every
operation's status is checked (a run with an unexpected status is reported, not timed
silently).

The server runs whatever ``scim_server`` the interpreter imports: to time another checkout,
run from outside this one, ``cd /tmp && PYTHONPATH=/path/to/checkout python .../bench/bulk.py``
(the header prints which).

Measured on the shared 2-core machine (load average 3-5), 5 runs each, median seconds
(range), one after the other:

    database  workload   before (Bulk re-entering the ASGI app,   after (the service called directly,
                         one transaction per operation)           100 operations per transaction)
    sqlite    creates    1.34 (1.03-3.29)                          0.17 (0.15-0.19)
    sqlite    mixed      1.44 (0.95-1.55)                          0.15 (0.14-0.22)
    sqlite    chain      3.39 (2.20-6.44)                          0.23 (0.18-0.43)
    postgres  creates    4.22 (1.87-10.68)                         1.26 (0.96-1.63)
    postgres  mixed      4.65 (3.13-10.78)                         1.80 (1.27-1.88)
    postgres  chain      9.17 (3.97-18.64)                         1.64 (1.59-2.84)

On PostgreSQL what remains is round trips: a create is four statements (user, its value
rows, the audit event, the outbox's look-up of the workspace's apps), ~70% of the time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

PY = sys.executable
POSTGRES = os.environ.get("SCIM_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
N = 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _taskset(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


def _psql(command: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", command], check=True)


@contextmanager
def _database(kind: str) -> Iterator[str]:
    tmp = Path(tempfile.mkdtemp())
    name = f"sb_bulk_{uuid.uuid4().hex[:8]}"
    if kind == "postgres":
        _psql(f'CREATE DATABASE "{name}"')
    try:
        yield f"sqlite:///{tmp / 'bulk.db'}" if kind == "sqlite" else POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        if kind == "postgres":
            _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _server(url: str, port: int) -> Iterator[httpx.Client]:
    env = os.environ | {"SCIM_BRIDGE_DATABASE_URL": url, "SCIM_BRIDGE_ACCESS_LOG": "false",
                        "SCIM_BRIDGE_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = subprocess.Popen(_taskset(0) + [PY, "-m", "scim_server.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        token = ""
        while not token:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise RuntimeError("serve exited")
            if line.startswith("SCIM token"):
                token = line.rsplit(" ", 1)[1].strip()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        with httpx.Client(base_url=base + "/scim/v2", headers=headers, timeout=600) as client:
            yield client
    finally:
        proc.terminate()
        proc.wait()


def _user(name: str, title: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [USER], "userName": name, "name": {"givenName": "Ada", "familyName": "L"},
                            "emails": [{"value": name, "type": "work", "primary": True}], "active": True}  # fmt: skip
    return body | ({"title": title} if title else {})


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def creates(prefix: str) -> list[dict[str, Any]]:
    return [{"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": _user(f"{prefix}-{i}@example.com")}
            for i in range(N)]  # fmt: skip


def mixed(prefix: str, existing: list[str]) -> list[dict[str, Any]]:
    """1,000 operations over ``existing`` (at least 500 user ids) and what they create."""
    ops: list[dict[str, Any]] = [
        {"method": "POST", "path": "/Users", "bulkId": f"n{i}", "data": _user(f"{prefix}-new-{i}@example.com")}
        for i in range(200)
    ]  # fmt: skip
    ops += [{"method": "POST", "path": "/Groups", "bulkId": f"g{i}",
             "data": {"schemas": [GROUP], "displayName": f"{prefix}-g{i}",
                      "members": [{"value": f"bulkId:n{2 * i}"}, {"value": f"bulkId:n{2 * i + 1}"}]}}
            for i in range(100)]  # fmt: skip
    ops += [{"method": "PATCH", "path": f"/Users/{existing[i]}",
             "data": _patch({"op": "replace", "value": {"active": False}})} for i in range(300)]  # fmt: skip
    ops += [{"method": "PUT", "path": f"/Users/{existing[300 + i]}",
             "data": _user(f"{prefix}-{300 + i}@example.com", "Engineer")} for i in range(100)]  # fmt: skip
    ops += [{"method": "PATCH", "path": f"/Groups/bulkId:g{i % 100}",
             "data": _patch({"op": "add", "path": "members", "value": [{"value": existing[i]}]})}
            for i in range(200)]  # fmt: skip
    ops += [{"method": "DELETE", "path": f"/Users/{existing[400 + i]}"} for i in range(100)]
    return ops


def chain(prefix: str) -> list[dict[str, Any]]:
    """Operation i's group has operation i+1's as its member: resolvable only back to front."""
    return [{"method": "POST", "path": "/Groups", "bulkId": f"c{i}",
             "data": {"schemas": [GROUP], "displayName": f"{prefix}-c{i}",
                      "members": [{"value": f"bulkId:c{i + 1}"}] if i + 1 < N else []}}
            for i in range(N)]  # fmt: skip


def _timed(client: httpx.Client, ops: list[dict[str, Any]], expected: Callable[[dict[str, Any]], str]) -> tuple[float, list[dict[str, Any]]]:  # fmt: skip
    body = {"schemas": [BULK], "Operations": ops}
    started = time.perf_counter()
    response = client.post("/Bulk", json=body)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    results = response.json()["Operations"]
    wrong = Counter(f"{op['method']} {r['status']}" for op, r in zip(ops, results) if r["status"] != expected(op))
    if len(results) != len(ops) or wrong:
        print(f"  unexpected: {len(results)} results, {dict(wrong)}", file=sys.stderr)
    return elapsed, results


def _status(op: dict[str, Any]) -> str:
    return {"POST": "201", "PUT": "200", "DELETE": "204"}.get(op["method"], "200" if "/Users" in op["path"] else "204")


def one_run(client: httpx.Client) -> dict[str, float]:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    t_create, results = _timed(client, creates(prefix), _status)
    existing = [r["location"].rsplit("/", 1)[1] for r in results]
    t_mixed, _ = _timed(client, mixed(prefix, existing), _status)
    t_chain, _ = _timed(client, chain(prefix), _status)
    return {"creates": t_create, "mixed": t_mixed, "chain": t_chain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, help="default: a free port")
    args = parser.parse_args()
    code = subprocess.run([PY, "-c", "import scim_server; print(scim_server.__file__)"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    print(f"scim_server from {Path(code).parent}; {args.runs} runs per database, seconds per 1,000-op Bulk\n")
    print(f"{'database':10s}{'workload':10s}{'median':>9s}{'range':>16s}")
    for kind in args.db:
        with _database(kind) as url, _server(url, args.port or _free_port()) as client:
            runs = [one_run(client) for _ in range(args.runs)]
        for workload in ("creates", "mixed", "chain"):
            values = [run[workload] for run in runs]
            spread = f"{min(values):.2f}-{max(values):.2f}"
            print(f"{kind:10s}{workload:10s}{statistics.median(values):>9.2f}{spread:>16s}", flush=True)


if __name__ == "__main__":
    main()
