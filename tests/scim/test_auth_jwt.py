"""JWT bearer tokens (as Entra can send), validated with python-jose against a PEM key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from tests.db import database_url
from tests.servers import RunningServer, scim_bridge

ISSUER = "https://sts.windows.net/tenant-1/"
AUDIENCE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"


def _keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip
    return private, public


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return _keys()


@pytest.fixture(scope="module")
def jwt_server(keys: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory: Path = tmp_path_factory.mktemp("jwt")
    (directory / "public.pem").write_text(keys[1])
    with database_url("sqlite", directory) as url, scim_bridge(
        url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_public_key_file=directory / "public.pem"
    ) as running:
        running.token("tenant-1")  # creates the workspace the JWT's tid names
        yield running


def _token(private: str, **claims: object) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "tid": "tenant-1", "sub": "entra-provisioning",
            "iat": now, "nbf": now, "exp": now + 600} | claims  # fmt: skip
    return jwt.encode(body, private, algorithm="RS256")


def test_valid_jwt_reaches_its_workspace(jwt_server: RunningServer, keys: tuple[str, str]) -> None:
    headers = {"Authorization": f"Bearer {_token(keys[0])}"}
    response = httpx.get(jwt_server.scim + "/Users", headers=headers)
    assert response.status_code == 200 and response.json()["totalResults"] == 0


@pytest.mark.parametrize(
    "claims",
    [{"aud": "someone-else"}, {"iss": "https://evil.example/"}, {"exp": int(time.time()) - 10},
     {"tid": "no-such-workspace"}],
    ids=["audience", "issuer", "expired", "unknown-workspace"],
)
def test_bad_jwt_is_401(jwt_server: RunningServer, keys: tuple[str, str], claims: dict) -> None:
    response = httpx.get(jwt_server.scim + "/Users", headers={"Authorization": f"Bearer {_token(keys[0], **claims)}"})
    assert response.status_code == 401
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_jwt_signed_by_another_key_is_401(jwt_server: RunningServer) -> None:
    other_private, _ = _keys()
    response = httpx.get(jwt_server.scim + "/Users", headers={"Authorization": f"Bearer {_token(other_private)}"})
    assert response.status_code == 401
