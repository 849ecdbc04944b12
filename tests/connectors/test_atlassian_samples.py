"""Atlassian vendor samples (tests/connectors/samples/atlassian, from vendor-apis.md section 7, the
organization REST docs and the jira.js / go-atlassian admin models): the client parses them, the error
map reads them, and the sandbox answers with the same shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.atlassian.client import (
    cursor_of,
    parse_directory_user,
    parse_invite,
    parse_org,
    parse_user,
)
from connectors.errors import AuthError, NotFound, PermissionDenied, RateLimited
from connectors.http import raise_for_vendor
from connectors.sandbox import SandboxClient
from tests.connectors.shapes import assert_same_shape, load_sample

ORG, TOKEN = "0b2e6f7a-5c4d-4e3f-8a9b-1c2d3e4f5a6b", "sample-key"
V1, V2 = f"/admin/v1/orgs/{ORG}", f"/admin/v2/orgs/{ORG}"


def sample(name: str) -> Any:
    return load_sample("atlassian", name)


def test_client_parses_the_samples() -> None:
    assert parse_org(sample("org.json")["data"]).name == "Acme"
    page = sample("orgs-users.json")
    [user] = [parse_user(u) for u in page["data"]]
    assert (user.account_id, user.account_status, user.email) == ("5b10ac8d82e05b22cc7d4ef5", "active", "mia@example.com")
    assert user.last_active and user.access_billable and user.products == ("jira-software",)
    assert cursor_of(page["links"]["next"]) == "MTAw"
    assert cursor_of("MTAw") == "MTAw" and cursor_of(None) is None
    [admin] = [parse_directory_user(u) for u in sample("directory-users.json")["data"]]
    assert admin.platform_roles == ("atlassian/org-admin",) and admin.email_verified
    invitee = parse_directory_user(sample("directory-user.json")["data"])
    assert (invitee.email_verified, invitee.platform_roles) == (False, ())
    [invite] = [parse_invite(i) for i in sample("users-invite.json")["data"]]
    assert (invite.account_id, invite.email) == ("5b10ac8d82e05b22cc7d4ef5", "mia@example.com")


@pytest.mark.parametrize(
    ("name", "status", "headers", "error"),
    [
        ("error-401-unauthenticated.json", 401, {}, AuthError),
        ("error-403-not-allowed.json", 403, {}, PermissionDenied),
        ("error-404-unknown-resource.json", 404, {}, NotFound),
        ("error-429-rate-limited.json", 429, {"Retry-After": "12"}, RateLimited),
    ],
)
def test_error_samples_map_to_typed_errors(
    name: str, status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    response = httpx.Response(status, json=sample(name), headers=headers)
    with pytest.raises(error) as caught:
        raise_for_vendor("atlassian", "op", response)
    assert sample(name)["errors"][0]["detail"] in str(caught.value)
    if error is RateLimited:
        assert caught.value.retry_after == 12  # type: ignore[attr-defined]


@pytest.fixture
def api(sandbox: SandboxClient) -> Iterator[tuple[httpx.Client, list[str]]]:
    members = [{"email": "mia@example.com", "name": "Mia Krystof", "role": "org-admin", "status": "active"},
               {"email": "invitee@example.com", "role": "member", "status": "pending"}]
    members += [{"email": f"user{n}@example.com", "role": "member"} for n in range(100)]
    ids = sandbox.seed("atlassian", {"org": ORG, "token": TOKEN, "members": members})
    with httpx.Client(base_url=sandbox.kind_url("atlassian"),
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client, ids


@pytest.mark.parametrize(
    ("method", "path", "body", "name", "status"),
    [
        ("GET", V1, None, "org.json", 200),
        ("GET", f"{V1}/users", None, "orgs-users.json", 200),
        ("GET", f"{V2}/directories/-/users?roleIds=atlassian/org-admin", None, "directory-users.json", 200),
        ("GET", f"{V2}/directories/-/users/{{invitee}}", None, "directory-user.json", 200),
        ("POST", f"{V2}/users/invite", {"emails": ["new@example.com"], "sendNotification": True},
         "users-invite.json", 200),
        ("POST", f"{V1}/directory/users/{{invitee}}/suspend-access", None, "suspend-access.json", 200),
        ("DELETE", f"{V1}/directory/users/5b10ffffffffffffffffffff", None, "error-404-unknown-resource.json", 404),
    ],
)
def test_sandbox_answers_with_the_sample_shape(
    api: tuple[httpx.Client, list[str]], method: str, path: str, body: object, name: str, status: int
) -> None:
    client, ids = api
    response = client.request(method, path.replace("{invitee}", ids[1]), json=body)
    assert response.status_code == status, response.text
    assert_same_shape(sample(name), response.json())


def test_sandbox_auth_samples(sandbox: SandboxClient) -> None:
    sandbox.seed("atlassian", {"org": ORG, "token": TOKEN})
    sandbox.seed("atlassian", {"org": "other-org", "token": "other-key"})
    url = f"{sandbox.kind_url('atlassian')}{V1}/users"
    unknown = httpx.get(url, headers={"Authorization": "Bearer wrong"})
    assert unknown.status_code == 401
    assert_same_shape(sample("error-401-unauthenticated.json"), unknown.json())
    foreign = httpx.get(url, headers={"Authorization": "Bearer other-key"})
    assert foreign.status_code == 403
    assert foreign.json()["errors"][0]["code"] == "ADMIN-UAM-403-2"


def test_sandbox_rate_limits_with_retry_after(sandbox: SandboxClient) -> None:
    sandbox.seed("atlassian", {"org": ORG, "token": TOKEN})
    sandbox.faults("atlassian", rate_limit_every=1, retry_after=3)
    response = httpx.get(f"{sandbox.kind_url('atlassian')}{V1}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (response.status_code, response.headers["retry-after"]) == (429, "3")
    assert_same_shape(sample("error-429-rate-limited.json"), response.json())
