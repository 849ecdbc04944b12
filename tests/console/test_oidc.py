"""OpenID Connect sign-in (authorization code + PKCE) against the sandbox's OIDC provider, over
real HTTP: an allowed email or group signs in, anyone else is refused, and a tampered state or a
replayed code signs nobody in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.console.conftest import OIDC_ADMIN, OIDC_GROUP, Console, console_server


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server("sqlite", tmp_path_factory.mktemp("oidc")) as running:
        yield running


def _idp_sign_in(console: Console, client: httpx.Client, email: str, groups: str = "") -> httpx.Response:
    """Start at the console, sign in at the IdP's page, come back; returns the callback's answer."""
    start = client.get("/console/oidc/start?next=/console/reports")
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0] and query["nonce"][0]
    with httpx.Client() as idp:
        form_page = idp.get(authorize)
        assert form_page.status_code == 200 and "Email" in form_page.text
        hidden = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form_page.text))
        back = idp.post(authorize.split("?")[0], data=hidden | {"email": email, "groups": groups})
    assert back.status_code == 302
    callback = back.headers["location"]
    assert callback.startswith(f"{console.url}/console/oidc/callback")
    return client.get(callback.removeprefix(console.url))


def test_an_allowed_email_signs_in_and_lands_where_it_started(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        answer = _idp_sign_in(console, client, OIDC_ADMIN)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/reports"
        page = client.get("/console/reports")
        assert page.status_code == 200 and OIDC_ADMIN in page.text


def test_a_member_of_the_allowed_group_signs_in(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        answer = _idp_sign_in(console, client, "someone@example.com", f"staff,{OIDC_GROUP}")
        assert answer.status_code == 303
        assert client.get("/console/apps").status_code == 200


def test_anyone_else_is_refused(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        answer = _idp_sign_in(console, client, "intruder@example.com", "staff")
        assert answer.status_code == 403 and "not an administrator" in answer.text
        assert client.get("/console/apps").status_code == 303


def test_a_forged_state_or_a_replayed_code_signs_nobody_in(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        start = client.get("/console/oidc/start")
        authorize = start.headers["location"]
        with httpx.Client() as idp:
            hidden = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', idp.get(authorize).text))
            back = idp.post(authorize.split("?")[0], data=hidden | {"email": OIDC_ADMIN})
        callback = back.headers["location"].removeprefix(console.url)
        forged = re.sub(r"state=[^&]+", "state=forged", callback)
        assert client.get(forged).status_code == 403
        assert client.get(callback).status_code == 303  # the real answer still works once...
        client.cookies.clear()
        assert client.get(callback).status_code == 403  # ...and never again (no flow, code spent)
