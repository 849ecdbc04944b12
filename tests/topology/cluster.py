"""The scale-out topology as real processes on this machine, without Docker: N ``scim-bridge
serve`` processes with no worker inside, M ``scim-bridge worker`` processes, all on one
PostgreSQL database, behind HAProxy (Debian's package) with the configuration the image's
compose file uses (``deploy/haproxy.cfg``, rendered here with loopback ports).

Used by ``tests/topology/`` and ``bench/scale_out.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_TEMPLATE = ROOT / "deploy" / "haproxy.cfg"
EXE = [sys.executable, "-m", "scim_server.cli"]


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)


REQUEST_ID = "X-Request-Id"
# What the test rendering adds, so a failed request can be explained: one line per request on
# HAProxy's stderr (its log file here), with the request id the client sent between braces and
# the termination state (``----`` when all went well; ``SH--``: the server closed before any
# response header, ``CD--``: the client went away during the data phase ...).
LOGGING = {
    "global": ["    log stderr format raw local0"],
    "defaults": ["    log global", "    option httplog", "    option log-health-checks"],
    "frontend scim": [f"    http-request capture req.hdr({REQUEST_ID}) len 64"],
}
TERMINATION = re.compile(r" ([A-Za-z-]{4}) \d+/\d+/\d+/\d+/\d+ ")


def render_haproxy(listen_port: int, servers: dict[str, int], stats_port: int) -> str:
    """``deploy/haproxy.cfg`` with its ``server`` lines replaced by loopback ones, in their place,
    and with request logging (``LOGGING``), which the shipped file leaves to the operator.

    In their place: ``default-server`` (check interval, fall, rise) applies only to the servers
    declared after it. Servers written right under ``backend`` ran on HAProxy's defaults (a check
    every 2 s, down after 3 failures), slower than the 3 s drain: a draining process was still in
    rotation when it stopped accepting, and a request sent at that moment was lost."""
    out: list[str] = []
    placed = False
    for line in HAPROXY_TEMPLATE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith(("resolvers", "nameserver")):
            continue
        if stripped.startswith(("server-template", "server ")):
            if not placed:
                out.extend(f"    server {name} 127.0.0.1:{port} check" for name, port in servers.items())
                placed = True
            continue
        line = line.replace("bind :8000", f"bind 127.0.0.1:{listen_port}")
        line = line.replace("bind :8404", f"bind 127.0.0.1:{stats_port}")
        out.append(line)
        out.extend(LOGGING.get(stripped, []))
    assert placed, f"{HAPROXY_TEMPLATE} declares no server to replace"
    return "\n".join(out) + "\n"


def request_log(log: Path, request_ids: list[str]) -> list[str]:
    """HAProxy's log lines (frontend ``scim``) for these request ids, and every line whose
    termination state is not ``----``: a request the client saw fail may have no id logged."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    wanted = [f"{{{rid}}}" for rid in request_ids]

    def abnormal(line: str) -> bool:
        state = TERMINATION.search(line)
        return state is not None and state.group(1) != "----"

    return [line for line in lines if "] scim " in line and (any(w in line for w in wanted) or abnormal(line))]


