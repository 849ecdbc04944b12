"""Slack vendor samples (tests/connectors/samples/slack, from vendor-apis.md section 4b): the client
parses them, the ``ok:false`` classifier maps them, and the sandbox answers with their shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.errors import AuthError, InvalidRequest, NotFound, PermissionDenied, RateLimited
from connectors.http import raise_for_vendor
from connectors.sandbox import SandboxClient
from connectors.slack.client import parse_channel, parse_team, parse_user
from connectors.slack.connector import role_of
from connectors.slack.errors import classify
from tests.connectors.shapes import assert_same_shape, load_sample

TEAM, TOKEN = "T0SAMPLE01", "xoxp-sample-token"


def sample(name: str) -> Any:
    return load_sample("slack", name)


def test_client_parses_the_samples() -> None:
    [user] = [parse_user(u) for u in sample("users.list.json")["members"]]
    assert (user.id, user.email, role_of(user), user.is_invited_user) == (
        "W012A3CDE", "spengler@ghostbusters.example.com", "admin", False)
    invited = parse_user(sample("users.info-invited.json")["user"])
    assert (invited.is_invited_user, invited.deleted, role_of(invited)) == (True, True, "member")
    assert parse_user(sample("users.lookupByEmail.json")["user"]).real_name == "Egon Spengler"
    assert parse_team(sample("team.info.json")["team"]).domain == "example"
    [channel] = [parse_channel(c) for c in sample("conversations.list.json")["channels"]]
    assert channel.is_general
    [row] = [parse_user(u) for u in sample("admin.users.list.json")["users"]]
    assert row.email == "bront@slack.com" and role_of(row) == "member"


@pytest.mark.parametrize(
    ("name", "error", "code"),
    [
        ("error-invalid_auth.json", AuthError, "invalid_auth"),
        ("error-token_expired.json", AuthError, "token_expired"),
        ("error-not_an_admin.json", PermissionDenied, "not_an_admin"),
        ("error-missing_scope.json", PermissionDenied, "missing_scope"),
        ("error-user_not_found.json", NotFound, "user_not_found"),
        ("error-already_in_team.json", InvalidRequest, "already_in_team"),
        ("error-ratelimited.json", RateLimited, "ratelimited"),
    ],
)
def test_ok_false_in_http_200_maps_to_typed_errors(name: str, error: type[Exception], code: str) -> None:
    caught = classify("slack", "op", httpx.Response(200, json=sample(name)))
    assert isinstance(caught, error) and caught.vendor_code == code


def test_http_429_with_retry_after_is_rate_limited() -> None:
    response = httpx.Response(429, json=sample("error-ratelimited.json"), headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        raise_for_vendor("slack", "list_members", response, classify)
    assert caught.value.retry_after == 30


def test_missing_scope_names_the_scope() -> None:
    caught = classify("slack", "invite", httpx.Response(200, json=sample("error-missing_scope.json")))
    assert caught is not None and "admin.users:write" in str(caught)


def test_success_bodies_are_not_errors() -> None:
    for name in ("users.list.json", "admin.users.invite.json", "auth.test.json"):
        assert classify("slack", "op", httpx.Response(200, json=sample(name))) is None


@pytest.fixture
def api(sandbox: SandboxClient) -> Iterator[httpx.Client]:
    sandbox.seed("slack", {"org": TEAM, "token": TOKEN, "members": [
        {"email": "spengler@example.com", "name": "Egon Spengler", "role": "admin", "status": "active"},
        {"email": "invitee@example.com", "role": "member", "status": "pending"}]})
    with httpx.Client(base_url=f"{sandbox.kind_url('slack')}/api",
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def _id(api: httpx.Client, email: str) -> str:
    return str(api.get("/users.lookupByEmail", params={"email": email}).json()["user"]["id"])


@pytest.mark.parametrize(
    ("method", "args", "name"),
    [
        ("auth.test", {}, "auth.test.json"),
        ("team.info", {"team": TEAM}, "team.info.json"),
        ("users.list", {"team_id": TEAM, "limit": "1"}, "users.list.json"),
        ("users.lookupByEmail", {"email": "spengler@example.com"}, "users.lookupByEmail.json"),
        ("users.lookupByEmail", {"email": "invitee@example.com"}, "users.info-invited.json"),
        ("admin.users.list", {"team_id": TEAM}, "admin.users.list.json"),
        ("conversations.list", {"team_id": TEAM, "types": "public_channel"}, "conversations.list.json"),
        ("admin.users.remove", {"team_id": TEAM, "user_id": "U0NOBODY"}, "error-user_not_found.json"),
        ("admin.users.invite", {"team_id": TEAM, "email": "spengler@example.com", "channel_ids": "C0SAMPLE01GEN"},
         "error-already_in_team.json"),
    ],
)
def test_sandbox_answers_with_the_sample_shape(
    api: httpx.Client, method: str, args: dict[str, str], name: str
) -> None:
    response = api.post(f"/{method}", data=args)
    assert response.status_code == 200
    assert_same_shape(sample(name), response.json())
    if name.startswith("error-"):
        assert response.json() == sample(name)


def test_sandbox_invite_and_set_role_answer_ok(api: httpx.Client) -> None:
    invited = api.post("/admin.users.invite", data={"team_id": TEAM, "email": "new@example.com",
                                                    "channel_ids": "C0SAMPLE01GEN"})
    assert invited.json() == sample("admin.users.invite.json")
    user_id = _id(api, "spengler@example.com")
    assert api.post("/admin.users.setOwner", json={"team_id": TEAM, "user_id": user_id}).json() == {"ok": True}
    assert api.get("/users.info", params={"user": user_id}).json()["user"]["is_owner"] is True


def test_sandbox_auth_errors_are_http_200(sandbox: SandboxClient, api: httpx.Client) -> None:
    wrong = httpx.get(f"{sandbox.kind_url('slack')}/api/users.list", headers={"Authorization": "Bearer xoxp-no"})
    assert (wrong.status_code, wrong.json()) == (200, sample("error-invalid_auth.json"))
    sandbox.faults("slack", expire_tokens=True)
    expired = api.get("/users.list", params={"team_id": TEAM})
    assert (expired.status_code, expired.json()) == (200, sample("error-token_expired.json"))


def test_sandbox_throttles_with_429_and_retry_after(sandbox: SandboxClient, api: httpx.Client) -> None:
    sandbox.faults("slack", rate_limit_every=1, retry_after=7)
    response = api.get("/users.list", params={"team_id": TEAM})
    assert (response.status_code, response.headers["retry-after"]) == (429, "7")
    assert response.json() == sample("error-ratelimited.json")
