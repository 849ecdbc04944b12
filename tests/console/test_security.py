"""The console's security contract over real HTTP, on SQLite and PostgreSQL: sessions (cookie
flags, idle and absolute expiry, ended by revoking the token or signing out), CSRF on every
state-changing request, the CSP, no secret in any page, another workspace's objects are 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from scim_server.store.console_models import ConsoleSession
from scim_server.store.db import now
from tests.console.conftest import Console, console_server, csrf_of

GITHUB_TOKEN = "demo-token-github"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def console(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server(str(request.param), tmp_path_factory.mktemp("console")) as running:
        yield running


def _connect_github(console: Console, admin_token: str, workspace_label: str = "Eng") -> str:
    """The workspace's GitHub app (the demo org can be connected once per workspace)."""
    listed = httpx.get(f"{console.url}/api/v1/apps", headers={"Authorization": f"Bearer {admin_token}"})
    if listed.json()["items"]:
        return str(listed.json()["items"][0]["id"])
    answer = httpx.post(f"{console.url}/api/v1/apps", headers={"Authorization": f"Bearer {admin_token}"}, json={
        "kind": "github", "label": workspace_label, "business_id": "acme",
        "automation_account": {"api_token": GITHUB_TOKEN}, "api_base_url": f"{console.url}/sandbox/github"})  # fmt: skip
    if answer.status_code == 409:  # the demo business is connected once per workspace: reuse it
        apps = httpx.get(f"{console.url}/api/v1/apps", headers={"Authorization": f"Bearer {admin_token}"}).json()
        return str(next(a["id"] for a in apps["items"] if a["business_id"] == "acme"))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_root_redirects_to_the_console_and_pages_need_a_session(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        assert client.get("/").headers["location"] == "/console"
        answer = client.get("/console/apps")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/sign-in?next=%2Fconsole%2Fapps")
        page = client.get("/console/sign-in")
        assert page.status_code == 200 and "Admin token" in page.text and "Sign in" in page.text


def test_sign_in_sets_a_safe_cookie_and_refuses_other_tokens(console: Console) -> None:
    _, scim = console.token(scope="scim")
    with httpx.Client(base_url=console.url) as client:
        page = client.get("/console/sign-in")
        csrf = csrf_of(page.text)
        wrong = client.post("/console/sign-in", data={"csrf": csrf, "token": "sbt_not-a-token"})
        assert wrong.status_code == 401 and "not valid" in wrong.text and "sb_console=" not in wrong.headers.get("set-cookie", "")
        refused = client.post("/console/sign-in", data={"csrf": csrf, "token": scim})
        assert refused.status_code == 403 and "not an admin token" in refused.text
        assert scim not in refused.text
    _, admin = console.token()
    client = console.sign_in(admin)
    cookie = next(c for c in client.cookies.jar if c.name == "sb_console")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/console"
    assert not cookie.secure  # plain http here; Secure behind HTTPS (test_secure_cookie_behind_https)
    assert client.get("/console/apps").status_code == 200
    client.close()


def test_sign_in_form_needs_its_csrf_value(console: Console) -> None:
    _, admin = console.token()
    with httpx.Client(base_url=console.url) as client:
        client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"token": admin})
        assert answer.status_code == 403 and "sb_console=" not in answer.headers.get("set-cookie", "")


