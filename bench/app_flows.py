#!/usr/bin/env python3
"""End-to-end figures for connected apps, against a real `scim-bridge serve` (SQLite) and the
sandbox on loopback:

  check   a check for updates of a 50,000-member sandbox app (goal < 60 s, server RSS < 300 MB)
  deprov  IdP deactivate -> removal confirmed in the sandbox, policy automatic, p50/p99 over
          200 users (goal p99 < 2 s)

    .venv/bin/python bench/app_flows.py [--members 50000] [--users 200] [--only check|deprov]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.sandbox import SandboxClient, SeedMember, SeedSpec, create_sandbox_app
from tests.servers import free_port

CLI = [sys.executable, "-m", "scim_server.cli"]
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def serve_sandbox() -> tuple[object, str]:
    app = create_sandbox_app("empty")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return app, f"http://127.0.0.1:{port}"


class Bridge:
    def __init__(self) -> None:
        tmp = Path(tempfile.mkdtemp())
        self.port = free_port()
        self.env = os.environ | {"SCIM_BRIDGE_DATABASE_URL": f"sqlite:///{tmp / 'b.db'}",
                                 "SCIM_BRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
                                 "SCIM_BRIDGE_ACCESS_LOG": "false", "SCIM_BRIDGE_LOG_LEVEL": "WARNING",
                                 "SCIM_BRIDGE_WORKER_POLL_SECONDS": "0.2"}  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(CLI + ["serve", "--port", str(self.port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        while True:
            try:
                httpx.get(self.base + "/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        self.scim = httpx.Client(base_url=self.base + "/scim/v2", headers=self._auth("scim"), timeout=120)
        self.admin = httpx.Client(base_url=self.base + "/api/v1", headers=self._auth("admin"), timeout=120)

    def _auth(self, scope: str) -> dict[str, str]:
        out = subprocess.run(CLI + ["token", "create", "--scope", scope], env=self.env, capture_output=True,
                             text=True, check=True)  # fmt: skip
        return {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def wait_job(self, job_id: str) -> dict:
        while (job := self.admin.get(f"/jobs/{job_id}").json())["status"] in ("queued", "running"):
            time.sleep(0.05)
        return job

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def connect(bridge: Bridge, sandbox_url: str, org: str, policy: str) -> str:
    response = bridge.admin.post("/apps", json={"kind": "github", "label": "bench", "business_id": org,
                                                "automation_account": {"api_token": "bench-token"},
                                                "api_base_url": f"{sandbox_url}/github", "deprovision_policy": policy,
                                                "mass_removal_guard": {"count": 100000, "percent": 100}})  # fmt: skip
    response.raise_for_status()
    return str(response.json()["id"])


def bench_check(sandbox_app: object, sandbox_url: str, members: int) -> None:
    people = tuple(SeedMember(f"user{n}@bench.example.com", f"user{n}", "admin" if n % 50 == 0 else "member",
                              "pending" if n % 40 == 0 else "active") for n in range(members))  # fmt: skip
    sandbox_app.state.sandbox.seed("github", SeedSpec("bench-org", "bench-token", people, ()))  # type: ignore[attr-defined]
    bridge = Bridge()
    try:
        for n in range(2000):  # some directory users, so matching has work to do
            bridge.scim.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                             "userName": f"user{n}@bench.example.com"})  # fmt: skip
        app_id = connect(bridge, sandbox_url, "bench-org", "report")
        started = time.perf_counter()
        job = bridge.wait_job(bridge.admin.post(f"/apps/{app_id}/check").json()["job_id"])
        elapsed = time.perf_counter() - started
        print(f"check   members={members} status={job['status']} imported={job['result'].get('imported')} "
              f"matched={job['result']['sets']['matched']} time={elapsed:.1f}s rate={members / elapsed:,.0f}/s "
              f"server_peak_rss={bridge.peak_rss_mb():.0f}MB   (goal < 60 s, < 300 MB)")  # fmt: skip
    finally:
        bridge.close()


def bench_deprovision(sandbox_url: str, users: int) -> None:
    sandbox = SandboxClient(sandbox_url)
    sandbox.seed("github", {"org": "deprov-org", "token": "bench-token", "members": [
        {"email": f"d{n}@bench.example.com", "name": f"d{n}", "role": "member", "status": "active"}
        for n in range(users)]})  # fmt: skip
    bridge = Bridge()
    try:
        ids = [bridge.scim.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                "userName": f"d{n}@bench.example.com"}).json()["id"]
               for n in range(users)]  # fmt: skip
        app_id = connect(bridge, sandbox_url, "deprov-org", "automatic")
        bridge.wait_job(bridge.admin.post(f"/apps/{app_id}/check").json()["job_id"])
        latencies = []
        body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
        for n, user_id in enumerate(ids):
            started = time.perf_counter()
            bridge.scim.patch(f"/Users/{user_id}", json=body).raise_for_status()
            email = f"d{n}@bench.example.com"
            while email in {m["email"] for m in sandbox.state("github", "deprov-org")["members"]}:
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
        latencies.sort()
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"deprov  users={users} p50={p50 * 1000:.0f}ms p99={p99 * 1000:.0f}ms max={latencies[-1] * 1000:.0f}ms"
              f"   (goal p99 < 2 s)")  # fmt: skip
    finally:
        bridge.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--only", choices=["check", "deprov"])
    args = parser.parse_args()
    sandbox_app, sandbox_url = serve_sandbox()
    if args.only in (None, "check"):
        bench_check(sandbox_app, sandbox_url, args.members)
    if args.only in (None, "deprov"):
        bench_deprovision(sandbox_url, args.users)


if __name__ == "__main__":
    main()
