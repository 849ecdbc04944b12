#!/usr/bin/env python3
"""Take the README's console screenshots (docs/console-apps.png, docs/console-members.png and
docs/console-match.png, the Match user dialog).

Serves scim-bridge with the demo sandbox on a loopback port (a fresh SQLite file in a temporary
directory), connects the demo GitHub organization through the admin API, checks it for updates,
pushes two directory users over SCIM, then signs in to the console in Debian's headless Chromium
and photographs Apps, Members and the Match user dialog at 1280x800. Run it after changing the
console's pages:

    .venv/bin/python bench/console_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from starlette.routing import Mount

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.sandbox import create_sandbox_app
from scim_server.app import create_app
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database
from tests.servers import free_port, serve_asgi


def main() -> int:
    from playwright.sync_api import sync_playwright

    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/shots.db"
        port = free_port()
        settings = Settings(database_url=url, access_log=False, secret_key=Fernet.generate_key().decode(),
                            worker_poll_seconds=0.05, public_base_url=f"http://127.0.0.1:{port}")  # fmt: skip
        migrate.upgrade(url)
        db = Database(settings)
        app = create_app(settings, database=db, extra_routes=[Mount("/sandbox", create_sandbox_app("demo"))])
        with serve_asgi(app, port) as base:
            admin = db.write_sync(lambda conn: tenancy.create_token(conn, "default", "admin", "screenshots"))[1]
            scim = db.write_sync(lambda conn: tenancy.create_token(conn, "default", "scim", "screenshots"))[1]
            api = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {admin}"}, timeout=30)
            created = api.post("/apps", json={"kind": "github", "label": "Engineering", "business_id": "acme",
                                              "automation_account": {"api_token": "demo-token-github"},
                                              "api_base_url": f"{base}/sandbox/github"})  # fmt: skip
            created.raise_for_status()
            app_id = created.json()["id"]
            for name in ("ada.lovelace", "grace.hopper"):
                httpx.post(f"{base}/scim/v2/Users", headers={"Authorization": f"Bearer {scim}"}, json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"{name}@example.com",
                    "emails": [{"value": f"{name}@example.com", "primary": True}]}).raise_for_status()  # fmt: skip
            job = api.post(f"/apps/{app_id}/check").json()["job_id"]
            deadline = time.monotonic() + 60
            while api.get(f"/jobs/{job}").json()["status"] not in ("succeeded", "completed", "failed"):
                if time.monotonic() > deadline:
                    raise SystemExit("the check did not finish")
                time.sleep(0.1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=base)
                page.goto("/console/sign-in")
                page.get_by_label("Admin token").fill(admin)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/console/apps")
                page.screenshot(path=str(out / "console-apps.png"))
                page.goto(f"/console/apps/{app_id}/members?state=matched")
                page.screenshot(path=str(out / "console-members.png"))
                page.goto(f"/console/apps/{app_id}/members?state=unmatched")
                page.get_by_role("link", name="Match user").first.click()
                page.get_by_role("dialog", name="Match user").wait_for()
                page.screenshot(path=str(out / "console-match.png"))
                browser.close()
        db.close()
    print(f"wrote {out / 'console-apps.png'}, {out / 'console-members.png'} and {out / 'console-match.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
