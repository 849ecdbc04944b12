"""Secrets from files (docker-compose.yml's ``secrets:``): with SCIM_BRIDGE_SECRETS_DIR, a file
named like a setting gives its value, and the environment need not hold it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_setting_is_read_from_the_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "scim_bridge_database_url").write_text("postgresql+psycopg://u:from-file@db/x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_BRIDGE_")}
    read = [sys.executable, "-c", "from scim_server.settings import Settings; print(Settings().database_url)"]
    with_dir = subprocess.run(read, env=env | {"SCIM_BRIDGE_SECRETS_DIR": str(tmp_path)},
                              capture_output=True, text=True, check=True)  # fmt: skip
    assert with_dir.stdout.strip() == "postgresql+psycopg://u:from-file@db/x"
    without = subprocess.run(read, env=env, capture_output=True, text=True, check=True)
    assert without.stdout.strip() == "sqlite:///./scim-bridge.db"
