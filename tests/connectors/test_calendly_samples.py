"""Calendly vendor samples (tests/connectors/samples/calendly, from vendor-apis.md section 6 and
developer.calendly.com): the client parses them, the error map reads them, and the sandbox answers
with the same shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.calendly.client import parse_invitation, parse_membership, trailing_uuid
from connectors.errors import AuthError, InvalidRequest, NotFound, PermissionDenied, RateLimited
from connectors.http import raise_for_vendor
from connectors.sandbox import SandboxClient
from tests.connectors.shapes import assert_same_shape, load_sample

ORG, TOKEN = "SAMPLEORGUUID001", "sample-token"


def sample(name: str) -> Any:
    return load_sample("calendly", name)


def test_client_parses_the_samples() -> None:
    [membership] = [parse_membership(m) for m in sample("organization-memberships.json")["collection"]]
    assert (membership.uuid, membership.role, membership.user.email, membership.user.slug) == (
        "AAAAAAAAAAAAAAAA", "admin", "test@example.com", "acmesales")
    assert trailing_uuid(membership.organization) == "ABCDABCDABCDABCD"
    assert parse_membership(sample("organization-membership.json")["resource"]) == membership
    [invitation] = [parse_invitation(i) for i in sample("organization-invitations.json")["collection"]]
    assert (invitation.uuid, invitation.status, invitation.user) == ("DCBADCBADCBADCBA", "pending", None)
    created = parse_invitation(sample("organization-invitation-created.json")["resource"])
    assert (created.email, created.status) == ("test@example.com", "pending")


@pytest.mark.parametrize(
    ("name", "status", "headers", "error"),
    [
        ("error-400-invalid-argument.json", 400, {}, InvalidRequest),
        ("error-401-unauthenticated.json", 401, {}, AuthError),
        ("error-403-permission-denied.json", 403, {}, PermissionDenied),
        ("error-404-not-found.json", 404, {}, NotFound),
        ("error-429-rate-limited.json", 429,
         {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"}, RateLimited),
    ],
)
def test_error_samples_map_to_typed_errors(
    name: str, status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    response = httpx.Response(status, json=sample(name), headers=headers)
    with pytest.raises(error) as caught:
        raise_for_vendor("calendly", "op", response)
    assert sample(name)["message"] in str(caught.value)
    if error is RateLimited:
        assert caught.value.retry_after == 42  # type: ignore[attr-defined]


@pytest.fixture
def api(sandbox: SandboxClient) -> Iterator[httpx.Client]:
    sandbox.seed("calendly", {
        "org": ORG, "token": TOKEN,
        "members": [{"email": "john@example.com", "name": "John Doe", "role": "admin", "status": "active"},
                    {"email": "jane@example.com", "name": "Jane Roe", "role": "user", "status": "active"},
                    {"email": "invitee@example.com", "role": "user", "status": "pending"}],
    })
    with httpx.Client(base_url=sandbox.kind_url("calendly"),
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def _org_uri(client: httpx.Client) -> str:
    return f"{client.base_url}organizations/{ORG}"


def _membership_uuid(client: httpx.Client) -> str:
    body = client.get("/organization_memberships", params={"organization": _org_uri(client)}).json()
    return trailing_uuid(body["collection"][0]["uri"])


def test_sandbox_lists_memberships_in_the_sample_shape(api: httpx.Client) -> None:
    response = api.get("/organization_memberships", params={"organization": _org_uri(api), "count": 1})
    assert response.status_code == 200
    body = response.json()
    assert_same_shape(sample("organization-memberships.json"), body)
    assert body["collection"][0]["organization"].endswith(f"/calendly/organizations/{ORG}")
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in response.headers
    second = api.get(body["pagination"]["next_page"]).json()
    assert [m["user"]["email"] for m in second["collection"]] == ["jane@example.com"]
    assert second["pagination"]["next_page_token"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "name", "status"),
    [
        ("GET", f"/organizations/{ORG}/invitations?status=pending", None, "organization-invitations.json", 200),
        ("POST", f"/organizations/{ORG}/invitations", {"email": "new@example.com"},
         "organization-invitation-created.json", 201),
        ("POST", f"/organizations/{ORG}/invitations", {"email": "invitee@example.com"},
         "error-400-invalid-argument.json", 400),
        ("GET", "/organizations/ELSEWHERE/invitations", None, "error-404-not-found.json", 404),
        ("DELETE", f"/organizations/{ORG}/invitations/00000000-0000-4000-b000-0000000fffff", None,
         "error-404-not-found.json", 404),
    ],
)
def test_sandbox_answers_with_the_sample_shape(
    api: httpx.Client, method: str, path: str, body: object, name: str, status: int
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == status
    assert_same_shape(sample(name), response.json())


def test_sandbox_membership_resource_and_removal(api: httpx.Client) -> None:
    uuid = _membership_uuid(api)
    response = api.get(f"/organization_memberships/{uuid}")
    assert_same_shape(sample("organization-membership.json"), response.json())
    removed = api.delete(f"/organization_memberships/{uuid}")
    assert removed.status_code == 204 and removed.content == b""
    assert api.delete(f"/organization_memberships/{uuid}").status_code == 404


def test_sandbox_bad_credentials_sample(sandbox: SandboxClient) -> None:
    sandbox.seed("calendly", {"org": ORG, "token": TOKEN})
    response = httpx.get(f"{sandbox.kind_url('calendly')}/organizations/{ORG}/invitations",
                         headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json() == sample("error-401-unauthenticated.json")


def test_sandbox_other_org_is_permission_denied(sandbox: SandboxClient) -> None:
    sandbox.seed("calendly", {"org": ORG, "token": TOKEN})
    sandbox.seed("calendly", {"org": "OTHERORGUUID0001", "token": "other-token"})
    response = httpx.get(f"{sandbox.kind_url('calendly')}/organizations/OTHERORGUUID0001/invitations",
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403
    assert response.json() == sample("error-403-permission-denied.json")


def test_sandbox_rate_limits_the_calendly_way(sandbox: SandboxClient) -> None:
    """429 with X-RateLimit-Remaining: 0 and X-RateLimit-Reset in seconds, and no Retry-After."""
    sandbox.seed("calendly", {"org": ORG, "token": TOKEN})
    sandbox.faults("calendly", rate_limit_every=1, retry_after=60)
    response = httpx.get(f"{sandbox.kind_url('calendly')}/organizations/{ORG}/invitations",
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert (response.headers["x-ratelimit-remaining"], response.headers["x-ratelimit-reset"]) == ("0", "60")
    assert_same_shape(sample("error-429-rate-limited.json"), response.json())
    with pytest.raises(RateLimited) as caught:
        raise_for_vendor("calendly", "list_members", response)
    assert caught.value.retry_after == 60
