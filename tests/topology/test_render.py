"""The test rendering of ``deploy/haproxy.cfg`` keeps what the shipped file means: its loopback
``server`` lines come after ``default-server`` (which applies only to the servers below it, so
the check timing that the drain is sized for holds), and HAProxy accepts the result."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.topology.cluster import haproxy_binary, render_haproxy


def test_loopback_servers_take_the_place_of_the_shipped_ones() -> None:
    lines = [line.strip() for line in render_haproxy(18000, {"api0": 18001, "api1": 18002}, 18404).splitlines()]
    defaults = [i for i, line in enumerate(lines) if line.startswith("default-server ")]
    servers = [i for i, line in enumerate(lines) if line.startswith("server ")]
    assert [lines[i] for i in servers] == ["server api0 127.0.0.1:18001 check", "server api1 127.0.0.1:18002 check"]
    assert len(defaults) == 1 and defaults[0] < servers[0], "servers declared before default-server ignore it"
    assert "bind 127.0.0.1:18000" in lines and "bind 127.0.0.1:18404" in lines


def test_haproxy_accepts_the_rendering(tmp_path: Path) -> None:
    binary = haproxy_binary()
    if binary is None:
        pytest.fail("HAProxy is not installed (.ci/run installs Debian's haproxy)")
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_haproxy(18000, {"api0": 18001}, 18404))
    checked = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
