"""The scim-bridge command, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port

EXE = [sys.executable, "-m", "scim_server.cli"]


def _env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {"SCIM_BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def test_token_create_prints_token_alone_on_last_line(tmp_path: Path) -> None:
    out = subprocess.run(EXE + ["token", "create", "--workspace", "acme", "--scope", "admin"],
                         env=_env(tmp_path), capture_output=True, text=True, check=True)  # fmt: skip
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("sbt_") and " " not in token
    listed = subprocess.run(EXE + ["token", "list"], env=_env(tmp_path), capture_output=True, text=True, check=True)
    assert "acme\tadmin\tactive" in listed.stdout and token not in listed.stdout
    token_id = listed.stdout.split("\t")[0]
    subprocess.run(EXE + ["token", "revoke", token_id], env=_env(tmp_path), check=True, capture_output=True)
    listed = subprocess.run(EXE + ["token", "list"], env=_env(tmp_path), capture_output=True, text=True, check=True)
    assert "revoked" in listed.stdout


def test_serve_prints_base_url_and_a_working_token(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(EXE + ["serve", "--port", str(port)], env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        lines = [proc.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        base = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("SCIM base URL"))
        token = next(line.rsplit(" ", 1)[1].strip() for line in lines if line.startswith("SCIM token"))
        assert base == f"http://127.0.0.1:{port}/scim/v2"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(base + "/Users", headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["totalResults"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
