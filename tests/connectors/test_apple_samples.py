"""App Store Connect vendor samples (tests/connectors/samples/apple, from Apple's App Store Connect
API documentation: Users, User Invitations, error responses): the client parses them, the error map
reads them, and the sandbox answers with the same shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.apple.auth import TeamToken
from connectors.apple.client import parse_invitation, parse_user
from connectors.apple.connector import member_from_user
from connectors.base import Secret
from connectors.errors import AuthError, InvalidRequest, NotFound, RateLimited
from connectors.http import raise_for_vendor
from connectors.sandbox import SandboxClient
from connectors.sandbox.apple import team_key
from tests.connectors.shapes import assert_same_shape, load_sample

TEAM, KEY_ID = "sample-team", "SAMPLEKEY1"


def sample(name: str) -> Any:
    return load_sample("apple", name)


def test_client_parses_the_samples() -> None:
    [user] = [parse_user(u) for u in sample("users.json")["data"]]
    assert (user.id, user.username, user.roles) == ("345bb7dc-a653-43ff-acee-a4817cd28479",
                                                    "kate.bell@example.com", ("ADMIN",))
    multi = member_from_user(parse_user(sample("user.json")["data"]))
    assert (multi.role, multi.display_name, multi.state) == ("DEVELOPER", "Kate Bell", "active")
    [invitation] = [parse_invitation(i) for i in sample("user-invitations.json")["data"]]
    assert (invitation.email, invitation.roles) == ("john.appleseed@example.com", ("DEVELOPER",))
    assert parse_invitation(sample("user-invitation-created.json")["data"]) == invitation


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("error-401-not-authorized.json", 401, AuthError),
        ("error-404-not-found.json", 404, NotFound),
        ("error-409-entity-error.json", 409, InvalidRequest),
        ("error-429-rate-limit-exceeded.json", 429, RateLimited),
    ],
)
def test_error_samples_map_to_typed_errors(name: str, status: int, error: type[Exception]) -> None:
    response = httpx.Response(status, json=sample(name),
                              headers={"X-Rate-Limit": "user-hour-lim:3600;user-hour-rem:0;"})
    with pytest.raises(error) as caught:
        raise_for_vendor("apple", "op", response)
    assert sample(name)["errors"][0]["detail"] in str(caught.value)
    if error is InvalidRequest:
        assert caught.value.vendor_code == "ENTITY_ERROR.ATTRIBUTE.INVALID"  # type: ignore[attr-defined]
    if error is RateLimited:
        assert caught.value.retry_after is None  # type: ignore[attr-defined]  # no hint: back off


@pytest.fixture
def api(sandbox: SandboxClient) -> Iterator[httpx.Client]:
    sandbox.seed("apple", {
        "org": TEAM, "token": KEY_ID,
        "members": [{"email": "kate.bell@example.com", "name": "Kate Bell", "role": "ADMIN", "status": "active"},
                    {"email": "dev@example.com", "name": "Dee Veloper", "role": "DEVELOPER", "status": "active"},
                    {"email": "john.appleseed@example.com", "name": "John Appleseed", "role": "DEVELOPER",
                     "status": "pending"}],
    })
    key = team_key(KEY_ID)
    bearer = TeamToken(Secret(key.private_pem), key.key_id, key.issuer_id).bearer()
    with httpx.Client(base_url=sandbox.kind_url("apple"), headers={"Authorization": f"Bearer {bearer}"}) as client:
        yield client


def _first_user_id(api: httpx.Client) -> str:
    return str(api.get("/v1/users").json()["data"][0]["id"])


def _invite(email: str) -> dict[str, Any]:
    return {"data": {"type": "userInvitations", "attributes": {
        "email": email, "firstName": "New", "lastName": "Person", "roles": ["DEVELOPER"], "allAppsVisible": True}}}


@pytest.mark.parametrize(
    ("method", "path", "body", "name", "status"),
    [
        ("GET", "/v1/users?limit=1", None, "users.json", 200),
        ("GET", "/v1/userInvitations", None, "user-invitations.json", 200),
        ("POST", "/v1/userInvitations", _invite("new@example.com"), "user-invitation-created.json", 201),
        ("POST", "/v1/userInvitations", _invite("john.appleseed@example.com"), "error-409-entity-error.json", 409),
        ("DELETE", "/v1/users/5e700000-0000-4000-8000-0000000fffff", None, "error-404-not-found.json", 404),
    ],
)
def test_sandbox_answers_with_the_sample_shape(
    api: httpx.Client, method: str, path: str, body: object, name: str, status: int
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == status
    assert_same_shape(sample(name), response.json())
    assert response.headers["x-rate-limit"].startswith("user-hour-lim:3600;user-hour-rem:")


def test_sandbox_pages_by_links_next(api: httpx.Client) -> None:
    first = api.get("/v1/users", params={"limit": 1}).json()
    second = api.get(first["links"]["next"]).json()
    assert [u["attributes"]["username"] for u in first["data"] + second["data"]] == [
        "kate.bell@example.com", "dev@example.com"]
    assert "next" not in second["links"]


def test_sandbox_patch_returns_the_user_in_the_sample_shape(api: httpx.Client) -> None:
    user_id = _first_user_id(api)
    document = {"data": {"type": "users", "id": user_id, "attributes": {"roles": ["DEVELOPER", "MARKETING"]}}}
    response = api.patch(f"/v1/users/{user_id}", json=document)
    assert response.status_code == 200
    assert_same_shape(sample("user.json"), response.json())
    assert response.json()["data"]["attributes"]["roles"] == ["DEVELOPER", "MARKETING"]


def test_sandbox_bad_jwt_is_the_not_authorized_sample(sandbox: SandboxClient) -> None:
    sandbox.seed("apple", {"org": TEAM, "token": KEY_ID})
    response = httpx.get(f"{sandbox.kind_url('apple')}/v1/users", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401
    assert_same_shape(sample("error-401-not-authorized.json"), response.json())
    assert response.json()["errors"][0]["code"] == "NOT_AUTHORIZED"


def test_sandbox_rate_limits_the_apple_way(sandbox: SandboxClient) -> None:
    sandbox.seed("apple", {"org": TEAM, "token": KEY_ID})
    sandbox.faults("apple", rate_limit_every=1)
    response = httpx.get(f"{sandbox.kind_url('apple')}/v1/users")
    assert response.status_code == 429 and "retry-after" not in response.headers
    assert response.headers["x-rate-limit"] == "user-hour-lim:3600;user-hour-rem:0;"
    assert_same_shape(sample("error-429-rate-limit-exceeded.json"), response.json())
