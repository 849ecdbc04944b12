"""Connecting apps: credentials checked against the (sandbox) app first, secrets never returned."""

from __future__ import annotations

import uuid

import httpx

from connectors.sandbox import SandboxClient
from tests.servers import RunningServer


def _seed_github(sandbox: SandboxClient) -> tuple[str, str]:
    org, token = f"org-{uuid.uuid4().hex[:6]}", f"ghp_{uuid.uuid4().hex}"
    sandbox.seed("github", {"org": org, "token": token,
                            "members": [{"email": "ada@example.com", "name": "ada", "role": "admin", "status": "active"}]})  # fmt: skip
    return org, token


def _connect(admin: httpx.Client, sandbox: SandboxClient, org: str, token: str, **extra: object) -> httpx.Response:
    return admin.post("/apps", json={"kind": "github", "label": "Eng org", "business_id": org,
                                     "automation_account": {"api_token": token},
                                     "api_base_url": sandbox.kind_url("github"), **extra})  # fmt: skip


def test_catalog_lists_kinds_with_derived_capabilities(admin: httpx.Client) -> None:
    items = {i["kind"]: i for i in admin.get("/catalog").json()["items"]}
    github = items["github"]
    assert {"ListsMembers", "InvitesMembers", "RemovesMembers"} <= set(github["capabilities"])
    assert github["needs_business_id"] is True and "api_token" in github["account_fields"]
    assert any(r["owner_level"] for r in github["roles"])


def test_connect_stores_encrypted_secret_and_never_returns_it(admin: httpx.Client, sandbox: SandboxClient,
                                                              server: RunningServer) -> None:  # fmt: skip
    org, token = _seed_github(sandbox)
    response = _connect(admin, sandbox, org, token)
    assert response.status_code == 201, response.text
    app = response.json()
    assert token not in response.text and app["automation_account"] == {"fields": ["api_token"]}
    assert admin.get(f"/apps/{app['id']}").json()["label"] == "Eng org"
    assert token not in admin.get("/apps").text
    rows = server.db.read_sync(lambda c: [str(tuple(r)) for t in ("apps", "audit_events")
                                          for r in c.exec_driver_sql(f"SELECT * FROM {t}")])  # fmt: skip
    assert rows and not any(token in row for row in rows)


def test_bad_credentials_are_refused_and_nothing_is_saved(admin: httpx.Client, sandbox: SandboxClient) -> None:
    org, _ = _seed_github(sandbox)
    response = _connect(admin, sandbox, org, "ghp_wrong")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_credentials"
    assert "ghp_wrong" not in response.text
    assert admin.get("/apps").json()["items"] == []


def test_bad_requests_are_clear_4xx(admin: httpx.Client, sandbox: SandboxClient) -> None:
    org, token = _seed_github(sandbox)
    cases = [
        {"kind": "myspace", "label": "x", "automation_account": {"api_token": "t"}},
        {"kind": "github", "label": "x", "automation_account": {"api_token": "t"}},  # no business id
        {"kind": "github", "label": "x", "business_id": org, "automation_account": {}},
        {"kind": "github", "label": "x", "business_id": org, "automation_account": {"api_token": token},
         "surprise": True},
        {"kind": "github", "label": "", "business_id": org, "automation_account": {"api_token": token}},
        {"kind": "github", "label": "x", "business_id": org, "automation_account": {"api_token": token},
         "deprovision_policy": "yolo"},
    ]  # fmt: skip
    for body in cases:
        response = admin.post("/apps", json=body)
        assert response.status_code == 400, (body, response.text)
        assert {"code", "message"} <= set(response.json()["error"]) <= {"code", "message", "field"}
    assert admin.post("/apps", content=b"{nope").status_code == 400
    assert admin.get("/apps").json()["items"] == []


def test_configure_delete_and_workspace_isolation(admin: httpx.Client, sandbox: SandboxClient,
                                                  server: RunningServer) -> None:  # fmt: skip
    org, token = _seed_github(sandbox)
    app = _connect(admin, sandbox, org, token).json()
    patched = admin.patch(f"/apps/{app['id']}", json={"deprovision_policy": "automatic",
                                                      "mass_removal_guard": {"count": 3, "percent": 50}})  # fmt: skip
    assert patched.status_code == 200
    assert patched.json()["deprovision_policy"] == "automatic"
    assert patched.json()["mass_removal_guard"] == {"count": 3, "percent": 50}
    other = server.token(f"other-{uuid.uuid4().hex[:6]}", "admin")
    with httpx.Client(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {other}"}) as stranger:
        assert stranger.get(f"/apps/{app['id']}").status_code == 404
        assert stranger.delete(f"/apps/{app['id']}").status_code == 404
    assert admin.delete(f"/apps/{app['id']}").status_code == 204
    assert admin.get(f"/apps/{app['id']}").status_code == 404


def test_admin_api_needs_admin_scope(server: RunningServer) -> None:
    scim_token = server.token("scope-test", "scim")
    response = httpx.get(server.url + "/api/v1/apps", headers={"Authorization": f"Bearer {scim_token}"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert httpx.get(server.url + "/api/v1/apps").status_code == 401


def test_configure_with_nulls_changes_nothing_it_cannot_clear(admin: httpx.Client, sandbox: SandboxClient) -> None:
    org, token = _seed_github(sandbox)
    app = _connect(admin, sandbox, org, token).json()
    response = admin.patch(f"/apps/{app['id']}", json={"label": None, "schedule": None, "deprovision_policy": None})
    assert response.status_code == 200
    assert (response.json()["label"], response.json()["schedule"]) == ("Eng org", "daily")
    assert admin.patch(f"/apps/{app['id']}", json={"schedule": "99:99"}).status_code == 400


def test_credentials_that_cannot_travel_in_a_header_are_refused(admin: httpx.Client, sandbox: SandboxClient) -> None:
    """Found by schemathesis: a non-ASCII api_token was a 500 (httpx could not encode the header)."""
    org, _ = _seed_github(sandbox)
    for token in ("ghp_tök", "ghp_a\nb", "ghp_\x00"):
        response = _connect(admin, sandbox, org, token)
        assert response.status_code in (400, 422), (token, response.text)
        assert token not in response.text and {"code", "message"} <= set(response.json()["error"]) <= {"code", "message", "field"}
    assert admin.get("/apps").json()["items"] == []
