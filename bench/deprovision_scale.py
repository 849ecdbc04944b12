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
        [--code DIR ...] # run the server from this checkout; repeated: each measured in turn on the
                         # same data (one setup), e.g. a before/after in the same session
        [--stages]     # where the idle deactivations' time went (PATCH -> jobs claimed / done -> gone)
        [--old-jobs N] # first insert N completed jobs (inside the retention): measure with a long history
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

    def __init__(self, url: str, code: Path, extra: dict[str, str], key: str) -> None:
        self.port = free_port()
        self.code = code
        self.env = os.environ | {
            "SCIM_BRIDGE_DATABASE_URL": url, "SCIM_BRIDGE_SECRET_KEY": key,
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


OLD_SPAN = 5 * 86400  # old jobs finished over the last 5 days: inside the default 7-day retention, never pruned
OLD_BATCH = 100_000
_OLD_COLUMNS = ("id, workspace_id, app_id, kind, status, payload, result, dedupe_key, created_by, max_attempts, "
                "attempts, progress_done, run_after, created, started, finished")  # fmt: skip


def _old_jobs_sql(dialect: str) -> str:
    """One set-based INSERT of a batch of completed jobs: row ``n`` (``:lo`` <= n < ``:hi``) goes to
    app ``n % A``, is a check, reconcile or remove (1 : 4 : 5, as the outbox makes them), and was
    created and finished ``n``-proportionally over the last ``OLD_SPAN`` seconds."""
    if dialect == "sqlite":
        seq = "WITH RECURSIVE seq(n) AS (SELECT :lo UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < :hi)"
        at = "strftime('%Y-%m-%d %H:%M:%S', :base, '+' || (s.n * {span} / :total) || ' seconds') || '.000000'"
        job_id = "printf('00000000-0000-4000-8000-%012d', s.n)"
    else:
        seq = "WITH seq(n) AS (SELECT generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1))"
        at = "CAST(:base AS timestamptz) + (s.n * {span} / :total) * interval '1 second'"
        job_id = "'00000000-0000-4000-8000-' || lpad(CAST(s.n AS text), 12, '0')"
    at = at.format(span=OLD_SPAN)
    kind = "CASE WHEN s.n % 10 = 0 THEN 'check' WHEN s.n % 10 < 5 THEN 'reconcile' ELSE 'remove' END"
    return (
        f"{seq}, a AS (SELECT id, workspace_id, row_number() OVER (ORDER BY id) - 1 AS i FROM apps)"
        f" INSERT INTO jobs ({_OLD_COLUMNS}) SELECT {job_id}, a.workspace_id, a.id, {kind}, 'completed',"
        f" '{{\"reason\": \"old\"}}', '{{}}', a.id || ':' || {kind} || CASE WHEN s.n % 10 < 5 THEN '' ELSE"
        f" '\\:old' || CAST(s.n AS text) END, 'bench', 8, 1, 0, {at}, {at}, {at}, {at}"
        f" FROM seq AS s JOIN a ON a.i = s.n % :apps"
    )  # fmt: skip


def insert_old_jobs(url: str, count: int, apps: int) -> float:
    """``--old-jobs``: ``count`` completed jobs straight into the jobs table (set-based, in batches
    so the server's writers are never locked out for long), spread over the apps, finished inside
    the retention so the scheduler does not prune them. Returns the seconds it took."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine, text

    started = time.perf_counter()
    engine = create_engine(url, connect_args={"timeout": 120} if url.startswith("sqlite") else {})
    base = (datetime.now(UTC) - timedelta(seconds=OLD_SPAN + 3600)).replace(tzinfo=None)
    sql = text(_old_jobs_sql(engine.dialect.name))
    try:
        for lo in range(0, count, OLD_BATCH):
            with engine.begin() as conn:
                conn.execute(sql, {"lo": lo, "hi": min(count, lo + OLD_BATCH), "total": count, "apps": apps,
                                   "base": base.isoformat(" ") if engine.dialect.name == "sqlite" else base})  # fmt: skip
    finally:
        engine.dispose()
    return time.perf_counter() - started


def analyze(url: str) -> None:
    """PostgreSQL: ``ANALYZE`` after a set-up, as autovacuum would in production within a minute
    of a bulk load (the test cluster runs without autovacuum). Without statistics the planner
    guesses, e.g. filtering a slice's addresses over the whole directory's emails instead of
    seeking them (240 ms a reconcile at 100,000 users). The service never ANALYZEs SQLite."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def gone_everywhere(sandbox_app: Any, apps: int, n: int) -> bool:
    store = sandbox_app.state.sandbox.store
    return all((org := store.org("github", f"{PREFIX}org{a}")) is None or org.by_email(email(n)) is None for a in range(apps))


TRACE: list[tuple[str, float, float, float]] = []  # idle deactivations: user id, sent, acknowledged, gone (epoch s)


def deactivate(bridge: Bridge, sandbox_app: Any, apps: int, user_id: str, n: int, timeout: float = 600,
               trace: bool = False) -> float:  # fmt: skip
    started, sent = time.perf_counter(), time.time()
    bridge.scim.patch(f"/Users/{user_id}", json=DEACTIVATE).raise_for_status()
    acked = time.time()
    while not gone_everywhere(sandbox_app, apps, n):
        assert time.perf_counter() - started < timeout, f"u{n} still present after {timeout}s"
        time.sleep(0.002)
    if trace:
        TRACE.append((user_id, sent, acked, time.time()))
    return time.perf_counter() - started


def _epoch(stamp: str | None) -> float:
    from datetime import UTC, datetime

    assert stamp is not None
    return datetime.fromisoformat(stamp.rstrip("Z")).replace(tzinfo=UTC).timestamp()


STAGES = ("acknowledged", "reconcile claimed", "reconcile done", "remove claimed", "remove done", "gone")


def stages(bridge: Bridge, since: float) -> dict[str, list[float]]:
    """Where each traced idle deactivation's time went, from the job rows (created / started /
    finished, server clock = this machine's): for each stage, the latest app's time since the
    PATCH was sent. The reconcile jobs of a deactivation are those created between its PATCH and
    the next one; its removal jobs name its user."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        page = bridge.admin.get("/jobs", params=params).json()
        found += [j for j in page["items"] if _epoch(j["created"]) >= since]
        if not page.get("next_cursor") or (page["items"] and _epoch(page["items"][-1]["created"]) < since):
            break
        params["cursor"] = page["next_cursor"]
    out: dict[str, list[float]] = {s: [] for s in STAGES}
    for i, (user_id, sent, acked, gone) in enumerate(TRACE):
        until = TRACE[i + 1][1] if i + 1 < len(TRACE) else float("inf")
        recs = [j for j in found if j["kind"] == "reconcile" and sent <= _epoch(j["created"]) < until and j["finished"]]
        rems = [j for j in found if j["kind"] == "remove" and j["payload"].get("user_id") == user_id and j["finished"]]
        if not recs or not rems:
            continue
        out["acknowledged"].append(acked - sent)
        out["reconcile claimed"].append(max(_epoch(j["started"]) for j in recs) - sent)
        out["reconcile done"].append(max(_epoch(j["finished"]) for j in recs) - sent)
        out["remove claimed"].append(max(_epoch(j["started"]) for j in rems) - sent)
        out["remove done"].append(max(_epoch(j["finished"]) for j in rems) - sent)
        out["gone"].append(gone - sent)
    return out


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


def measure(bridge: Bridge, sandbox: tuple[Any, str], args: argparse.Namespace, ids: list[str],
            first: int) -> dict[str, Any]:  # fmt: skip
    """Idle deactivations of ``ids[first:]``, then the stream (its victims follow them)."""
    sandbox_app = sandbox[0]
    TRACE.clear()
    since = time.time()
    cpu = [server_cpu(bridge)]
    idle = [deactivate(bridge, sandbox_app, args.apps, ids[n], n, trace=True) for n in range(first, first + args.idle)]
    cpu.append(server_cpu(bridge))
    traced = stages(bridge, since) if args.stages else {}
    cpu.append(server_cpu(bridge))
    removals, requests, backlog = stream(bridge, sandbox_app, args.apps, ids, first + args.idle, args.seconds,
                                         args.rate)  # fmt: skip
    cpu.append(server_cpu(bridge))
    return {"idle": idle, "removals": removals, "requests": requests, "backlog": backlog, "checks": list(CHECKS),
            "stages": traced, "cpu_idle": (cpu[1] - cpu[0]) / max(len(idle), 1), "cpu_stream": cpu[3] - cpu[2]}


def server_cpu(bridge: Bridge) -> float:
    """CPU seconds (user + system) the server process has used so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{bridge.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def victims(args: argparse.Namespace) -> int:
    """Users one code's measurement deactivates (idle, then one every 2 s of the stream)."""
    return args.idle + int(args.seconds / 2) + 2


def run(store: str, args: argparse.Namespace, sandbox: tuple[Any, str]) -> list[dict[str, Any]]:
    """Build the directory and the apps once (with the first ``--code``), then measure each
    ``--code`` in turn on that same data, restarting the server from it: a before/after in one
    session at the cost of one setup."""
    sandbox_app, sandbox_url = sandbox
    global PREFIX
    PREFIX = f"r{time.monotonic_ns()}-"  # each run its own orgs in the shared sandbox
    extra = dict(kv.split("=", 1) for kv in args.env)
    results = []
    key = Fernet.generate_key().decode()  # one per database: every server started on it decrypts its secrets
    with database(store) as url:
        bridge = Bridge(url, Path(args.code[0]).resolve(), extra, key)
        try:
            ids = setup(bridge, sandbox_app, sandbox_url, args.users, args.apps, args.members)
            if args.old_jobs:
                took = insert_old_jobs(url, args.old_jobs, args.apps)
                print(f"  {store}: {args.old_jobs:,} old completed jobs inserted in {took:.0f} s", flush=True)
            analyze(url)
            for i, code in enumerate(args.code):
                if i:
                    bridge.close()
                    bridge = Bridge(url, Path(code).resolve(), extra, key)
                results.append(measure(bridge, sandbox, args, ids, i * victims(args)))
        finally:
            bridge.close()
    return results


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
    parser.add_argument("--code", action="append", default=[],
                        help="checkout to run the server from; repeat to compare several on the same data")
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--old-jobs", type=int, default=0, help="completed old job rows to insert before measuring")
    parser.add_argument("--stages", action="store_true", help="print where the idle deactivations' time went")
    args = parser.parse_args()
    args.code = args.code or [str(Path(__file__).resolve().parent.parent)]
    assert args.members <= args.users and victims(args) * len(args.code) < args.members
    sandbox = serve_sandbox()
    print(f"D={args.users} A={args.apps} M={args.members} stream={args.rate}/s x {args.seconds}s old jobs={args.old_jobs:,}")
    print("| store | code | D | A | idle p50 / p99 | under the push stream p50 / p99 | SCIM p99 "
          "| job backlog first/max/last | first check of M (median) |")
    print("|---|---|---:|---:|---|---|---|---|---|")
    for store in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
        by_run = [run(store, args, sandbox) for _ in range(args.runs)]
        for i, code in enumerate(args.code):
            runs = [results[i] for results in by_run]

            def med(key: str, q: float, runs: list[dict[str, Any]] = runs) -> float:
                return statistics.median(pct(r[key], q) for r in runs)

            backlog = runs[-1]["backlog"]
            print(f"| {store} | {code} | {args.users:,} | {args.apps} | {med('idle', 0.5):.2f} / {med('idle', 0.99):.2f} s "
                  f"| {med('removals', 0.5):.2f} / {med('removals', 0.99):.2f} s | {med('requests', 0.99) * 1000:.0f} ms "
                  f"| {backlog[0]} / {max(backlog)} / {backlog[-1]} "
                  f"| {statistics.median(c for r in runs for c in r['checks']):.2f} s |", flush=True)  # fmt: skip
            print(f"  {store} {code} server CPU: {statistics.median(r['cpu_idle'] for r in runs) * 1000:.0f} ms per idle "
                  f"deactivation, {statistics.median(r['cpu_stream'] for r in runs):.1f} s over the {args.seconds:g} s stream "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
            if args.stages:
                traced = runs[-1]["stages"]
                print(f"  {store} {code} idle stages (ms since the PATCH was sent, slowest app; p50 / max of "
                      f"{len(traced['gone'])}): " + ", ".join(
                          f"{name} {pct(traced[name], 0.5) * 1000:.0f} / {max(traced[name], default=float('nan')) * 1000:.0f}"
                          for name in STAGES), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
