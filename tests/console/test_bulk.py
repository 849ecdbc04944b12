"""Bulk select on a Members tab over real HTTP against the sandbox: exempt the selected members
with one reason (none given: refused, nothing changed), remove the selected ones after the Remove
users? dialog (asking changes nothing; gone from the sandbox once their jobs complete); an unknown id in the selection is named in the message while
the others are done, each through its own operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.console.conftest import Console, console_server, csrf_of


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server("sqlite", tmp_path_factory.mktemp("bulk")) as running:
        yield running


def _wait(api: httpx.Client, job_id: str) -> None:
    job = api.get(f"/jobs/{job_id}", params={"wait": "30"}, timeout=40).json()
    assert job["status"] in ("succeeded", "completed"), job


def _members(api: httpx.Client, app_id: str, state: str) -> dict[str, dict[str, Any]]:
    return {m["email"]: m for m in api.get(f"/apps/{app_id}/members", params={"state": state}).json()["items"]}


def test_bulk_exempt_and_remove(console: Console) -> None:
    _, admin = console.token()
    api = httpx.Client(base_url=f"{console.url}/api/v1", headers={"Authorization": f"Bearer {admin}"}, timeout=20)
    app_id = api.post("/apps", json={"kind": "github", "label": "Eng", "business_id": "acme",
                                     "automation_account": {"api_token": "demo-token-github"},
                                     "api_base_url": f"{console.url}/sandbox/github"}).json()["id"]  # fmt: skip
    _wait(api, api.post(f"/apps/{app_id}/check").json()["job_id"])
    unmatched = _members(api, app_id, "unmatched")
    grace, alan, edsger = (unmatched[f"{n}@example.com"]["id"] for n in ("grace.hopper", "alan.turing", "edsger.dijkstra"))
    client = console.sign_in(admin)
    page = client.get(f"/console/apps/{app_id}/members?state=unmatched")
    url, csrf = f"/console/apps/{app_id}/members/bulk", csrf_of(page.text)

    refused = client.post(url, data={"csrf": csrf, "action": "exempt", "state": "unmatched", "member": [alan, edsger]},
                          follow_redirects=True)  # fmt: skip
    assert "Provide a reason to exempt the selected members" in refused.text
    assert set(_members(api, app_id, "exempted")) == set()

    done = client.post(url, data={"csrf": csrf, "action": "exempt", "state": "unmatched", "reason": "Agency staff",
                                  "member": [alan, edsger, "no-such-member"]}, follow_redirects=True)  # fmt: skip
    assert "Exempted 2 of 3 members. Not done:" in done.text
    exempted = _members(api, app_id, "exempted")
    assert {e["exempt_reason"] for e in exempted.values()} == {"Agency staff"} and len(exempted) == 2

    asked = client.post(url, data={"csrf": csrf, "action": "remove", "state": "unmatched", "member": [grace, "gone"]},
                        headers={"HX-Request": "true", "HX-Target": "dialog-host"})  # fmt: skip
    assert asked.text.lstrip().startswith("<dialog") and "Remove users?" in asked.text and "grace.hopper" in asked.text
    assert f'name="member" value="{grace}"' in asked.text and 'value="gone"' not in asked.text
    assert _members(api, app_id, "unmatched")["grace.hopper@example.com"]["state"] == "unmatched"  # only asked
    assert [j for j in api.get("/jobs", params={"app_id": app_id}).json()["items"] if j["kind"] == "remove"] == []
    removing = client.post(url, data={"csrf": csrf, "action": "remove", "state": "unmatched", "member": [grace],
                                      "confirmed": "yes"}, follow_redirects=True)  # fmt: skip
    assert "Removing 1 of 1 members." in removing.text
    jobs = api.get("/jobs", params={"app_id": app_id}).json()["items"]
    for job in jobs:
        if job["kind"] == "remove":
            _wait(api, job["id"])
    assert "grace.hopper@example.com" not in {m["email"] for m in console.sandbox.state("github", "acme")["members"]}
    client.close()
    api.close()
