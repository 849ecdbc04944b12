#!/usr/bin/env python3
"""A check for updates at enterprise size (issue 13): a GitHub sandbox app of M members against a
directory of D users, on a real `scim-bridge serve` (SQLite or PostgreSQL) in a child process.

Per run: D users through SCIM Bulk (the first 2 % then deactivated, so the first check writes
report entries), a sandbox org of M members (u0..u{M-1}; those beyond D are unmatched) with 20
repositories of ~250 grants each, then three checks, each timed by the server (the job's
started -> finished; in brackets the CPU seconds meanwhile of the server / of this process,
which serves the sandbox vendor):

1. the first check (every member new, sets and report entries written);
2. a second check with nothing changed;
3. a third after ~1 % churn: CHURN/2 of the members removed, as many added, as many changed role,
   and as many grants moved.

The server's peak RSS (``VmHWM``) is reset (``/proc/PID/clear_refs``) after the setup, so the
figure is the checks' peak, not the Bulk load's. Printed: medians of ``--runs``.

    .venv/bin/python bench/check_scale.py [--store sqlite|postgres|both] [--users 10000]
        [--members 10000] [--runs 3] [--churn 0.01]
        [--code DIR]    # run the server from another checkout (a before/after in the same session)
        [--env K=V ...] # extra SCIM_BRIDGE_ settings for the server
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet

from bench import deprovision_scale as ds
from connectors.sandbox import SeedAsset, SeedMember, SeedSpec

ASSETS, GRANTS_PER_ASSET = 20, 250
TOKEN = "bench-token"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def deactivate_first(bridge: ds.Bridge, ids: list[str], count: int) -> None:
    """Deactivate users 0..count-1 through SCIM Bulk (before any app exists: nothing is queued)."""
    for start in range(0, count, 1000):
        ops = [{"method": "PATCH", "path": f"/Users/{ids[n]}", "data": ds.DEACTIVATE}
               for n in range(start, min(count, start + 1000))]  # fmt: skip
        response = bridge.scim.post("/Bulk", json={"schemas": [ds.BULK], "Operations": ops})
        response.raise_for_status()
        assert all(str(op["status"]).startswith("200") for op in response.json()["Operations"])


def seed_app(sandbox: Any, org: str, members: int) -> None:
    people = tuple(SeedMember(ds.email(n), f"User {n}", "admin" if n % 50 == 0 else "member", "active")
                   for n in range(members))  # fmt: skip
    step = max(1, members // GRANTS_PER_ASSET)
    assets = tuple(
        SeedAsset(f"repo-{a}", f"Repo {a}", "repository",
                  tuple((ds.email(n), "push" if n % 3 else "pull") for n in range(a + 1, members, step)))
        for a in range(ASSETS)
    )  # fmt: skip
    sandbox.seed("github", SeedSpec(org, TOKEN, people, assets))


def churn(sandbox: Any, org: str, members: int, fraction: float) -> int:
    """Change about ``fraction`` of the org: a quarter of it each removed, added, re-roled, and
    grants moved. Returns how many members changed."""
    store = sandbox.store
    each = max(1, int(members * fraction / 4))
    state = store.org("github", org)
    listing = list(state.listing())
    for member in listing[1 : 1 + each]:
        store.remove_member("github", org, member.uid)
    for n in range(each):
        store.add_member("github", org, email=ds.email(members + n), name=f"User {members + n}", role="member",
                         status="active")  # fmt: skip
    for member in listing[-each:]:
        store.set_role("github", org, member.uid, "admin" if member.role == "member" else "member")
    movers = listing[-2 * each : -each]
    for i, member in enumerate(movers):
        asset = f"repo-{i % ASSETS}"
        if state.assets[asset].grants.get(member.uid):
            store.revoke("github", org, asset, member.uid)
        else:
            store.grant("github", org, asset, member.uid, "maintain")
    return 4 * each


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far (a figure the machine's other load hardly moves)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def timed_check(bridge: ds.Bridge, app_id: str, profile: Path | None) -> tuple[float, float, float, float, dict[str, Any]]:
    """The check's server-side span, client wall time, the server's CPU seconds meanwhile and this
    process's (the sandbox vendor's, mostly); with ``profile``, py-spy samples the server into
    that file (collapsed stacks)."""
    spy = None
    if profile is not None:
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(bridge.proc.pid),
                                "-f", "raw", "-o", str(profile), "-r", "200", "--gil"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(1.0)  # py-spy attaching
    started, cpu, vendor = time.perf_counter(), cpu_seconds(bridge.proc.pid), time.process_time()
    job_id = bridge.admin.post(f"/apps/{app_id}/check").json()["job_id"]
    while (job := bridge.admin.get(f"/jobs/{job_id}", params={"wait": 30}).json())["status"] in ("queued", "running"):
        pass  # the server answers when the job ends (no polling load on the server being measured)
    wall, cpu = time.perf_counter() - started, cpu_seconds(bridge.proc.pid) - cpu
    vendor = time.process_time() - vendor
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait()
    assert job["status"] == "completed", job
    return ds._span(job), wall, cpu, vendor, job


def run(store: str, args: argparse.Namespace, sandbox: tuple[Any, str]) -> dict[str, Any]:
    sandbox_app, sandbox_url = sandbox
    org = f"r{time.monotonic_ns()}-org"
    extra = dict(kv.split("=", 1) for kv in args.env)
    out: dict[str, Any] = {}
    with ds.database(store) as url:
        bridge = ds.Bridge(url, Path(args.code).resolve(), extra, Fernet.generate_key().decode())
        try:
            began = time.perf_counter()
            ids = ds.create_users(bridge, args.users)
            deactivate_first(bridge, ids, args.users // 50)
            seed_app(sandbox_app.state.sandbox, org, args.members)
            response = bridge.admin.post("/apps", json={
                "kind": "github", "label": "bench", "business_id": org, "automation_account": {"api_token": TOKEN},
                "api_base_url": f"{sandbox_url}/github", "deprovision_policy": "report",
                "mass_removal_guard": {"count": 1_000_000, "percent": 100}})  # fmt: skip
            response.raise_for_status()
            app_id = response.json()["id"]
            ds.analyze(url)
            out["setup"] = time.perf_counter() - began
            out["setup_rss"] = peak_rss_mb(bridge.proc.pid)
            reset_peak(bridge.proc.pid)
            for name in ("first", "again", "churn"):
                if name == "churn":
                    out["churned"] = churn(sandbox_app.state.sandbox, org, args.members, args.churn)
                profile = Path(args.profile) / f"{store}-{name}.txt" if args.profile else None
                span, wall, cpu, vendor, job = timed_check(bridge, app_id, profile)
                out[name], out[name + "_wall"], out[name + "_cpu"], out[name + "_vendor"] = span, wall, cpu, vendor
                out[name + "_result"] = {k: job["result"].get(k) for k in ("sets", "imported", "closed", "permissions")}
            out["rss"] = peak_rss_mb(bridge.proc.pid)
        finally:
            bridge.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--churn", type=float, default=0.01)
    parser.add_argument("--code", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--profile", help="a directory: py-spy samples the server during each check (collapsed stacks)")
    parser.add_argument("--verbose", action="store_true", help="print each run's figures and job results")
    args = parser.parse_args()
    sandbox = ds.serve_sandbox()
    print(f"code={args.code} D={args.users:,} M={args.members:,} churn={args.churn:.0%} runs={args.runs}", flush=True)
    print("| store | D | M | first check | no-change check | after churn | peak RSS (checks) | setup (RSS) |")
    print("|---|---:|---:|---|---|---|---|---|")
    for store in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
        runs: list[dict[str, Any]] = []
        for _ in range(args.runs):
            runs.append(run(store, args, sandbox))
            if args.verbose:
                print("  ", {k: (round(v, 3) if isinstance(v, float) else v) for k, v in runs[-1].items()}, flush=True)

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        cells = [f"{med(k):.2f} s (cpu {med(k + '_cpu'):.2f} / {med(k + '_vendor'):.2f})" for k in ("first", "again", "churn")]
        print(f"| {store} | {args.users:,} | {args.members:,} | {' | '.join(cells)} | {max(r['rss'] for r in runs):.0f} MB "
              f"| {med('setup'):.0f} s ({max(r['setup_rss'] for r in runs):.0f} MB) |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
