"""TikTok Business Center samples (tests/connectors/samples/tiktok_business, from vendor-apis.md
section 1): the client parses them, the classifier maps the error envelopes, and the sandbox answers
with the same shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    VendorUnavailable,
)
from connectors.sandbox import SandboxClient
from connectors.tiktok_business.client import (
    classify,
    parse_asset,
    parse_business,
    parse_member,
    parse_page_info,
    parse_token_grant,
)
from tests.connectors.shapes import assert_same_shape, load_sample

KIND, BC, TOKEN = "tiktok_business", "7212345678901234567", "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
API = "/open_api/v1.3"
ADVERTISER = "7100000000000000001"


def sample(name: str) -> Any:
    return load_sample(KIND, name)


def test_client_parses_the_samples() -> None:
    bound, pending = (parse_member(row) for row in sample("bc-member-get.json")["data"]["list"])
    assert (bound.user_id, bound.user_role, bound.relation_status, bound.finance_role) == (
        "7012345678901234567", "ADMIN", "BOUND", "MANAGER")
    assert (pending.user_id, pending.user_email, pending.relation_status) == (
        None, "barbara.liskov@example.com", "PENDING")
    info = parse_page_info(sample("bc-member-get.json")["data"]["page_info"])
    assert (info.page, info.page_size, info.total_number, info.total_page) == (1, 20, 2, 1)
    [asset] = [parse_asset(row) for row in sample("bc-asset-get.json")["data"]["list"]]
    assert (asset.asset_id, asset.asset_type, asset.role) == (ADVERTISER, "ADVERTISER", "ANALYST")
    [row] = sample("bc-asset-member-get.json")["data"]["list"]
    assert parse_member(row, "ADVERTISER").asset_role == "OPERATOR"
    [business] = [parse_business(row) for row in sample("bc-get.json")["data"]["list"]]
    assert (business.bc_id, business.user_role) == (BC, "ADMIN")
    grant = parse_token_grant(sample("oauth2-access-token.json")["data"])
    assert grant.access_token.reveal() == TOKEN and grant.scope == ("4", "10", "21")
    assert TOKEN not in repr(grant)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("error-40001-permission-denied.json", PermissionDenied),
        ("error-40002-invalid-param.json", InvalidRequest),
        ("error-40007-not-found.json", NotFound),
        ("error-40100-rate-limited.json", RateLimited),
        ("error-40102-token-expired.json", AuthError),
        ("error-40104-token-missing.json", AuthError),
        ("error-40105-token-invalid.json", AuthError),
        ("error-50002-timeout.json", VendorUnavailable),
    ],
)
def test_error_envelopes_in_http_200_map_to_typed_errors(name: str, error: type[ConnectorError]) -> None:
    body = sample(name)
    found = classify(KIND, "op", httpx.Response(200, json=body))
    assert type(found) is error
    assert found is not None and found.vendor_code == str(body["code"]) and body["message"] in str(found)
    if isinstance(found, RateLimited):
        assert found.retry_after is None  # no Retry-After at TikTok: exponential backoff


@pytest.mark.parametrize("name", ["bc-write-ok.json", "error-40012-no-update.json", "bc-get.json"])
def test_success_envelopes_are_not_errors(name: str) -> None:
    assert classify(KIND, "op", httpx.Response(200, json=sample(name))) is None


@pytest.fixture
def api(sandbox: SandboxClient) -> Iterator[httpx.Client]:
    sandbox.seed(KIND, {
        "org": BC, "token": TOKEN,
        "members": [{"email": "ada.lovelace@example.com", "role": "ADMIN", "status": "active"},
                    {"email": "barbara.liskov@example.com", "role": "STANDARD", "status": "pending"}],
        "assets": [{"id": ADVERTISER, "name": "Acme Ads US", "type": "ADVERTISER",
                    "grants": [{"email": "ada.lovelace@example.com", "permission": "OPERATOR"}]}],
    })
    with httpx.Client(base_url=sandbox.kind_url(KIND) + API, headers={"Access-Token": TOKEN}) as client:
        yield client


def _user_id(api: httpx.Client) -> str:
    return str(api.get("/bc/member/get/", params={"bc_id": BC}).json()["data"]["list"][0]["user_id"])


def test_sandbox_member_rows_have_the_sample_shape(api: httpx.Client) -> None:
    response = api.get("/bc/member/get/", params={"bc_id": BC, "page_size": 20})
    assert response.status_code == 200
    body = response.json()
    assert_same_shape(sample("bc-member-get.json"), body)
    _, pending_sample = sample("bc-member-get.json")["data"]["list"]
    bound, pending = body["data"]["list"]
    assert_same_shape(pending_sample, pending)
    assert "user_id" not in pending and pending["relation_status"] == "PENDING"
    assert bound["user_id"].isdigit() and len(bound["user_id"]) == 19


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/bc/get/", {}, "bc-get.json"),
        ("/bc/asset/get/", {"bc_id": BC, "asset_type": "ADVERTISER",
                            "filtering": json.dumps({"user_email": "ada.lovelace@example.com"})}, "bc-asset-get.json"),
        ("/bc/asset/member/get/", {"bc_id": BC, "asset_type": "ADVERTISER", "asset_id": ADVERTISER},
         "bc-asset-member-get.json"),
        ("/bc/member/get/", {"bc_id": BC, "page_size": 21}, "error-40002-invalid-param.json"),
        ("/bc/member/get/", {"bc_id": "7000000000000000000"}, "error-40001-permission-denied.json"),
    ],
)
def test_sandbox_reads_have_the_sample_shape(api: httpx.Client, path: str, params: dict[str, Any], name: str) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 200
    assert_same_shape(sample(name), response.json())
    assert response.json()["code"] == sample(name)["code"]


def test_sandbox_writes_have_the_sample_shape(api: httpx.Client) -> None:
    user_id = _user_id(api)
    writes = [
        ("/bc/member/invite/", {"bc_id": BC, "emails": ["new@example.com"]}, "bc-write-ok.json"),
        ("/bc/member/update/", {"bc_id": BC, "user_id": user_id, "user_role": "ADMIN"},
         "error-40012-no-update.json"),
        ("/bc/asset/unassign/", {"bc_id": BC, "user_id": user_id, "asset_type": "ADVERTISER",
                                 "asset_id": ADVERTISER}, "bc-write-ok.json"),
        ("/bc/asset/unassign/", {"bc_id": BC, "user_id": user_id, "asset_type": "ADVERTISER",
                                 "asset_id": ADVERTISER}, "error-40007-not-found.json"),
    ]
    for path, body, name in writes:
        response = api.post(path, json=body)
        assert response.status_code == 200
        assert_same_shape(sample(name), response.json())
        assert response.json()["code"] == sample(name)["code"], (path, response.json())


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({}, "error-40104-token-missing.json"),
        ({"Access-Token": f"Bearer {TOKEN}"}, "error-40105-token-invalid.json"),
        ({"Access-Token": "not-a-token"}, "error-40105-token-invalid.json"),
    ],
)
def test_sandbox_auth_errors_are_the_samples(sandbox: SandboxClient, headers: dict[str, str], name: str) -> None:
    sandbox.seed(KIND, {"org": BC, "token": TOKEN})
    response = httpx.get(f"{sandbox.kind_url(KIND)}{API}/bc/member/get/", params={"bc_id": BC}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k != "request_id"} == {
        k: v for k, v in sample(name).items() if k != "request_id"}


@pytest.mark.parametrize(
    ("plan", "name"),
    [
        ({"rate_limit_every": 1}, "error-40100-rate-limited.json"),
        ({"expire_tokens": True}, "error-40102-token-expired.json"),
        ({"error_rate": 1.0, "errors": ["unavailable"], "seed": 1}, "error-50002-timeout.json"),
    ],
)
def test_sandbox_faults_are_answered_the_tiktok_way(
    api: httpx.Client, sandbox: SandboxClient, plan: dict[str, Any], name: str
) -> None:
    sandbox.faults(KIND, **plan)
    responses = [api.get("/bc/member/get/", params={"bc_id": BC}) for _ in range(2)]
    sandbox.clear_faults()
    for response in responses:
        assert response.status_code == 200 and "retry-after" not in response.headers
        assert_same_shape(sample(name), response.json())
    codes = {r.json()["code"] for r in responses}
    assert codes == ({50000, 50002} if "error_rate" in plan else {sample(name)["code"]})
