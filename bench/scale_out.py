#!/usr/bin/env python3
"""SCIM throughput through HAProxy to 1 and to 2 API processes on PostgreSQL, in one run.

    .venv/bin/pip install -e '.[bench]'        # and Debian's haproxy
    .venv/bin/python bench/scale_out.py [--users 500] [--runs 3] [--concurrency 16]

Each round starts the topology of ``tests/topology/cluster.py`` (``scim-bridge serve`` with no
worker inside, ``deploy/haproxy.cfg`` in front) on a fresh PostgreSQL database and drives
``../shared/bench/scimload.py`` through the balancer; rounds of 1 and 2 API processes are
interleaved with a reference round that sends the same load straight to one API process (no
balancer), and the table shows each phase's median ops/s over the rounds. The balancer's own
CPU (user + system, its worker process included) is read from /proc around each round and
shown per request. On this 2-core machine the client, PostgreSQL, HAProxy and the API
processes share the cores, so the second process shows overhead more than scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet

from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database
from tests.db import postgres_database
from tests.topology.cluster import Cluster

# ../shared/bench beside the checkout (or beside the worktrees' folder, for a worktree)
SHARED = Path(os.environ.get("SCIM_BRIDGE_SHARED_BENCH") or next(
    (p for p in (ROOT.parent / "shared" / "bench", ROOT.parent.parent / "shared" / "bench") if p.is_dir()),
    ROOT.parent / "shared" / "bench"))  # fmt: skip
PHASES = ("create", "get", "filter", "patch_entra", "patch_okta", "list", "group_remove", "group_add",
          "group_get", "delete")  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live children (HAProxy's master and worker)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            continue
    return total


def one_round(apis: int, users: int, concurrency: int, results: Path, run: int, *, direct: bool = False) -> dict:
    """One fresh topology and one scimload run: through the balancer, or (``direct``, the
    reference) straight to the single API process."""
    with postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        migrate.upgrade(url)
        db = Database(Settings(database_url=url))
        try:
            _, token = db.write_sync(lambda c: tenancy.create_token(c, "bench", "scim", "scale_out"))
        finally:
            db.close()
        cluster = Cluster(url, Path(tmp), Fernet.generate_key().decode(),
                          extra_env={"SCIM_BRIDGE_LOG_LEVEL": "WARNING"})  # fmt: skip
        try:
            cluster.start(apis=apis, workers=0)
            assert cluster.balancer is not None and cluster.balancer.popen is not None
            balancer_pid = cluster.balancer.popen.pid
            out = results / f"scale-out-{apis}api{'-direct' if direct else ''}-{run}.json"
            base = f"http://127.0.0.1:{cluster.apis[0].port}" if direct else cluster.url
            cmd = [sys.executable, str(SHARED / "scimload.py"), "--base-url", base + "/scim/v2",
                   "--token", token, "--users", str(users), "--concurrency", str(concurrency),
                   "--out", str(out), "--quiet"]  # fmt: skip
            for proc in cluster.apis:
                assert proc.popen is not None
                cmd += ["--pid", str(proc.popen.pid)]
            before, started = cpu_seconds(balancer_pid), time.monotonic()
            subprocess.run(cmd, check=True)
            balancer_cpu, wall = cpu_seconds(balancer_pid) - before, time.monotonic() - started
        finally:
            cluster.stop()
        phases = json.loads(out.read_text())["phases"]
        requests = sum(int(p.get("ops") or 0) + int(p.get("errors") or 0) for p in phases.values())
        return {"phases": phases, "balancer_cpu_s": balancer_cpu, "wall_s": wall, "requests": requests}


def ops(phase: str, result: dict) -> float:
    r = result["phases"].get(phase, {})
    return float((r.get("resources_per_s") if phase == "list" else r.get("ops_per_s")) or 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    rounds: dict[int, list[dict]] = {1: [], 2: []}
    direct: list[dict] = []  # the reference: the same load straight to one API process
    for run in range(args.runs):
        direct.append(one_round(1, args.users, args.concurrency, results, run, direct=True))
        for apis in (1, 2):  # interleaved, so drift on the shared machine hits all alike
            rounds[apis].append(one_round(apis, args.users, args.concurrency, results, run))
        print(f"round {run + 1}/{args.runs} done", file=sys.stderr, flush=True)

    print(f"\nthrough HAProxy on PostgreSQL, {args.users} users, concurrency {args.concurrency}, "
          f"medians of {args.runs} interleaved rounds\n")  # fmt: skip
    print(f"{'phase':14s}{'direct ops/s':>14s}{'1 API ops/s':>14s}{'/direct':>9s}{'2 APIs ops/s':>14s}{'2 / 1':>8s}")
    for phase in PHASES:
        ref = statistics.median(ops(phase, r) for r in direct)
        one = statistics.median(ops(phase, r) for r in rounds[1])
        two = statistics.median(ops(phase, r) for r in rounds[2])
        errors = sum(r["phases"].get(phase, {}).get("errors", 0) for rs in rounds.values() for r in rs)
        ratio = f"{two / one:.2f}" if one else "-"
        vs = f"{one / ref:.2f}" if ref else "-"
        print(f"{phase:14s}{ref:>14,.0f}{one:>14,.0f}{vs:>9s}{two:>14,.0f}{ratio:>8s}"
              + (f"  errors {errors}" if errors else ""))  # fmt: skip
    for apis, rs in rounds.items():
        cpu = statistics.median(r["balancer_cpu_s"] for r in rs)
        share = statistics.median(r["balancer_cpu_s"] / r["wall_s"] for r in rs)
        per = statistics.median(r["balancer_cpu_s"] * 1e6 / r["requests"] for r in rs if r["requests"])
        print(f"HAProxy CPU with {apis} API process(es): {cpu:.2f} s per round, {share:.1%} of one core, "
              f"{per:.0f} us per request")  # fmt: skip


if __name__ == "__main__":
    main()
