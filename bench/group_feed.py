#!/usr/bin/env python3
"""A member joining a group an assignment rule names, and an admin's exempt/unexempt (issue 13):
what each app's reconcile costs, against a real `scim-bridge serve` (SQLite or PostgreSQL) and
the sandbox, set up as ``deprovision_scale.py`` does (D users, A apps of M members each).

One group of G users is named by a rule of every app. Then, N times: a SCIM PATCH adds one more
user to the group, and every app's reconcile job is timed from the jobs API (``started`` to
``finished``); and an admin exempts then unexempts one member (each request's wall time: the
member's re-plan is in it). Printed: medians and maxima, and how each reconcile went (``slice``
or ``app``). Run it against another checkout with ``--code`` for a before/after in one run.

    .venv/bin/python bench/group_feed.py [--store sqlite|postgres] [--users 10000] [--apps 8]
        [--members 2000] [--group 5000] [--joins 5] [--code DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from deprovision_scale import Bridge, _span, database, serve_sandbox, setup

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
TERMINAL = ("completed", "failed", "cancelled")


def _jobs(bridge: Bridge, app_id: str) -> list[dict[str, Any]]:
    return list(bridge.admin.get("/jobs", params={"app_id": app_id, "limit": 500}).json()["items"])


def settle(bridge: Bridge, apps: list[str], seen: set[str]) -> list[dict[str, Any]]:
    """Wait until no app has a live job; the reconcile jobs completed since ``seen`` (then seen)."""
    fresh: list[dict[str, Any]] = []
    for app_id in apps:
        jobs = _jobs(bridge, app_id)
        while any(j["status"] not in TERMINAL for j in jobs):
            time.sleep(0.02)
            jobs = _jobs(bridge, app_id)
        fresh += [j for j in jobs if j["kind"] == "reconcile" and j["status"] == "completed" and j["id"] not in seen]
        seen.update(j["id"] for j in jobs)
    return fresh


def run(args: argparse.Namespace) -> dict[str, Any]:
    sandbox_app, sandbox_url = serve_sandbox()
    with database(args.store) as url:
        bridge = Bridge(url, Path(args.code).resolve(), {}, Fernet.generate_key().decode())
        try:
            ids = setup(bridge, sandbox_app, sandbox_url, args.users, args.apps, args.members)
            apps = [a["id"] for a in bridge.admin.get("/apps", params={"limit": 500}).json()["items"]]
            body = {"schemas": [GROUP], "displayName": "bench", "members": [{"value": i} for i in ids[: args.group]]}
            made = bridge.scim.post("/Groups", json=body)
            made.raise_for_status()
            gid = made.json()["id"]
            for app_id in apps:
                rule = {"group_id": gid, "bridge_role": "collaborator"}
                bridge.admin.post(f"/apps/{app_id}/rules", json=rule).raise_for_status()
            seen: set[str] = set()
            settle(bridge, apps, seen)
            spans: list[float] = []
            hows: Counter[str] = Counter()
            for n in range(args.joins):
                join = {"value": [{"value": ids[args.group + n]}], "op": "add", "path": "members"}
                bridge.scim.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [join]}).raise_for_status()
                for job in settle(bridge, apps, seen):
                    spans.append(_span(job))
                    hows[str((job["result"] or {}).get("reconciled", "app"))] += 1
            member = bridge.admin.get(f"/apps/{apps[0]}/members", params={"state": "matched", "limit": 1}).json()
            mid = member["items"][0]["id"]
            admin: list[float] = []
            for _ in range(args.joins):
                for path, payload in (("exempt", {"reason": "bench"}), ("unexempt", None)):
                    began = time.perf_counter()
                    bridge.admin.post(f"/apps/{apps[0]}/members/{mid}/{path}", json=payload).raise_for_status()
                    admin.append(time.perf_counter() - began)
            settle(bridge, apps, seen)
        finally:
            bridge.close()
    return {"spans": spans, "hows": dict(hows), "admin": admin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--apps", type=int, default=8)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--group", type=int, default=5000)
    parser.add_argument("--joins", type=int, default=5)
    parser.add_argument("--code", default=str(Path(__file__).resolve().parent.parent))
    args = parser.parse_args()
    assert args.members <= args.users and args.group + args.joins <= args.users
    out = run(args)
    spans, admin = out["spans"], out["admin"]
    print(f"code={args.code} store={args.store} D={args.users} A={args.apps} M={args.members} G={args.group} "
          f"joins={args.joins}: reconcile per app median {statistics.median(spans) * 1000:.0f} ms "
          f"max {max(spans) * 1000:.0f} ms ({out['hows']}); admin exempt/unexempt median "
          f"{statistics.median(admin) * 1000:.0f} ms max {max(admin) * 1000:.0f} ms", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
