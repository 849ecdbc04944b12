"""Asana vendor samples (tests/connectors/samples/asana, from vendor-apis.md section 5 and Asana's
OpenAPI examples): the client parses them, the error map reads them, and the sandbox answers with
the same shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.asana.client import (
    MEMBER_FIELDS,
    next_offset,
    parse_membership,
    parse_project,
    parse_user,
    parse_workspace,
    parse_workspace_membership,
)
from connectors.errors import AuthError, InvalidRequest, NotFound, RateLimited, VendorUnavailable
from connectors.http import raise_for_vendor
from connectors.sandbox import SandboxClient
from tests.connectors.shapes import assert_same_shape, load_sample

WORKSPACE, TOKEN, PROJECT = "1200000000000007", "sample-token", "1202000000000009"


def sample(name: str) -> Any:
    return load_sample("asana", name)


def test_client_parses_the_samples() -> None:
    assert parse_workspace(sample("workspace.json")["data"]).name == "My Company Workspace"
    [membership] = [parse_workspace_membership(m) for m in sample("workspace-memberships.json")["data"]]
    assert (membership.user.gid, membership.user.name, membership.is_active) == ("12345", "Greg Sanchez", True)
    assert next_offset(sample("workspace-memberships.json")) == "eyJ0eXAiOJiKV1iQLCJhbGciOiJIUzI1NiJ9"
    [with_email] = [parse_workspace_membership(m) for m in sample("workspace-memberships-opt-fields.json")["data"]]
    assert with_email.user.email == "gsanchez@example.com" and not with_email.is_admin
    assert next_offset(sample("workspace-memberships-opt-fields.json")) is None
    assert parse_user(sample("add-user.json")["data"]).email == "gsanchez@example.com"
    [project] = [parse_project(p) for p in sample("projects.json")["data"]]
    assert project.name == "Stuff to buy"
    [grant] = [parse_membership(m) for m in sample("memberships.json")["data"]]
    assert (grant.parent_gid, grant.member_gid, grant.access_level) == ("12345", "12345", "editor")
    assert parse_membership(sample("membership-created.json")["data"]).access_level == "editor"


@pytest.mark.parametrize(
    ("name", "status", "headers", "error"),
    [
        ("error-401-not-authorized.json", 401, {}, AuthError),
        ("error-404-unknown-object.json", 404, {}, NotFound),
        ("error-400-bad-limit.json", 400, {}, InvalidRequest),
        ("error-429-rate-limited.json", 429, {"Retry-After": "30"}, RateLimited),
        ("error-500-server.json", 500, {}, VendorUnavailable),
    ],
)
def test_error_samples_map_to_typed_errors(
    name: str, status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    response = httpx.Response(status, json=sample(name), headers=headers)
    with pytest.raises(error) as caught:
        raise_for_vendor("asana", "op", response)
    assert sample(name)["errors"][0]["message"] in str(caught.value)
    if error is RateLimited:
        assert caught.value.retry_after == 30  # type: ignore[attr-defined]


@pytest.fixture
def api(sandbox: SandboxClient) -> Iterator[httpx.Client]:
    sandbox.seed("asana", {
        "org": WORKSPACE, "token": TOKEN,
        "members": [{"email": "greg@example.com", "name": "Greg Sanchez", "role": "admin", "status": "active"},
                    {"email": "invitee@example.com", "role": "member", "status": "pending"}],
        "assets": [{"id": PROJECT, "name": "Stuff to buy", "type": "project",
                    "grants": [{"email": "greg@example.com", "permission": "editor"}]}],
    })
    with httpx.Client(base_url=f"{sandbox.kind_url('asana')}/api/1.0",
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


MEMBERSHIPS = f"/workspaces/{WORKSPACE}/workspace_memberships"


@pytest.mark.parametrize(
    ("method", "path", "body", "name", "status"),
    [
        ("GET", f"/workspaces/{WORKSPACE}", None, "workspace.json", 200),
        ("GET", f"{MEMBERSHIPS}?limit=1", None, "workspace-memberships.json", 200),
        ("GET", f"{MEMBERSHIPS}?limit=100&opt_fields={MEMBER_FIELDS}", None,
         "workspace-memberships-opt-fields.json", 200),
        ("POST", f"/workspaces/{WORKSPACE}/addUser", {"data": {"user": "new@example.com"}}, "add-user.json", 200),
        ("POST", f"/workspaces/{WORKSPACE}/removeUser", {"data": {"user": "invitee@example.com"}},
         "remove-user.json", 200),
        ("GET", f"/workspaces/{WORKSPACE}/projects?limit=100", None, "projects.json", 200),
        ("GET", f"/memberships?parent={PROJECT}&limit=100", None, "memberships.json", 200),
        ("POST", "/memberships", {"data": {"parent": PROJECT, "member": "1200000000000002",
                                           "access_level": "editor"}}, "membership-created.json", 201),
        ("POST", f"/workspaces/{WORKSPACE}/removeUser", {"data": {"user": "12345"}},
         "error-404-unknown-object.json", 404),
        ("GET", f"{MEMBERSHIPS}?limit=101", None, "error-400-bad-limit.json", 400),
    ],
)
def test_sandbox_answers_with_the_sample_shape(
    api: httpx.Client, method: str, path: str, body: object, name: str, status: int
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert_same_shape(sample(name), response.json())


def test_sandbox_not_authorized_sample(sandbox: SandboxClient) -> None:
    sandbox.seed("asana", {"org": WORKSPACE, "token": TOKEN})
    response = httpx.get(f"{sandbox.kind_url('asana')}/api/1.0/workspaces/{WORKSPACE}",
                         headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json() == sample("error-401-not-authorized.json")


@pytest.mark.parametrize(("fault", "name", "status"), [
    ("rate_limit", "error-429-rate-limited.json", 429), ("unavailable", "error-500-server.json", 503)])
def test_sandbox_faults_answer_the_asana_way(sandbox: SandboxClient, fault: str, name: str, status: int) -> None:
    sandbox.seed("asana", {"org": WORKSPACE, "token": TOKEN})
    sandbox.faults("asana", error_rate=1.0, errors=[fault], retry_after=7)
    response = httpx.get(f"{sandbox.kind_url('asana')}/api/1.0/workspaces/{WORKSPACE}",
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == status
    assert_same_shape(sample(name), response.json())
    if fault == "rate_limit":
        assert response.headers["retry-after"] == "7"
