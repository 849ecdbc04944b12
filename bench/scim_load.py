#!/usr/bin/env python3
"""Run ../shared/bench/scimload.py against scim-bridge (SQLite, PostgreSQL) and the bare
Starlette ceiling in one run; print each phase's ops/s, its ratio to the ceiling, and the
issue's goals (issue 14: the fastest in-memory peer's ratio to its ceiling; twice the peer on
the group phases).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/scim_load.py [--users 2000] [--db sqlite postgres sqlite:noseal] [--runs 3]
    .venv/bin/python bench/scim_load.py --tree before=/tmp/main-checkout --db postgres postgres@before

``sqlite:noseal`` (or ``postgres:noseal``) is the store with the audit sealer all but off
(``SCIM_BRIDGE_AUDIT_SEAL_SECONDS=3600``): the same-run reference for the sealer's cost. Rounds
are interleaved (one run of every store, then the next round).

The server is pinned to CPU 0 and the client to CPU 1 (taskset), as the load client's
README asks. Each run starts a fresh server on a fresh database; the table shows each phase's
median over the runs and its range (the group phases are 40 requests of a few milliseconds
each, so a single run swings by a third on a shared machine). Results are kept as JSON in
bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# ../shared/bench beside the checkout (or beside the worktrees' folder, for a worktree)
SHARED = Path(os.environ.get("SCIM_BRIDGE_SHARED_BENCH") or next(
    (p for p in (ROOT.parent / "shared" / "bench", ROOT.parent.parent / "shared" / "bench") if p.is_dir()),
    ROOT.parent / "shared" / "bench"))  # fmt: skip
PY = sys.executable
POSTGRES = os.environ.get("SCIM_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Issue 14's fastest peer (scimgateway on bun, in memory), measured with its own ceiling: the
# per-request phases as a fraction of the same-run ceiling, the group phases in ops/s (their goal
# is twice the peer's).
PEER_RATIO = {"create": 0.136, "get": 0.204, "filter": 0.155, "patch_entra": 0.154, "patch_okta": 0.188,
              "delete": 0.079}  # fmt: skip
PEER_GROUP = {"group_remove": 314, "group_add": 200}


def _taskset(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _load(base: str, pid: int, out: Path, extra: list[str]) -> dict:
    cmd = [PY, str(SHARED / "scimload.py"), "--base-url", base, "--cpu", "1", "--pid", str(pid),
           "--out", str(out), "--quiet", *extra]  # fmt: skip
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())["phases"]


def _free_port() -> int:
    """A loopback port nobody holds now (other engineers run benches on this machine too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ceiling(results: Path) -> float:
    port = _free_port()
    proc = subprocess.Popen(_taskset(0) + [PY, "-m", "uvicorn", "ceiling_app:app", "--app-dir", str(SHARED),
                            "--port", str(port), "--no-access-log", "--log-level", "warning"])  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/", proc)
        phases = _load(f"http://127.0.0.1:{port}", proc.pid, results / "ceiling.json",
                       ["--ceiling-path", "/Users/2819c223", "--requests", "20000"])  # fmt: skip
        return float(phases["ceiling_get"]["ops_per_s"])
    finally:
        proc.terminate()
        proc.wait()


def _database(kind: str, tmp: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", None
    name = f"sb_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", f'CREATE DATABASE "{name}"'],
                   check=True)  # fmt: skip
    return POSTGRES.rsplit("/", 1)[0] + "/" + name, name


# A variant is a store with settings changed: ``sqlite:noseal`` is the embedded store with the
# audit sealer all but off (the reference for the sealer's cost, issue 12).
VARIANTS = {"": {}, "noseal": {"SCIM_BRIDGE_AUDIT_SEAL_SECONDS": "3600"}}


TREES: dict[str, str] = {}  # --tree NAME=DIR: ``store@NAME`` runs the server from another checkout


