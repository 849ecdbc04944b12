"""``scim-bridge`` run as a user runs it: ``serve`` and the other commands as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.servers import free_port

EXE = [sys.executable, "-m", "scim_server.cli"]


def cli_env(database_url: str) -> dict[str, str]:
    return os.environ | {
        "SCIM_BRIDGE_DATABASE_URL": database_url,
        "SCIM_BRIDGE_ACCESS_LOG": "false",
        "SCIM_BRIDGE_LOG_LEVEL": "WARNING",
    }


def cli(env: dict[str, str], *args: str) -> str:
    """Run ``scim-bridge ARGS``; its stdout. A non-zero exit fails with its stderr."""
    done = subprocess.run([*EXE, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (
        f"scim-bridge {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}"
    )
    return done.stdout


@dataclass
class ServeProcess:
    proc: subprocess.Popen[str]
    url: str  # http://127.0.0.1:PORT
    token: str  # the SCIM token ``serve`` printed ("" on a restart: it prints none)
    stderr: Path
    banner: list[str] = field(default_factory=list)  # what serve printed before its base URL

    @property
    def scim(self) -> str:
        return self.url + "/scim/v2"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def died_of(self) -> str:
        """Why the process is gone: its exit status (or signal) and the end of its stderr."""
        status = self.proc.poll()
        how = (
            f"killed by {signal.Signals(-status).name}"
            if status is not None and status < 0
            else f"exit {status}"
        )
        return f"serve is gone ({how}); stderr: {self.stderr.read_text()[-3000:]}"


@contextmanager
def serve(env: dict[str, str], directory: Path, name: str = "serve", *args: str) -> Iterator[ServeProcess]:
    """``scim-bridge serve [ARGS]`` on a free port, up and answering ``/healthz``; terminated on exit."""
    port = free_port()
    stderr = directory / f"{name}.stderr"
    with stderr.open("w") as err:
        proc = subprocess.Popen([*EXE, "serve", "--port", str(port), *args], env=env,
                                stdout=subprocess.PIPE, stderr=err, text=True)  # fmt: skip
    try:
        token = ""  # printed only by the serve that creates the workspace, before the base URL
        banner: list[str] = []
        while True:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, f"serve exited before printing its base URL: {stderr.read_text()[-3000:]}"
            banner.append(line.rstrip("\n"))
            if line.startswith("SCIM token"):
                token = line.rsplit(" ", 1)[1].strip()
            if line.startswith("SCIM base URL"):
                break
        running = ServeProcess(proc, f"http://127.0.0.1:{port}", token, stderr, banner)
        _wait_healthy(running)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(running: ServeProcess) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert running.alive(), running.died_of()
        try:
            if httpx.get(running.url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not answer /healthz within 60 s"
        time.sleep(0.05)
