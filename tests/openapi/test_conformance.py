"""openapi/openapi.yaml is a valid OpenAPI 3.1 document, describes every route the app serves,
and every answer the real server gives (over real HTTP, on SQLite and on PostgreSQL) conforms to
it: the status code is declared for that operation, the media type is declared, and the body
matches the declared schema. Each test also asserts that its flow really reached the answers it
is about (``assert_seen``), so a test that silently stopped exercising a route would fail.
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import pytest
from schemathesis.specs.openapi.adapter.validators import validate_v3

from connectors.sandbox import SandboxClient
from tests.openapi.conftest import Clients, Recorder, seed_github
from tests.openapi.flow import (
    GROUP,
    PATCH,
    TOO_BIG,
    USER,
    by_email,
    check,
    connect,
    ok,
    pages,
    scim_user,
    wait_job,
)
from tests.openapi.spec import load_schema, raw_spec
from tests.servers import free_port

# ------------------------------------------------------------------------------ the document


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(pointer: str) -> Any:
    node: Any = raw_spec()
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_document_is_valid_openapi_31() -> None:
    spec = raw_spec()
    assert spec["openapi"].startswith("3.1")
    validate_v3(spec)  # the OpenAPI 3.1 meta-schema, as schemathesis ships it
    load_schema().validate()
    for ref in _refs(spec):
        assert ref.startswith("#/"), ref
        _resolve(ref)  # raises KeyError on a dangling reference
    for name, schema in spec["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid({k: v for k, v in schema.items() if k != "$ref"}), name
    operation_ids = [
        op["operationId"] for item in spec["paths"].values() for op in item.values() if "operationId" in op
    ]
    assert len(operation_ids) == len(set(operation_ids)) == len(list(load_schema().get_all_operations()))


# ------------------------------------------------------------------------------ admin flow


def _connect_and_sets(c: Clients, sandbox: SandboxClient, org: str, token: str) -> tuple[str, dict[str, Any]]:
    ok(c.admin.get("/catalog"), 200)
    app_id = connect(c.admin, sandbox, org, token)
    assert ok(c.admin.get(f"/apps/{app_id}"), 200)["automation_account"] == {"fields": ["api_token"]}
    configured = ok(c.admin.patch(f"/apps/{app_id}", json={"label": "Engineering", "schedule": "06:30",
                                                             "mass_removal_guard": {"count": 5, "percent": 50}}), 200)  # fmt: skip
    assert configured["label"] == "Engineering" and configured["mass_removal_guard"] == {
        "count": 5,
        "percent": 50,
    }
    assert app_id in {a["id"] for a in pages(c.admin, "/apps")}
    job = check(c.admin, app_id)
    assert job["result"]["imported"] == 4
    assert set(by_email(c.admin, app_id, "matched")) == {"ada@example.com", "grace@example.com"}
    assert len(pages(c.admin, f"/apps/{app_id}/members")) == 4
    return app_id, by_email(c.admin, app_id)


def _member_actions(c: Clients, app_id: str, members: dict[str, Any], someone: str) -> None:
    agency, bot, grace = (
        members["agency@outside.example"],
        members["bot@example.com"],
        members["grace@example.com"],
    )
    matched = ok(c.admin.post(f"/apps/{app_id}/members/{agency['id']}/match",
                              json={"user_id": someone, "bridge_role": "owner"}), 200)  # fmt: skip
    assert matched["state"] == "matched" and matched["user_id"] == someone
    assert (
        ok(c.admin.patch(f"/apps/{app_id}/members/{grace['id']}", json={"bridge_role": "owner"}), 200)[
            "bridge_role"
        ]
        == "owner"
    )
    changed = ok(c.admin.patch(f"/apps/{app_id}/members/{grace['id']}", json={"app_role": "admin"}), 202)
    assert wait_job(c.admin, changed["job_id"])["status"] == "completed"
    assert (
        ok(c.admin.post(f"/apps/{app_id}/members/{bot['id']}/exempt", json={"reason": "CI"}), 200)["state"]
        == "exempted"
    )
    ok(c.admin.post(f"/apps/{app_id}/members/{bot['id']}/remove"), 409)  # exempted: never removed
    assert ok(c.admin.post(f"/apps/{app_id}/members/{bot['id']}/unexempt"), 200)["exempt_reason"] is None
    ok(c.admin.post(f"/apps/{app_id}/members/{bot['id']}/unexempt"), 409)
    ok(
        c.admin.patch(f"/apps/{app_id}/members/{bot['id']}", json={"bridge_role": "owner"}), 409
    )  # not matched
    removal = ok(c.admin.post(f"/apps/{app_id}/members/{bot['id']}/remove"), 202)
    assert wait_job(c.admin, removal["job_id"])["status"] == "completed"


def _governance(c: Clients, sandbox: SandboxClient, app_id: str, org: str, ada: str, newcomer: str) -> None:
    invited = ok(
        c.admin.post(
            f"/apps/{app_id}/invitations", json={"user_id": newcomer, "bridge_role": "collaborator"}
        ),
        202,
    )
    assert wait_job(c.admin, invited["job_id"])["status"] == "completed"
    group = ok(
        c.scim.post("/Groups", json={"schemas": [GROUP], "displayName": "eng", "members": [{"value": ada}]}),
        201,
    )
    rule = ok(c.admin.post(f"/apps/{app_id}/rules", json={"group_id": group["id"], "bridge_role": "owner", "app_role": "admin",
                                                        "assets": [{"asset_id": "repo-1", "permission": "push"}]}), 201)  # fmt: skip
    assert [r["id"] for r in ok(c.admin.get(f"/apps/{app_id}/rules"), 200)["items"]] == [rule["id"]]
    for job_id in rule["jobs"]:
        wait_job(c.admin, job_id)
    plan = ok(c.admin.get(f"/apps/{app_id}/plan"), 200)
    assert plan["sets"]["exempted"] == 0
    assets = ok(c.admin.get(f"/apps/{app_id}/assets"), 200)["items"]
    assert [a["id"] for a in assets] == ["repo-1"]
    ok(c.admin.delete(f"/apps/{app_id}/rules/{rule['id']}"), 204)
    ok(c.admin.delete(f"/apps/{app_id}/rules/{rule['id']}"), 404)


def _deprovision(c: Clients, app_id: str, grace: str) -> None:
    """IdP deactivates grace -> a check reports her -> the admin applies the report -> she is removed."""
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert ok(c.scim.patch(f"/Users/{grace}", json=patch), 200)["active"] is False
    check(c.admin, app_id)  # a check also reports members whose directory user is deactivated
    reports = ok(c.admin.get("/reports", params={"app_id": app_id, "status": "pending"}), 200)["items"]
    assert [e["user_id"] for r in reports for e in r["entries"]] == [grace], reports
    applied = ok(c.admin.post(f"/reports/{reports[0]['id']}/apply"), 202)
    assert wait_job(c.admin, applied["job_id"])["status"] == "completed"
    ok(c.admin.post(f"/reports/{reports[0]['id']}/apply"), 409)
    assert ok(c.admin.get("/reports", params={"status": "applied"}), 200)["items"]


def _jobs(c: Clients, app_id: str) -> None:
    everything = pages(c.admin, "/jobs", app_id=app_id)
    assert {j["kind"] for j in everything} >= {"check", "remove", "invite", "change_role", "apply_report"}
    finished = ok(c.admin.get("/jobs", params={"status": "completed", "app_id": app_id}), 200)["items"]
    ok(c.admin.post(f"/jobs/{finished[0]['id']}/cancel"), 409)
    fresh = ok(c.admin.post(f"/apps/{app_id}/check"), 202)["job_id"]
    assert c.admin.post(f"/jobs/{fresh}/cancel").status_code in (
        200,
        409,
    )  # races the worker; both are declared
    wait_job(c.admin, fresh)


def test_admin_flow_conforms(
    clients: Clients, recorder: Recorder, sandbox: SandboxClient, workspace: str
) -> None:
    org, token = f"org-{workspace}", f"ghp-{workspace}"
    seed_github(sandbox, org, token)
    users = {
        name: scim_user(clients.scim, f"{name}@example.com")
        for name in ("ada", "grace", "someone", "newcomer")
    }
    app_id, members = _connect_and_sets(clients, sandbox, org, token)
    _member_actions(clients, app_id, members, users["someone"])
    _governance(clients, sandbox, app_id, org, users["ada"], users["newcomer"])
    _deprovision(clients, app_id, users["grace"])
    _jobs(clients, app_id)
    ok(clients.admin.delete(f"/apps/{app_id}"), 204)
    ok(clients.admin.get(f"/apps/{app_id}"), 404)
    recorder.assert_conforms()
    recorder.assert_seen({
        ("GET /api/v1/catalog", 200), ("POST /api/v1/apps", 201), ("GET /api/v1/apps", 200),
        ("GET /api/v1/apps/{app_id}", 200), ("PATCH /api/v1/apps/{app_id}", 200), ("DELETE /api/v1/apps/{app_id}", 204),
        ("POST /api/v1/apps/{app_id}/check", 202), ("GET /api/v1/apps/{app_id}/members", 200),
        ("POST /api/v1/apps/{app_id}/members/{member_id}/match", 200),
        ("PATCH /api/v1/apps/{app_id}/members/{member_id}", 200), ("PATCH /api/v1/apps/{app_id}/members/{member_id}", 202),
        ("PATCH /api/v1/apps/{app_id}/members/{member_id}", 409),
        ("POST /api/v1/apps/{app_id}/members/{member_id}/exempt", 200),
        ("POST /api/v1/apps/{app_id}/members/{member_id}/unexempt", 200),
        ("POST /api/v1/apps/{app_id}/members/{member_id}/unexempt", 409),
        ("POST /api/v1/apps/{app_id}/members/{member_id}/remove", 202),
        ("POST /api/v1/apps/{app_id}/members/{member_id}/remove", 409),
        ("POST /api/v1/apps/{app_id}/invitations", 202), ("GET /api/v1/apps/{app_id}/plan", 200),
        ("GET /api/v1/apps/{app_id}/assets", 200), ("GET /api/v1/apps/{app_id}/rules", 200),
        ("POST /api/v1/apps/{app_id}/rules", 201), ("DELETE /api/v1/apps/{app_id}/rules/{rule_id}", 204),
        ("DELETE /api/v1/apps/{app_id}/rules/{rule_id}", 404), ("GET /api/v1/reports", 200),
        ("POST /api/v1/reports/{report_id}/apply", 202), ("POST /api/v1/reports/{report_id}/apply", 409),
        ("GET /api/v1/jobs", 200), ("GET /api/v1/jobs/{job_id}", 200), ("POST /api/v1/jobs/{job_id}/cancel", 409),
    })  # fmt: skip


# ------------------------------------------------------------------------------ admin errors


def _bad_requests(admin: httpx.Client, app_id: str, member_id: str) -> None:
    base = f"/apps/{app_id}"
    for path, params in [("/apps", {"limit": "0"}), ("/apps", {"limit": "x"}), ("/apps", {"cursor": "zzz"}),
                         ("/jobs", {"status": "done"}), ("/jobs", {"cursor": "WyJhIl0"}), ("/reports", {"status": "x"}),
                         (f"{base}/members", {"state": "gone"}), (f"{base}/members", {"limit": "501"})]:  # fmt: skip
        assert ok(admin.get(path, params=params), 400)["error"]["code"] in ("invalid", "invalid_cursor")
    for body in [{"kind": "nope", "label": "x", "automation_account": {"api_token": "t"}},
                 {"kind": "github", "label": "x", "automation_account": {"api_token": "t"}},  # needs business_id
                 {"kind": "github", "label": "x", "business_id": "o", "automation_account": {"pin": "1"}},
                 {"kind": "github", "label": "", "business_id": "o", "automation_account": {"api_token": "t"}},
                 {"kind": "github", "label": "x", "business_id": "o", "automation_account": {"api_token": "t"}, "extra": 1},
                 {"label": "x"}]:  # fmt: skip
        ok(admin.post("/apps", json=body), 400)
    ok(admin.post("/apps", content=b"{not json", headers={"content-type": "application/json"}), 400)
    ok(admin.post("/apps", json=[1, 2]), 400)
    ok(admin.patch(base, json={"deprovision_policy": "sometimes"}), 400)
    ok(admin.post(f"{base}/members/{member_id}/match", json={"user_id": "nobody"}), 400)
    ok(admin.post(f"{base}/members/{member_id}/exempt", json={"reason": ""}), 400)
    ok(admin.patch(f"{base}/members/{member_id}", json={"app_role": "emperor"}), 400)
    ok(admin.post(f"{base}/invitations", json={"user_id": "nobody"}), 400)
    ok(admin.post(f"{base}/rules", json={"group_id": "nobody"}), 400)


def _not_found(admin: httpx.Client, app_id: str) -> None:
    missing = f"/apps/{'0' * 8}"
    for method, path in [("GET", missing), ("PATCH", missing), ("DELETE", missing), ("POST", f"{missing}/check"),
                         ("GET", f"{missing}/members"), ("GET", f"{missing}/plan"), ("GET", f"{missing}/assets"),
                         ("GET", f"{missing}/rules"), ("POST", f"{missing}/invitations"),
                         ("POST", f"/apps/{app_id}/members/nope/remove"), ("POST", f"/apps/{app_id}/members/nope/unexempt"),
                         ("DELETE", f"/apps/{app_id}/rules/nope"), ("POST", "/reports/nope/apply"),
                         ("GET", "/jobs/nope"), ("POST", "/jobs/nope/cancel")]:  # fmt: skip
        body = (
            {"label": "x"}
            if method == "PATCH"
            else {"user_id": "u"}
            if path.endswith("invitations")
            else None
        )
        assert ok(admin.request(method, path, json=body), 404)["error"]["code"] == "not_found"


def _auth(c: Clients) -> None:
    for client, status in [(c.anonymous, 401), (c.wrong_scope_admin, 403)]:
        prefix = "/api/v1" if client is c.anonymous else ""
        for path in ("/catalog", "/apps", "/jobs", "/reports"):
            ok(client.get(prefix + path), status)
    bogus = httpx.Client(base_url=c.admin.base_url, headers={"Authorization": "Bearer nope"},
                         event_hooks=c.admin.event_hooks)  # fmt: skip
    with bogus:
        assert ok(bogus.get("/apps"), 401)["error"]["code"] == "unauthorized"


def test_admin_errors_conform(
    clients: Clients, recorder: Recorder, sandbox: SandboxClient, workspace: str
) -> None:
    org, token = f"org-{workspace}", f"ghp-{workspace}"
    seed_github(sandbox, org, token)
    app_id = connect(clients.admin, sandbox, org, token, deprovision_policy="automatic")
    check(clients.admin, app_id)
    member_id = next(iter(by_email(clients.admin, app_id).values()))["id"]
    _bad_requests(clients.admin, app_id, member_id)
    _not_found(clients.admin, app_id)
    _auth(clients)
    big = {"kind": "github", "label": TOO_BIG, "automation_account": {"api_token": "t"}}
    assert ok(clients.admin.post("/apps", json=big), 413)["error"]["code"] == "too_large"
    ok(clients.admin.post(f"/apps/{app_id}/members/{member_id}/exempt", json={"reason": TOO_BIG}), 413)
    twice = {"kind": "github", "label": "x", "business_id": org, "automation_account": {"api_token": token},
             "api_base_url": sandbox.kind_url("github")}  # fmt: skip
    assert ok(clients.admin.post("/apps", json=twice), 409)["error"]["code"] == "already_connected"
    refused = ok(clients.admin.post("/apps", json={"kind": "github", "label": "x", "business_id": f"{org}-2",
                                                    "automation_account": {"api_token": "wrong"},
                                                    "api_base_url": sandbox.kind_url("github")}), 422)  # fmt: skip
    assert refused["error"]["code"] == "invalid_credentials" and "wrong" not in refused["error"]["message"]
    ok(clients.admin.patch(f"/apps/{app_id}", json={"automation_account": {"api_token": "wrong"}}), 422)
    closed_port = f"http://127.0.0.1:{free_port()}/github"  # nothing listens there: the app is unreachable
    unreachable = {"kind": "github", "label": "x", "business_id": f"{org}-3", "automation_account": {"api_token": token},
                   "api_base_url": closed_port}  # fmt: skip
    assert ok(clients.admin.post("/apps", json=unreachable), 502)["error"]["code"] == "app_unavailable"
    assert len(pages(clients.admin, "/apps")) == 1  # nothing half-written by any refused request
    recorder.assert_conforms()
    recorder.assert_seen({("POST /api/v1/apps", s) for s in (400, 409, 413, 422, 502)} | {
        ("GET /api/v1/apps", 401), ("GET /api/v1/apps", 403), ("GET /api/v1/jobs", 400), ("GET /api/v1/reports", 400),
        ("PATCH /api/v1/apps/{app_id}", 422), ("GET /api/v1/apps/{app_id}", 404), ("POST /api/v1/jobs/{job_id}/cancel", 404),
        ("POST /api/v1/apps/{app_id}/members/{member_id}/exempt", 413), ("GET /api/v1/apps/{app_id}/members", 400),
    })  # fmt: skip


@pytest.mark.parametrize("path", ["/api/v1/apps", "/scim/v2/Users"])
def test_unknown_operations_are_not_in_the_document(path: str, clients: Clients, recorder: Recorder) -> None:
    """The recorder must be able to fail: an answer from an undocumented operation is reported."""
    clients.anonymous.request("PUT", path)
    assert recorder.problems and "no operation in the document" in recorder.problems[0]


def _nul_cases(c: Clients, app_id: str) -> list[httpx.Response]:
    return [
        c.admin.patch(f"/apps/{app_id}", json={"label": "a\u0000b"}),
        c.admin.get("/jobs/%00"),
        c.scim.post("/Users", json={"schemas": [USER], "userName": "nul\u0000@example.com"}),
        c.scim.post("/Groups", json={"schemas": [GROUP], "displayName": "nul\u0000"}),
    ]


def test_nul_characters_are_a_client_error(request: pytest.FixtureRequest, clients: Clients, recorder: Recorder,
                                           sandbox: SandboxClient, workspace: str) -> None:  # fmt: skip
    """A string holding U+0000 (valid JSON, refused by PostgreSQL text columns) is bad input: a 4xx."""
    org, token = f"org-{workspace}", f"ghp-{workspace}"
    seed_github(sandbox, org, token)
    app_id = connect(clients.admin, sandbox, org, token)
    statuses = [r.status_code for r in _nul_cases(clients, app_id)]
    assert all(s < 500 for s in statuses), statuses
    recorder.assert_conforms()
