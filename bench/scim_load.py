#!/usr/bin/env python3
"""Run ../shared/bench/scimload.py against scim-bridge (SQLite, PostgreSQL) and the bare
Starlette ceiling in one run; print each phase's ops/s, its ratio to the ceiling, and the
issue's goals (the fastest in-memory peer; 10x that on the group phases).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/scim_load.py [--users 2000] [--db sqlite postgres] [--runs 3]

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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SCIM_BRIDGE_SHARED_BENCH", ROOT.parent / "shared" / "bench"))
PY = sys.executable
POSTGRES = os.environ.get("SCIM_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

PEER = {"create": 1229, "get": 1984, "filter": 1237, "patch_entra": 1434, "patch_okta": 1434,
        "list": 4700, "delete": 1493, "group_add": 89, "group_remove": 162, "group_get": 270}  # fmt: skip
GROUP_PHASES = {"group_add", "group_remove", "group_get"}


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


def ceiling(results: Path) -> float:
    port = 18050
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


def scim_bridge(kind: str, users: int, results: Path, run: int = 0) -> dict:
    tmp = Path(tempfile.mkdtemp())
    url, pg_name = _database(kind, tmp)
    env = os.environ | {"SCIM_BRIDGE_DATABASE_URL": url, "SCIM_BRIDGE_ACCESS_LOG": "false",
                        "SCIM_BRIDGE_LOG_LEVEL": "WARNING"}  # fmt: skip
    port = 18001
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
        return _load(f"http://127.0.0.1:{port}/scim/v2", proc.pid, results / f"scim-bridge-{kind}-{run}.json",
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
        goal = PEER.get(phase)
        goal = goal * 10 if goal and phase in GROUP_PHASES else goal
        print(row + (f"{goal:>9,}" if goal else f"{'':>9s}"))
    for kind in kinds:
        for result in runs[kind]:
            checks = {k: result.get(p, {}).get(k) for p, k in (("group_get", "members_after_add"),
                      ("delete", "group_members_after_user_delete"), ("list", "our_users_missing"))}  # fmt: skip
            print(f"{kind}: {checks}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--runs", type=int, default=3, help="fresh server and database per run")
    args = parser.parse_args()
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    ceiling_ops = ceiling(results)
    runs = {kind: [scim_bridge(kind, args.users, results, run) for run in range(args.runs)] for kind in args.db}
    report(ceiling_ops, runs)


if __name__ == "__main__":
    main()
