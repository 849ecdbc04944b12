"""The README's settings table is the one ``Settings`` makes (``scripts/settings-table``), and
every setting says what it sets."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

from scim_server.settings import PREFIX, Settings, markdown

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_has_a_description_and_a_row() -> None:
    table = markdown()
    for name, field in Settings.model_fields.items():
        assert field.description and field.description.strip(), f"{name} has no docstring"
        assert f"| `{PREFIX}{name.upper()}` |" in table
    assert "SCIM_BRIDGE_DATABASE_POOL_SIZE" in table and "SCIM_BRIDGE_WORKER_CONCURRENCY" in table


def test_the_readme_table_is_current() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "settings-table"), "--check"],
                            check=False, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert markdown() in (ROOT / "README.md").read_text()


def test_a_stale_table_is_caught() -> None:
    """An edited row is not what the script writes: ``--check`` would fail on it."""
    namespace = runpy.run_path(str(ROOT / "scripts" / "settings-table"), run_name="settings_table")
    readme = (ROOT / "README.md").read_text()
    stale = readme.replace("| `SCIM_BRIDGE_WORKER_CONCURRENCY` | `8` |", "| `SCIM_BRIDGE_WORKER_CONCURRENCY` | `4` |")
    assert stale != readme
    render = namespace["render"]
    assert callable(render) and render(stale) == readme