def scim_bridge(kind: str, users: int, results: Path, run: int = 0) -> dict:
    kind, _, tree = kind.partition("@")
    store, _, variant = kind.partition(":")
    tmp = Path(tempfile.mkdtemp())
    url, pg_name = _database(store, tmp)
    env = os.environ | {"SCIM_BRIDGE_DATABASE_URL": url, "SCIM_BRIDGE_ACCESS_LOG": "false",
                        "SCIM_BRIDGE_LOG_LEVEL": "WARNING"} | VARIANTS[variant]  # fmt: skip
    if tree:
        env["PYTHONPATH"] = TREES[tree]
    port = _free_port()
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
        _wait(f"http://127.0.0.1:{port}/healthz", proc)
        return _load(f"http://127.0.0.1:{port}/scim/v2", proc.pid, results / f"scim-bridge-{kind.replace(':', '-')}{'-' + tree if tree else ''}-{run}.json",
                     ["--token", token, "--users", str(users)])  # fmt: skip
    finally:
        proc.terminate()
        proc.wait()
        if pg_name:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                            f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'], check=False)  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)


PHASES = ("create", "get", "filter", "patch_entra", "patch_okta", "list", "group_create", "group_remove",
          "group_add", "group_get", "delete", "group_delete")  # fmt: skip


def _ops(phase: str, result: dict) -> float:
    r = result.get(phase, {})
    return float((r.get("resources_per_s") if phase == "list" else r.get("ops_per_s")) or 0.0)


def _goal(phase: str, ceiling_ops: float) -> str:
    """The phase's goal in ops/s: the peer's ratio to the ceiling, or twice the peer (groups)."""
    if phase in PEER_RATIO:
        return f"{PEER_RATIO[phase] * ceiling_ops:,.0f}"
    if phase in PEER_GROUP:
        return f"{2 * PEER_GROUP[phase]:,}"
    return ""


def report(ceiling_ops: float, runs: dict[str, list[dict]]) -> None:
    """One column pair per database: the median over its runs (and / ceiling), then the range."""
    kinds = list(runs)
    n = len(next(iter(runs.values())))
    print(f"\nceiling (bare Starlette GET): {ceiling_ops:,.0f} ops/s; {n} run(s) per database, medians\n")
    header = f"{'phase':14s}" + "".join(f"{k + ' ops/s':>16s}{'/ceil':>7s}{'range':>15s}" for k in kinds)
    print(header + f"{'goal':>9s}")
    for phase in PHASES:
        row = f"{phase:14s}"
        for kind in kinds:
            values = [_ops(phase, result) for result in runs[kind]]
            errors = sum(result.get(phase, {}).get("errors", 0) for result in runs[kind])
            ops = statistics.median(values)
            row += f"{ops:>14,.0f}{f'!{errors}' if errors else '':2s}{ops / ceiling_ops:>7.2f}"
            row += f"{f'{min(values):,.0f}-{max(values):,.0f}':>15s}"
        print(row + f"{_goal(phase, ceiling_ops):>9s}")
    for kind in kinds:
        for result in runs[kind]:
            checks = {k: result.get(p, {}).get(k) for p, k in (("group_get", "members_after_add"),
                      ("delete", "group_members_after_user_delete"), ("list", "our_users_missing"))}  # fmt: skip
            print(f"{kind}: {checks}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"],
                        help="sqlite, postgres, STORE:noseal, STORE@TREE (a --tree)")
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                        help="another checkout to run the server from, e.g. before=/tmp/main (the same-run 'before')")
    parser.add_argument("--runs", type=int, default=3, help="fresh server and database per run")
    args = parser.parse_args()
    TREES.update(tree.split("=", 1) for tree in args.tree)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    ceiling_ops = ceiling(results)
    runs: dict[str, list[dict]] = {kind: [] for kind in args.db}
    for run in range(args.runs):  # interleaved rounds: a load swing on the machine hits every store alike
        for kind in args.db:
            runs[kind].append(scim_bridge(kind, args.users, results, run))
    report(ceiling_ops, runs)


if __name__ == "__main__":
    main()
