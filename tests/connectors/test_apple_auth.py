"""App Store Connect auth: ES256 team-key JWTs signed by the connector and verified for real by the
sandbox (signature with the seeded team's public key, kid, iss, aud, exp at most 20 minutes out)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jose import jwt  # type: ignore[import-untyped]

from connectors.apple import AppleClient, AppleConnector
from connectors.apple.auth import AUDIENCE, MAX_LIFETIME, TeamToken
from connectors.base import AutomationAccount, Secret
from connectors.errors import AuthError
from connectors.http import VendorHTTP
from connectors.registry import create_connector
from connectors.sandbox import SandboxClient
from connectors.sandbox.apple import team_credentials, team_key
from tests.contracts import FAST_SETTINGS, collect

TEAM, KEY_ID = "auth-team", "AUTHKEY001"


def _sign(claims: dict[str, Any], *, key_id: str = KEY_ID, signer: str = KEY_ID,
          algorithm: str = "ES256", headers: dict[str, Any] | None = None) -> str:
    secret = team_key(signer).private_pem if algorithm == "ES256" else "shared-secret"
    return str(jwt.encode(claims, secret, algorithm=algorithm, headers={"kid": key_id} | (headers or {})))


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": team_key(KEY_ID).issuer_id, "iat": now, "exp": now + 600, "aud": AUDIENCE}
    return {k: v for k, v in (claims | overrides).items() if v is not None}


# Signed when the test runs, not at collection: a full run can outlast a token's 10 minutes.
CASES: list[tuple[str, Callable[[int], str], int]] = [
    ("valid", lambda now: _sign(_claims()), 200),
    ("expired", lambda now: _sign(_claims(iat=now - 1500, exp=now - 300)), 401),
    ("signed-by-another-key", lambda now: _sign(_claims(), signer="OTHERKEY01"), 401),
    ("unknown-key-id", lambda now: _sign(_claims(), key_id="NOTSEEDED1", signer="NOTSEEDED1"), 401),
    ("wrong-audience", lambda now: _sign(_claims(aud="appstoreconnect-v2")), 401),
    ("wrong-issuer", lambda now: _sign(_claims(iss="57246542-96fe-1a63-e053-0824d011072a")), 401),
    ("lifetime-over-20-minutes", lambda now: _sign(_claims(exp=now + MAX_LIFETIME + 120)), 401),
    ("no-iat-and-exp-too-far", lambda now: _sign(_claims(iat=None, exp=now + MAX_LIFETIME + 3000)), 401),
    ("no-iat-within-20-minutes", lambda now: _sign(_claims(iat=None, exp=now + 900)), 200),
    ("hs256", lambda now: _sign(_claims(), algorithm="HS256"), 401),
    ("not-a-jwt", lambda now: "abc.def.ghi", 401),
]


@pytest.mark.parametrize(("make_token", "status"), [(t, s) for _, t, s in CASES], ids=[c[0] for c in CASES])
def test_sandbox_verifies_the_jwt(sandbox: SandboxClient, make_token: Callable[[int], str], status: int) -> None:
    sandbox.seed("apple", {"org": TEAM, "token": KEY_ID})
    sandbox.seed("apple", {"org": "other-team", "token": "OTHERKEY01"})
    token = make_token(int(time.time()))
    response = httpx.get(f"{sandbox.kind_url('apple')}/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status
    if status == 401:
        assert response.json()["errors"][0]["code"] == "NOT_AUTHORIZED"


def test_team_token_claims_and_refresh_before_expiry() -> None:
    key = team_key(KEY_ID)
    now = [1_700_000_000.0]
    token = TeamToken(Secret(key.private_pem), key.key_id, key.issuer_id, clock=lambda: now[0])
    first = token.bearer()
    assert jwt.get_unverified_header(first) == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}
    claims = jwt.decode(first, key.public_pem, algorithms=["ES256"], audience=AUDIENCE,
                        options={"verify_exp": False})
    assert claims["iss"] == key.issuer_id and 0 < claims["exp"] - claims["iat"] <= MAX_LIFETIME
    now[0] += claims["exp"] - claims["iat"] - token.refresh_margin - 1
    assert token.bearer() == first  # still comfortably valid: reused
    now[0] += 2
    second = token.bearer()  # inside the refresh margin: signed anew
    assert second != first
    assert jwt.get_unverified_claims(second)["iat"] == int(now[0])
    assert KEY_ID in repr(token) and "PRIVATE" not in repr(token)


@pytest.mark.parametrize(("lifetime", "margin"), [(0, 0), (MAX_LIFETIME + 1, 60), (600, 600)])
def test_team_token_rejects_lifetimes_apple_would_refuse(lifetime: int, margin: int) -> None:
    key = team_key(KEY_ID)
    with pytest.raises(ValueError):
        TeamToken(Secret(key.private_pem), KEY_ID, key.issuer_id, lifetime=lifetime, refresh_margin=margin)


async def test_connector_tokens_are_accepted_across_a_refresh(sandbox: SandboxClient) -> None:
    sandbox.seed("apple", {"org": TEAM, "token": KEY_ID,
                           "members": [{"email": "a@example.com", "role": "ADMIN"}]})
    key, now = team_key(KEY_ID), [time.time()]
    token = TeamToken(Secret(key.private_pem), KEY_ID, key.issuer_id, lifetime=300, refresh_margin=30,
                      clock=lambda: now[0])
    connector = _connector(sandbox, token)
    try:
        assert len(await collect(connector.list_members())) == 1
        first = token.bearer()
        now[0] += 280  # the connector's clock reaches the refresh margin
        assert len(await collect(connector.list_members())) == 1
        assert token.bearer() != first
    finally:
        await connector.aclose()


async def test_expired_jwt_is_an_auth_error_at_once(sandbox: SandboxClient) -> None:
    """A token the server sees as expired (the host clock is 30 minutes slow) fails without retries,
    and neither the JWT nor the private key shows in the error."""
    sandbox.seed("apple", {"org": TEAM, "token": KEY_ID})
    key = team_key(KEY_ID)
    token = TeamToken(Secret(key.private_pem), KEY_ID, key.issuer_id, clock=lambda: time.time() - 1800)
    connector = _connector(sandbox, token)
    before = sandbox.fault_stats()["requests"].get("apple", 0)
    try:
        with pytest.raises(AuthError) as caught:
            await collect(connector.list_members())
    finally:
        await connector.aclose()
    assert sandbox.fault_stats()["requests"]["apple"] - before == 1
    text = f"{caught.value} {caught.value!r}"
    assert token.bearer() not in text and "PRIVATE KEY" not in text
    assert caught.value.status == 401


async def test_credentials_never_show(sandbox: SandboxClient) -> None:
    account = team_credentials(KEY_ID)
    assert "PRIVATE" not in repr(account) and account.private_key is not None
    connector = create_connector("apple", account=account, base_url=sandbox.kind_url("apple"),
                                 settings=FAST_SETTINGS)
    try:
        with pytest.raises(AuthError) as caught:  # key not seeded: 401
            await connector.check()
    finally:
        await connector.aclose()
    assert "PRIVATE" not in str(caught.value)


@pytest.mark.parametrize("missing", ["private_key", "key_id", "issuer_id"])
def test_connect_needs_every_key_field(missing: str) -> None:
    fields: dict[str, Any] = {"private_key": team_key(KEY_ID).private_pem, "key_id": KEY_ID, "issuer_id": "x"}
    with pytest.raises(AuthError):
        create_connector("apple", account=AutomationAccount(**{k: v for k, v in fields.items() if k != missing}))


def test_a_key_that_cannot_sign_is_an_auth_error() -> None:
    with pytest.raises(AuthError) as caught:
        TeamToken(Secret("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"), "k", "i").bearer()
    assert "nope" not in str(caught.value)


def _connector(sandbox: SandboxClient, token: TeamToken) -> AppleConnector:
    http = VendorHTTP("apple", sandbox.kind_url("apple"), settings=FAST_SETTINGS)
    return AppleConnector(AppleClient(http, token))
