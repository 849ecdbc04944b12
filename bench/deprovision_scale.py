#!/usr/bin/env python3
"""Deprovisioning at scale (issue 13): the time from the deactivating SCIM PATCH until the member
is gone from every app, idle and while an IdP pushes a steady stream, against a real
`scim-bridge serve` (SQLite or PostgreSQL) and the sandbox (GitHub fakes, in this process).

D directory users, A apps (policy automatic, no mass-removal hold), each with M matched members.
Idle: deactivations one at a time. Stream: RATE requests/s for SECONDS (SCIM filters and
attribute PATCHes, and one deactivation every 2 s, each measured). Printed per store: idle and
stream p50 / p99 (medians of --runs runs), SCIM request p99 under the stream, and the job backlog
(queued jobs) sampled during the stream: first / max / last, so a growing backlog shows.

    .venv/bin/python bench/deprovision_scale.py [--store sqlite|postgres|both] [--users 1000]
        [--apps 2] [--members 1000] [--seconds 30] [--rate 25] [--idle 10] [--runs 1]
        [--code DIR]   # run the server from another checkout (a before/after in the same run)
        [--env K=V ...] # extra SCIM_BRIDGE_ settings for the server
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.sandbox import SeedMember, SeedSpec, create_sandbox_app
from tests.db import postgres_database
from tests.servers import free_port

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
DEACTIVATE = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": False}]}


PREFIX = "r0-"


def email(n: int) -> str:
    return f"u{n}@bench.example.com"


def serve_sandbox() -> tuple[Any, str]:
    app = create_sandbox_app("empty")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return app, f"http://127.0.0.1:{port}"


class Bridge:
    """`scim-bridge serve` in a child process (from ``code``), with a SCIM and an admin client."""

    def __init__(self, url: str, code: Path, extra: dict[str, str]) -> None:
        self.port = free_port()
        self.code = code
        self.env = os.environ | {
            "SCIM_BRIDGE_DATABASE_URL": url, "SCIM_BRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
            "SCIM_BRIDGE_ACCESS_LOG": "false", "SCIM_BRIDGE_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(code),
        } | extra  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        cli = [sys.executable, "-m", "scim_server.cli"]
        self.proc = subprocess.Popen(cli + ["serve", "--port", str(self.port)], env=self.env, cwd=code,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        while True:
            try:
                httpx.get(self.base + "/healthz")
                break
            except httpx.TransportError:
                assert self.proc.poll() is None, "server did not start"
                time.sleep(0.1)
        self.scim = httpx.Client(base_url=self.base + "/scim/v2", headers=self._auth(cli, "scim"), timeout=300)
        self.admin = httpx.Client(base_url=self.base + "/api/v1", headers=self._auth(cli, "admin"), timeout=300)

    def _auth(self, cli: list[str], scope: str) -> dict[str, str]:
        out = subprocess.run(cli + ["token", "create", "--scope", scope], env=self.env, cwd=self.code,
                             capture_output=True, text=True, check=True)  # fmt: skip
        return {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}

    def wait_job(self, job_id: str) -> dict[str, Any]:
        while (job := self.admin.get(f"/jobs/{job_id}").json())["status"] in ("queued", "running"):
            time.sleep(0.05)
        return dict(job)

    def queued(self) -> int:
        count, params = 0, {"status": "queued", "limit": 500}
        while True:
            page = self.admin.get("/jobs", params=params).json()
            count += len(page["items"])
            if not page.get("next_cursor"):
                return count
            params["cursor"] = page["next_cursor"]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def create_users(bridge: Bridge, users: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, users, 1000):
        ops = [{"method": "POST", "path": "/Users", "bulkId": str(n),
                "data": {"schemas": [USER], "userName": email(n), "emails": [{"value": email(n), "primary": True}]}}
               for n in range(start, min(users, start + 1000))]  # fmt: skip
        response = bridge.scim.post("/Bulk", json={"schemas": [BULK], "Operations": ops})
        response.raise_for_status()
        for op in response.json()["Operations"]:
            assert str(op["status"]).startswith("201"), op
            ids.append(op["location"].rstrip("/").rsplit("/", 1)[-1])
    return ids


CHECKS: list[float] = []  # each app's first check (import + reconcile + persist), seconds


def _span(job: dict[str, Any]) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(job["finished"]) - datetime.fromisoformat(job["started"])).total_seconds()


def setup(bridge: Bridge, sandbox_app: Any, sandbox_url: str, users: int, apps: int, members: int) -> list[str]:
    store = sandbox_app.state.sandbox
    ids = create_users(bridge, users)
    CHECKS.clear()
    for a in range(apps):
        people = tuple(SeedMember(email(n), f"u{n}", "member", "active") for n in range(members))
        store.seed("github", SeedSpec(f"{PREFIX}org{a}", "bench-token", people, ()))
        response = bridge.admin.post("/apps", json={
            "kind": "github", "label": f"bench{a}", "business_id": f"{PREFIX}org{a}",
            "automation_account": {"api_token": "bench-token"}, "api_base_url": f"{sandbox_url}/github",
            "deprovision_policy": "automatic", "mass_removal_guard": {"count": 100000, "percent": 100}})  # fmt: skip
        response.raise_for_status()
        job = bridge.wait_job(bridge.admin.post(f"/apps/{response.json()['id']}/check").json()["job_id"])
        assert job["status"] == "completed", job
        CHECKS.append(_span(job))
    return ids


def gone_everywhere(sandbox_app: Any, apps: int, n: int) -> bool:
    store = sandbox_app.state.sandbox.store
    return all((org := store.org("github", f"{PREFIX}org{a}")) is None or org.by_email(email(n)) is None for a in range(apps))


def deactivate(bridge: Bridge, sandbox_app: Any, apps: int, user_id: str, n: int, timeout: float = 600) -> float:
    started = time.perf_counter()
    bridge.scim.patch(f"/Users/{user_id}", json=DEACTIVATE).raise_for_status()
    while not gone_everywhere(sandbox_app, apps, n):
        assert time.perf_counter() - started < timeout, f"u{n} still present after {timeout}s"
        time.sleep(0.005)
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def stream(bridge: Bridge, sandbox_app: Any, apps: int, ids: list[str], first: int, seconds: float,
           rate: float) -> tuple[list[float], list[float], list[int]]:  # fmt: skip
    """RATE requests/s for SECONDS: one deactivation every 2 s (measured in its own thread), the
    rest filters and attribute PATCHes on users that stay. Returns removal times, SCIM request
    times, and the queued-job counts sampled every 2 s."""
    removals: list[float] = []
    requests: list[float] = []
    backlog: list[int] = []
    threads: list[threading.Thread] = []
    client = httpx.Client(base_url=bridge.scim.base_url, headers=bridge.scim.headers, timeout=300)
    period, start, tick = 1.0 / rate, time.perf_counter(), 0
    victim = first
    stay = len(ids) - 1  # users from the end are never deactivated
    while (now := time.perf_counter()) - start < seconds:
        due = start + tick * period
        if due > now:
            time.sleep(due - now)
        if tick % int(2 * rate) == 0:
            n = victim
            victim += 1
            thread = threading.Thread(target=lambda n=n: removals.append(deactivate(bridge, sandbox_app, apps, ids[n], n)))
            thread.start()
            threads.append(thread)
            backlog.append(bridge.queued())
        else:
            target = stay - (tick % 500)
            began = time.perf_counter()
            if tick % 2:
                client.get("/Users", params={"filter": f'userName eq "{email(target)}"'}).raise_for_status()
            else:
                body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "title", "value": f"t{tick}"}]}
                client.patch(f"/Users/{ids[target]}", json=body).raise_for_status()
            requests.append(time.perf_counter() - began)
        tick += 1
    for thread in threads:
        thread.join()
    backlog.append(bridge.queued())
    client.close()
    return removals, requests, backlog


@contextlib.contextmanager
def database(store: str) -> Iterator[str]:
    if store == "postgres":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"


def run(store: str, args: argparse.Namespace, sandbox: tuple[Any, str]) -> dict[str, Any]:
    sandbox_app, sandbox_url = sandbox
    global PREFIX
    PREFIX = f"r{time.monotonic_ns()}-"  # each run its own orgs in the shared sandbox
    extra = dict(kv.split("=", 1) for kv in args.env)
    with database(store) as url:
        bridge = Bridge(url, Path(args.code).resolve(), extra)
        try:
            ids = setup(bridge, sandbox_app, sandbox_url, args.users, args.apps, args.members)
            idle = [deactivate(bridge, sandbox_app, args.apps, ids[n], n) for n in range(args.idle)]
            removals, requests, backlog = stream(bridge, sandbox_app, args.apps, ids, args.idle, args.seconds,
                                                 args.rate)  # fmt: skip
        finally:
            bridge.close()
    return {"idle": idle, "removals": removals, "requests": requests, "backlog": backlog, "checks": list(CHECKS)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--apps", type=int, default=2)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=25)
    parser.add_argument("--idle", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--code", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()
    assert args.members <= args.users and args.idle + args.seconds / 2 + 1 < args.members
    sandbox = serve_sandbox()
    print(f"code={args.code} D={args.users} A={args.apps} M={args.members} stream={args.rate}/s x {args.seconds}s")
    print("| store | D | A | idle p50 / p99 | under the push stream p50 / p99 | SCIM p99 | job backlog first/max/last "
          "| first check of M (median) |")
    print("|---|---:|---:|---|---|---|---|---|")
    for store in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
        runs = [run(store, args, sandbox) for _ in range(args.runs)]

        def med(key: str, q: float, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(pct(r[key], q) for r in runs)

        backlog = runs[-1]["backlog"]
        print(f"| {store} | {args.users:,} | {args.apps} | {med('idle', 0.5):.2f} / {med('idle', 0.99):.2f} s "
              f"| {med('removals', 0.5):.2f} / {med('removals', 0.99):.2f} s | {med('requests', 0.99) * 1000:.0f} ms "
              f"| {backlog[0]} / {max(backlog)} / {backlog[-1]} "
              f"| {statistics.median(c for r in runs for c in r['checks']):.2f} s |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