def test_state_changing_requests_without_csrf_are_refused(console: Console) -> None:
    token_id, admin = console.token()
    client = console.sign_in(admin)
    tokens_before = client.get("/console/settings").text.count("<tr>")
    for path, data in [("/console/sign-out", {}), ("/console/settings/tokens", {"scope": "scim", "label": "x"}),
                       (f"/console/settings/tokens/{token_id}/revoke", {})]:  # fmt: skip
        answer = client.post(path, data=data)
        assert answer.status_code == 403, path
        forged = client.post(path, data=data | {"csrf": "forged"}, headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403, path
    assert client.get("/console/apps").status_code == 200  # still signed in: sign-out was refused
    assert client.get("/console/settings").text.count("<tr>") == tokens_before
    client.close()


def test_sign_out_ends_the_session_server_side(console: Console) -> None:
    _, admin = console.token()
    client = console.sign_in(admin)
    stolen = client.cookies["sb_console"]
    page = client.get("/console/apps")
    assert client.post("/console/sign-out", data={"csrf": csrf_of(page.text)}).status_code == 303
    with httpx.Client(base_url=console.url, cookies={"sb_console": stolen}) as replay:
        assert replay.get("/console/apps").status_code == 303  # the cookie alone no longer works
    client.close()


def test_revoking_the_token_ends_its_sessions(console: Console) -> None:
    token_id, admin = console.token()
    client = console.sign_in(admin)
    assert client.get("/console/apps").status_code == 200
    assert httpx.Client(base_url=console.url).get("/console/apps").status_code == 303
    from scim_server.store import tenancy

    console.db.write_sync(lambda conn: tenancy.revoke_token(conn, token_id))
    answer = client.get("/console/apps")
    assert answer.status_code == 303 and "/console/sign-in" in answer.headers["location"]
    client.close()


@pytest.mark.parametrize("column", ["last_seen", "created"])
def test_idle_and_absolute_expiry_send_the_admin_to_sign_in(console: Console, column: str) -> None:
    _, admin = console.token()
    client = console.sign_in(admin)
    assert client.get("/console/apps").status_code == 200
    limit = console.settings.console_idle_seconds if column == "last_seen" else console.settings.console_absolute_seconds
    past = now() - timedelta(seconds=limit + 5)
    from scim_server.store.console import hash_session

    value = hash_session(client.cookies["sb_console"])
    console.db.write_sync(lambda conn: conn.execute(
        update(ConsoleSession).where(ConsoleSession.id_hash == value).values({column: past})))
    answer = client.get("/console/apps")
    assert answer.status_code == 303 and "/console/sign-in" in answer.headers["location"]
    client.close()


def test_csp_and_no_inline_script_on_every_page(console: Console) -> None:
    _, admin = console.token()
    app_id = _connect_github(console, admin)
    client = console.sign_in(admin)
    anonymous = httpx.Client(base_url=console.url)
    for path in ["/console/sign-in", "/console/apps", f"/console/apps/{app_id}/settings",
                 f"/console/apps/{app_id}/members", "/console/automation", "/console/reports",
                 "/console/directory", "/console/audit", "/console/settings"]:  # fmt: skip
        answer = (anonymous if path.endswith("sign-in") else client).get(path)
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and answer.headers["x-frame-options"] == "DENY"
        assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text), path  # no inline script
        assert not re.search(r"\sstyle=", answer.text) and "<style" not in answer.text, path
        assert not re.search(r"\son[a-z]+=", answer.text), path  # no inline event handlers
    assert client.get("/console/static/htmx-2.0.11.min.js").status_code == 200
    client.close()
    anonymous.close()


def test_no_token_or_credential_in_any_page(console: Console) -> None:
    _, admin = console.token()
    app_id = _connect_github(console, admin)
    client = console.sign_in(admin)
    page_paths = ["/console/apps", f"/console/apps/{app_id}/settings", f"/console/apps/{app_id}/members",
                  "/console/automation", "/console/audit", "/console/settings", "/console/reports"]  # fmt: skip
    for path in page_paths:
        text = client.get(path).text
        for secret in (admin, GITHUB_TOKEN):
            assert secret not in text, (path, "leaks a secret")
        assert "sbt_" not in text, path
    client.close()


def test_another_workspaces_objects_are_404(console: Console) -> None:
    _, other_admin = console.token(workspace="other-ws")
    theirs = _connect_github(console, other_admin, "Theirs")
    _, admin = console.token()
    client = console.sign_in(admin)
    for path in [f"/console/apps/{theirs}/members", f"/console/apps/{theirs}/settings",
                 f"/console/apps/{theirs}/members.csv", "/console/automation/nope",
                 "/console/directory/users/nope"]:  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Theirs" not in answer.text
    assert "Theirs" not in client.get("/console/apps").text
    with httpx.Client(base_url=console.url) as api:
        answer = api.get(f"/api/v1/apps/{theirs}", headers={"Authorization": f"Bearer {admin}"})
        assert answer.status_code == 404  # the same answer as the API
    client.close()


def test_secure_cookie_behind_https(tmp_path: Path) -> None:
    with console_server("sqlite", tmp_path, public_base_url="https://bridge.example.com") as running:
        _, admin = running.token()
        with httpx.Client(base_url=running.url) as client:
            page = client.get("/console/sign-in")
            csrf = csrf_of(page.text)
            assert "Secure" in page.headers["set-cookie"]  # so httpx keeps it for https only: send it by hand
            answer = client.post("/console/sign-in", data={"csrf": csrf, "token": admin},
                                 headers={"Cookie": f"sb_console_pre={csrf}"})
            cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("sb_console="))
            assert "Secure" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()


def test_open_redirects_are_refused(console: Console) -> None:
    _, admin = console.token()
    with httpx.Client(base_url=console.url) as client:
        page = client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"csrf": csrf_of(page.text), "token": admin,
                                                        "next": "https://evil.example/"})  # fmt: skip
        assert answer.headers["location"] == "/console/apps"
