"""Select automation account, over real HTTP on SQLite and PostgreSQL: a new account with the
kind's own fields and an Account label, a refused credential shown on its field with nothing
saved, and reusing an account the workspace already has for that kind (never another
workspace's); the API lists the same accounts (one service operation)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.sandbox.store import SeedSpec
from tests.console.conftest import Console, console_server, csrf_of

TOKEN = "demo-token-github"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def console(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server(str(request.param), tmp_path_factory.mktemp("accounts")) as running:
        running.sandbox.seed("github", SeedSpec(org="globex", token=TOKEN))
        yield running


def _api(console: Console, token: str, path: str) -> Any:
    answer = httpx.get(f"{console.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _step(client: httpx.Client, org: str) -> httpx.Response:
    page = client.get("/console/connect/github/account", params={"label": org.title(), "business_id": org,
                                                                  "login_method": "sso"})  # fmt: skip
    assert page.status_code == 200, page.text
    return page


def _connect(client: httpx.Client, page: httpx.Response, org: str, **fields: str) -> httpx.Response:
    form = {"csrf": csrf_of(page.text), "label": org.title(), "business_id": org, "login_method": "sso"} | fields
    return client.post("/console/connect/github", data=form)


def test_new_account_then_reuse_it(console: Console) -> None:
    _, admin = console.token("accounts")
    client = console.sign_in(admin)
    page = _step(client, "acme")
    assert "Account label" in page.text and 'name="account"' not in page.text  # none to pick yet
    refused = _connect(client, page, "acme", account_label="GitHub bot", api_token="not-the-token")
    assert refused.status_code == 422, refused.text
    assert 'id="api_token" name="api_token" type="password"' in refused.text and 'id="api_token-error"' in refused.text
    assert "not-the-token" not in refused.text and "GitHub bot" in refused.text  # the label is kept, the token not
    assert _api(console, admin, "/apps")["items"] == []  # nothing saved

    done = _connect(client, page, "acme", account_label="GitHub bot", api_token=TOKEN)
    assert done.status_code == 303, done.text
    first = _api(console, admin, "/apps")["items"][0]
    assert first["automation_account"] == {"fields": ["api_token"], "label": "GitHub bot"}

    page = _step(client, "globex")
    picker = re.search(rf'<input type="radio" name="account" value="{first["id"]}"[^>]*> GitHub bot', page.text)
    assert picker and "used by Acme" in page.text and TOKEN not in page.text
    reused = _connect(client, page, "globex", account=first["id"])
    assert reused.status_code == 303, reused.text
    apps = {a["business_id"]: a for a in _api(console, admin, "/apps")["items"]}
    assert apps["globex"]["automation_account"] == {"fields": ["api_token"], "label": "GitHub bot"}
    listed = _api(console, admin, "/catalog/github/automation-accounts")["items"]
    assert [(a["app_label"], a["label"]) for a in listed] == [("Acme", "GitHub bot"), ("Globex", "GitHub bot")]
    assert TOKEN not in str(listed)
    client.close()


def test_an_unknown_or_foreign_account_is_refused_on_its_field(console: Console) -> None:
    _, other = console.token("elsewhere")
    created = httpx.post(f"{console.url}/api/v1/apps", headers={"Authorization": f"Bearer {other}"}, json={
        "kind": "github", "label": "Theirs", "business_id": "acme", "automation_account": {"api_token": TOKEN},
        "account_label": "Their bot", "api_base_url": f"{console.url}/sandbox/github"})  # fmt: skip
    assert created.status_code == 201, created.text
    _, admin = console.token("foreign-check")
    client = console.sign_in(admin)
    page = _step(client, "globex")
    assert "Their bot" not in page.text  # another workspace's accounts are not offered
    for account in (created.json()["id"], "no-such-app"):
        refused = _connect(client, page, "globex", account=account)
        assert refused.status_code == 400, refused.text
        assert "Nothing was saved" in refused.text and TOKEN not in refused.text
    assert _api(console, admin, "/apps")["items"] == []
    assert _api(console, admin, "/catalog/github/automation-accounts")["items"] == []
    client.close()
