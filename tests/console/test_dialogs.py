"""The console's dialogs over real HTTP: what htmx loads into ``#dialog-host`` is a native
``<dialog>`` named by its heading; the same URL opened without htmx is a page of its own with the
same form (the no-JS fallback); either way nothing changes until the form is posted."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.console.conftest import Console, console_server

HX = {"HX-Request": "true", "HX-Target": "dialog-host"}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server("sqlite", tmp_path_factory.mktemp("dialogs")) as running:
        yield running


def _app_and_member(console: Console, admin: str) -> tuple[str, str]:
    api = httpx.Client(base_url=f"{console.url}/api/v1", headers={"Authorization": f"Bearer {admin}"}, timeout=20)
    app_id = api.post("/apps", json={"kind": "github", "label": "Eng", "business_id": "acme",
                                     "automation_account": {"api_token": "demo-token-github"},
                                     "api_base_url": f"{console.url}/sandbox/github"}).json()["id"]  # fmt: skip
    job = api.post(f"/apps/{app_id}/check").json()["job_id"]
    for _ in range(600):
        if api.get(f"/jobs/{job}").json()["status"] in ("succeeded", "completed", "failed"):
            break
        httpx.get(f"{console.url}/healthz")  # a round trip, not a sleep: the worker runs meanwhile
    members = api.get(f"/apps/{app_id}/members", params={"state": "unmatched"}).json()["items"]
    assert members, "the check imported nobody"
    return app_id, members[0]["id"]


@pytest.mark.parametrize("action, title", [("remove", "Remove user?"), ("exempt", "Exempt user"),
                                           ("match", "Match user"), ("role", "Change role")])  # fmt: skip
def test_member_dialogs_as_fragment_and_as_page(console: Console, action: str, title: str) -> None:
    _, admin = console.token(f"dialogs-{action}")
    app_id, member_id = _app_and_member(console, admin)
    client = console.sign_in(admin)
    url = f"/console/apps/{app_id}/members/{member_id}/{action}"
    fragment = client.get(url, headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("<dialog") and 'aria-labelledby="dlg-title"' in fragment.text
    assert f'<h1 id="dlg-title">{title}</h1>' in fragment.text.replace("&#39;", "'")
    assert "<html" not in fragment.text and "data-close-dialog" in fragment.text
    page = client.get(url)
    assert page.status_code == 200 and "<html" in page.text and 'role="dialog"' in page.text
    assert f'<h1 id="dlg-title">{title}</h1>' in page.text and "data-close-dialog" not in page.text
    before = httpx.get(f"{console.url}/api/v1/apps/{app_id}/members/{member_id}",
                       headers={"Authorization": f"Bearer {admin}"}).json()  # fmt: skip
    assert before["state"] == "unmatched"  # opening a dialog changed nothing
    client.close()


def test_remove_app_and_connect_dialogs(console: Console) -> None:
    _, admin = console.token("dialogs-app")
    app_id, _ = _app_and_member(console, admin)
    client = console.sign_in(admin)
    remove = client.get(f"/console/apps/{app_id}/remove", headers=HX)
    assert remove.text.lstrip().startswith("<dialog") and "Remove app?" in remove.text and 'name="reason"' in remove.text
    intro = client.get("/console/connect", headers=HX)
    assert intro.text.lstrip().startswith("<dialog") and "Connect your apps" in intro.text
    assert "Get started" in intro.text and "Don't show this again" in intro.text
    no_reason = client.post(f"/console/apps/{app_id}/remove", data={"csrf": _csrf(client), "reason": " "})
    assert no_reason.status_code == 400 and "Provide a reason" in no_reason.text
    apps = httpx.get(f"{console.url}/api/v1/apps", headers={"Authorization": f"Bearer {admin}"}).json()["items"]
    assert [a["id"] for a in apps] == [app_id]  # still there
    client.close()


def _csrf(client: httpx.Client) -> str:
    from tests.console.conftest import csrf_of

    return csrf_of(client.get("/console/settings").text)