@dataclass
class Proc:
    """One process of the topology, with its stderr in a file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as err:
            self.popen = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL, stderr=err)
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        assert self.popen is not None
        self.popen.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class Cluster:
    database_url: str
    directory: Path
    secret_key: str
    apis: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    balancer: Proc | None = None
    port: int = 0
    stats_port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    left_rotation: list[float] = field(default_factory=list)  # seconds from SIGTERM, per restart

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **more: str) -> dict[str, str]:
        return os.environ | {
            "SCIM_BRIDGE_DATABASE_URL": self.database_url,
            "SCIM_BRIDGE_SECRET_KEY": self.secret_key,
            "SCIM_BRIDGE_ACCESS_LOG": "false",
            "SCIM_BRIDGE_LOG_LEVEL": "INFO",
        } | self.extra_env | more

    def api(self, index: int, port: int | None = None) -> Proc:
        port = port or free_port()
        env = self.env(SCIM_BRIDGE_RUN_WORKER="false", SCIM_BRIDGE_SHUTDOWN_DRAIN_SECONDS="3")
        return Proc(f"api{index}", [*EXE, "serve", "--host", "127.0.0.1", "--port", str(port)], env,
                    self.directory / f"api{index}.log", port)  # fmt: skip

    def worker(self, index: int) -> Proc:
        return Proc(f"worker{index}", [*EXE, "worker"], self.env(), self.directory / f"worker{index}.log")

    def start(self, apis: int, workers: int) -> Cluster:
        """Start everything and wait until the balancer sees every API process ready."""
        binary = haproxy_binary()
        assert binary, "HAProxy is not installed (.ci/run installs Debian's haproxy)"
        self.apis = [self.api(i).start() for i in range(apis)]
        self.workers = [self.worker(i).start() for i in range(workers)]
        for proc in self.apis:
            wait_ready(proc)
        self.port, self.stats_port = free_port(), free_port()
        config = self.directory / "haproxy.cfg"
        config.write_text(render_haproxy(self.port, {p.name: p.port or 0 for p in self.apis}, self.stats_port))
        self.balancer = Proc("haproxy", [binary, "-W", "-db", "-f", str(config)], dict(os.environ),
                             self.directory / "haproxy.log").start()  # fmt: skip
        self.wait_balanced(len(self.apis))
        return self

    def up_servers(self) -> set[str]:
        """The backend servers HAProxy currently sends traffic to (its CSV stats)."""
        csv = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).text
        up = set()
        for line in csv.splitlines():
            cols = line.split(",")
            named = len(cols) > 17 and cols[0] == "scim_bridge" and cols[1] not in ("BACKEND", "FRONTEND")
            if named and cols[17].startswith("UP"):
                up.add(cols[1])
        return up

    def wait_balanced(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.balancer is not None and self.balancer.alive(), self.balancer and self.balancer.tail()
            try:
                if len(self.up_servers()) >= count:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the balancer never saw the API processes ready"
            time.sleep(0.05)

    def restart_api(self, index: int) -> None:
        """SIGTERM one API process (it drains), wait for its exit, start it again on its port.

        The balancer must take the process out of rotation while it drains, before it stops
        accepting (a request sent to it after that may be lost): checked here, and the time it
        took is kept in ``left_rotation``."""
        old = self.apis[index]
        signalled = time.monotonic()
        old.signal(signal.SIGTERM)
        while old.name in self.up_servers():
            assert old.alive(), (
                f"{old.name} exited while HAProxy still sent it requests: the drain is shorter than the "
                f"health check takes to mark it down. HAProxy: {self.server_states()}"
            )
            time.sleep(0.05)
        self.left_rotation.append(time.monotonic() - signalled)
        old.wait(timeout=60)
        new = self.api(index, old.port).start()
        self.apis[index] = new
        wait_ready(new)
        deadline = time.monotonic() + 30
        while new.name not in self.up_servers():
            assert time.monotonic() < deadline, "the restarted process never came back into rotation"
            time.sleep(0.05)

    def server_states(self) -> list[str]:
        """HAProxy's log lines about servers going down or up (its health checks' verdicts)."""
        assert self.balancer is not None
        lines = self.balancer.log.read_text(errors="replace").splitlines()
        return [line for line in lines if line.startswith(("Server ", "Health check"))]

    def stop(self) -> None:
        for proc in [*(self.apis), *(self.workers), *([self.balancer] if self.balancer else [])]:
            proc.stop()


def wait_ready(proc: Proc, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.alive(), f"{proc.name} exited: {proc.tail()}"
        try:
            if httpx.get(f"http://127.0.0.1:{proc.port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{proc.name} not ready within {timeout} s: {proc.tail()}"
        time.sleep(0.05)
