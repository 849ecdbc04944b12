"""Meta vendor samples (tests/connectors/samples/meta_business, from vendor-apis.md section 2): the
client parses them, the Graph error classifier maps them, and the sandbox answers with their shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.errors import AuthError, NotFound, PermissionDenied, RateLimited, VendorUnavailable
from connectors.meta_business.client import (
    parse_ad_account,
    parse_assigned_user,
    parse_business,
    parse_business_user,
    parse_page,
    parse_role_request,
)
from connectors.meta_business.errors import classify
from connectors.sandbox import SandboxClient
from tests.connectors.shapes import assert_same_shape, load_sample

BIZ, TOKEN = "1234567890123", "sample-token"


def sample(name: str) -> Any:
    return load_sample("meta_business", name)


def test_client_parses_the_samples() -> None:
    assert parse_business(sample("business.json")).name == "Acme Business"
    [user] = [parse_business_user(u) for u in sample("business_users.json")["data"]]
    assert (user.id, user.email, user.role) == ("10158012345678901", "ada.lovelace@example.com", "ADMIN")
    [request] = [parse_role_request(r) for r in sample("pending_users.json")["data"]]
    assert (request.email, request.role, request.status) == ("barbara.liskov@example.com", "EMPLOYEE", "PENDING")
    [account] = [parse_ad_account(a) for a in sample("owned_ad_accounts.json")["data"]]
    assert (account.id, account.account_id) == ("act_1000000001", "1000000001")
    [page] = [parse_page(p) for p in sample("owned_pages.json")["data"]]
    assert page.name == "Acme"
    [assigned] = [parse_assigned_user(a) for a in sample("assigned_users.json")["data"]]
    assert assigned.tasks == ("MANAGE", "ADVERTISE", "ANALYZE")


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("error-190-expired-token.json", 400, AuthError),
        ("error-100-missing-object.json", 400, NotFound),
        ("error-17-throttled.json", 400, RateLimited),
        ("error-2-transient.json", 500, VendorUnavailable),
        ("error-200-permission.json", 403, PermissionDenied),
    ],
)
def test_error_samples_map_to_typed_errors(name: str, status: int, error: type[Exception]) -> None:
    response = httpx.Response(status, json=sample(name))
    caught = classify("meta_business", "op", response)
    assert isinstance(caught, error)
    assert caught.vendor_code == str(sample(name)["error"]["code"])
    assert sample(name)["error"]["message"] in str(caught)


def test_throttle_wait_comes_from_the_business_use_case_header() -> None:
    usage = {BIZ: [{"type": "ads_management", "call_count": 100, "total_cputime": 20, "total_time": 20,
                    "estimated_time_to_regain_access": 3}]}
    response = httpx.Response(400, json=sample("error-17-throttled.json"),
                              headers={"X-Business-Use-Case-Usage": json.dumps(usage)})
    caught = classify("meta_business", "op", response)
    assert isinstance(caught, RateLimited) and caught.retry_after == 180
    unhinted = classify("meta_business", "op", httpx.Response(400, json=sample("error-17-throttled.json")))
    assert isinstance(unhinted, RateLimited) and unhinted.retry_after is None


def test_success_bodies_are_not_errors() -> None:
    assert classify("meta_business", "op", httpx.Response(200, json=sample("success.json"))) is None
    assert classify("meta_business", "op", httpx.Response(200, json=sample("business_users.json"))) is None


@pytest.fixture
def graph(sandbox: SandboxClient) -> Iterator[httpx.Client]:
    sandbox.seed("meta_business", {
        "org": BIZ, "token": TOKEN,
        "members": [{"email": "ada.lovelace@example.com", "role": "ADMIN", "status": "active"},
                    {"email": "barbara.liskov@example.com", "role": "EMPLOYEE", "status": "pending"}],
        "assets": [{"id": "act_1000000001", "name": "Acme Ads", "type": "ad_account",
                    "grants": [{"email": "ada.lovelace@example.com", "permission": "admin"}]},
                   {"id": "109876543210987", "name": "Acme", "type": "page", "grants": []}],
    })
    with httpx.Client(base_url=f"{sandbox.kind_url('meta_business')}/v25.0",
                      params={"access_token": TOKEN}) as client:
        yield client


def _user_id(graph: httpx.Client) -> str:
    return str(graph.get(f"/{BIZ}/business_users").json()["data"][0]["id"])


@pytest.mark.parametrize(
    ("method", "path", "params", "name", "status"),
    [
        ("GET", f"/{BIZ}", {"fields": "id,name"}, "business.json", 200),
        ("GET", f"/{BIZ}/business_users", {"fields": "id,name,email,role,tasks,first_name,last_name,title,business,"
                                           "two_fac_status,pending_email,marked_for_removal,invited_user_type"},
         "business_users.json", 200),
        ("GET", f"/{BIZ}/pending_users", {"fields": "id,email,role,tasks,status,created_time,expiration_time,"
                                          "invite_link,invited_user_type,created_by,updated_time,owner"},
         "pending_users.json", 200),
        ("GET", f"/{BIZ}/owned_ad_accounts", {"fields": "id,account_id,name,account_status"},
         "owned_ad_accounts.json", 200),
        ("GET", f"/{BIZ}/owned_pages", {"fields": "id,name"}, "owned_pages.json", 200),
        ("GET", "/act_1000000001/assigned_users", {"business": BIZ, "fields": "id,name,user_type,tasks"},
         "assigned_users.json", 200),
        ("POST", f"/{BIZ}/business_users", {"email": "new@example.com", "role": "EMPLOYEE"},
         "invitation-created.json", 200),
        ("DELETE", "/2999999999999999", {}, "error-100-missing-object.json", 400),
    ],
)
def test_sandbox_answers_with_the_sample_shape(
    graph: httpx.Client, method: str, path: str, params: dict[str, str], name: str, status: int
) -> None:
    response = graph.request(method, path, params=params)
    assert response.status_code == status, response.text
    assert_same_shape(sample(name), response.json())
    assert "x-app-usage" in response.headers


def test_sandbox_writes_answer_success(graph: httpx.Client) -> None:
    user_id = _user_id(graph)
    response = graph.post(f"/{user_id}", data={"role": "EMPLOYEE"})
    assert response.json() == sample("success.json")
    granted = graph.post("/109876543210987/assigned_users", data={"user": user_id, "tasks": '["ANALYZE"]'})
    assert granted.json() == sample("success.json")


def test_sandbox_requires_business_on_assigned_users(graph: httpx.Client) -> None:
    response = graph.get("/act_1000000001/assigned_users")
    assert response.status_code == 400 and response.json()["error"]["code"] == 100


def test_sandbox_rejects_unknown_fields_and_selects_defaults(graph: httpx.Client) -> None:
    bad = graph.get(f"/{BIZ}/business_users", params={"fields": "id,favourite_colour"})
    assert bad.status_code == 400 and "nonexisting field (favourite_colour)" in bad.json()["error"]["message"]
    default = graph.get(f"/{BIZ}/business_users").json()["data"][0]
    assert set(default) == {"id", "name"}


def test_sandbox_bad_token_and_expired_token_samples(sandbox: SandboxClient, graph: httpx.Client) -> None:
    wrong = httpx.get(f"{sandbox.kind_url('meta_business')}/v25.0/{BIZ}/business_users",
                      params={"access_token": "wrong"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == 190
    sandbox.faults("meta_business", expire_tokens=True)
    expired = graph.get(f"/{BIZ}/business_users")
    assert_same_shape(sample("error-190-expired-token.json"), expired.json())
    assert expired.json()["error"]["error_subcode"] == 463


def test_sandbox_throttles_the_meta_way(sandbox: SandboxClient, graph: httpx.Client) -> None:
    """Codes 4 / 17 / 80004 rotate; the wait is in X-Business-Use-Case-Usage, in minutes."""
    sandbox.faults("meta_business", rate_limit_every=1, retry_after=120)
    responses = [graph.get(f"/{BIZ}/business_users") for _ in range(3)]
    assert {r.json()["error"]["code"] for r in responses} == {4, 17, 80004}
    for response in responses:
        assert_same_shape(sample("error-17-throttled.json"), response.json())
        caught = classify("meta_business", "list_members", response)
        assert isinstance(caught, RateLimited) and caught.retry_after == 120
        assert "retry-after" not in response.headers
