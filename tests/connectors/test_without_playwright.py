"""Playwright is the optional ``[browser]`` extra: without it the server, the catalog and every
API-token connector work, and a flow that needs the browser says how to install it.

Each test runs a fresh interpreter whose ``sitecustomize`` (first on ``PYTHONPATH``) installs a
``sys.meta_path`` finder that refuses ``playwright``, as if the extra were not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from connectors.sandbox.tiktok_business import APP_SECRET, PORTAL_PASSWORD

BLOCKER = '''
import sys


class _NoPlaywright:
    """Imports of ``playwright`` fail as they do when the package is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "playwright" or name.startswith("playwright."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoPlaywright())
'''

REPO = Path(__file__).resolve().parents[2]


def run_without_playwright(tmp_path: Path, code: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON line last) with Playwright unimportable."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_blocker_really_blocks(tmp_path: Path) -> None:
    """The other tests prove something only if ``import playwright`` fails under the blocker."""
    out = run_without_playwright(tmp_path, """
        import json
        try:
            import playwright.async_api
            print(json.dumps({"imported": True}))
        except ImportError:
            print(json.dumps({"imported": False}))
    """)
    assert out == {"imported": False}


def test_server_and_catalog_load_without_playwright(tmp_path: Path) -> None:
    out = run_without_playwright(tmp_path, """
        import json, sys
        from cryptography.fernet import Fernet
        from scim_server.services.apps import catalog
        from scim_server.app import create_app
        from scim_server.settings import Settings
        from scim_server.store import migrate
        from scim_server.store.db import Database
        import connectors.tiktok_business, connectors.browser, connectors.browser.pages

        url = "sqlite:///" + str(__import__("pathlib").Path.cwd() / "s.db")
        migrate.upgrade(url)
        settings = Settings(database_url=url, secret_key=Fernet.generate_key().decode(), access_log=False)
        db = Database(settings)
        create_app(settings, database=db)
        kinds = sorted(entry["kind"] for entry in catalog())
        db.close()
        print(json.dumps({"kinds": kinds, "loaded": sorted(m for m in sys.modules if m.startswith("playwright"))}))
    """)
    assert "tiktok_business" in out["kinds"] and "github" in out["kinds"]  # type: ignore[operator]
    assert out["loaded"] == []


def test_password_login_tiktok_connect_says_how_to_install_playwright(tmp_path: Path) -> None:
    """Connecting TikTok by username and password needs the browser flow: without Playwright the
    admin API answers a 4xx naming the extra to install, and nothing is saved."""
    out = run_without_playwright(tmp_path, """
        import json, sys
        from pathlib import Path
        import httpx
        from connectors.sandbox import SandboxClient, create_sandbox_app
        from connectors.sandbox.tiktok_business import APP_ID, APP_SECRET, PORTAL_PASSWORD
        from tests.servers import scim_bridge, serve_asgi

        BC, OWNER = "7212345678901234567", "owner@example.com"
        with serve_asgi(create_sandbox_app("empty")) as vendor, \\
                scim_bridge("sqlite:///" + str(Path.cwd() / "s.db")) as server:
            sandbox = SandboxClient(vendor)
            sandbox.reset("empty")
            sandbox.seed("tiktok_business", {"org": BC, "members": [
                {"email": OWNER, "name": "Owner", "role": "ADMIN", "status": "active"}]})
            token = server.token("default", "admin")
            with httpx.Client(base_url=server.url + "/api/v1", timeout=60,
                              headers={"Authorization": f"Bearer {token}"}) as admin:
                response = admin.post("/apps", json={
                    "kind": "tiktok_business", "label": "TikTok", "business_id": BC,
                    "login_method": "password", "api_base_url": sandbox.kind_url("tiktok_business"),
                    "automation_account": {"username": OWNER, "password": PORTAL_PASSWORD,
                                           "app_id": APP_ID, "app_secret": APP_SECRET}})
                apps = admin.get("/apps").json()
            sandbox.close()
        print(json.dumps({"status": response.status_code, "body": response.json(), "apps": apps,
                          "loaded": sorted(m for m in sys.modules if m.startswith("playwright"))}))
    """)
    assert out["status"] == 422, out
    body = out["body"]
    assert isinstance(body, dict)
    message = json.dumps(body)
    assert "Playwright is not installed" in message and "pip install 'scim-bridge[browser]'" in message
    assert PORTAL_PASSWORD not in message and APP_SECRET not in message
    assert out["apps"]["items"] == []  # type: ignore[index]
    assert out["loaded"] == []

