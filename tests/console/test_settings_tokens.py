"""Settings -> Tokens over real HTTP: a token created with an expiry is shown once (and when it
expires), works until then, is listed with its expiry afterwards but never shown again; an expiry
the form does not offer creates nothing; an expired token is listed as Expired."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from scim_server.store import tenancy
from tests.console.conftest import Console, console_server, csrf_of


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server("sqlite", tmp_path_factory.mktemp("tokens")) as running:
        yield running


def _tokens(console: Console, workspace: str) -> list[tenancy.TokenRecord]:
    return console.db.read_sync(lambda conn: tenancy.list_tokens(conn, workspace))


def test_create_a_token_with_an_expiry_shown_once(console: Console) -> None:
    _, admin = console.token("tokens")
    client = console.sign_in(admin)
    page = client.get("/console/settings")
    created = client.post("/console/settings/tokens", data={"csrf": csrf_of(page.text), "scope": "scim",
                                                            "label": "Okta", "expires_in_days": "7"})  # fmt: skip
    assert created.status_code == 200, created.text
    token = re.search(r'id="new-token" readonly value="([^"]+)"', created.text)
    assert token and "shown only once" in created.text and "valid until" in created.text
    record = next(t for t in _tokens(console, "tokens") if t.label == "Okta")
    assert record.expires is not None
    assert abs(record.expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)
    scim = httpx.get(f"{console.url}/scim/v2/Users", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert scim.status_code == 200  # it works until it expires
    again = client.get("/console/settings")
    assert token.group(1) not in again.text and record.expires.strftime("%Y-%m-%d %H:%M") in again.text
    client.close()


def test_an_unoffered_expiry_creates_nothing_and_expired_tokens_say_so(console: Console) -> None:
    _, admin = console.token("tokens-bad")
    client = console.sign_in(admin)
    page = client.get("/console/settings")
    before = len(_tokens(console, "tokens-bad"))
    refused = client.post("/console/settings/tokens", data={"csrf": csrf_of(page.text), "scope": "scim",
                                                            "expires_in_days": "-1"}, follow_redirects=True)  # fmt: skip
    assert "Choose when the token expires" in refused.text
    assert len(_tokens(console, "tokens-bad")) == before
    console.db.write_sync(lambda conn: tenancy.create_token(conn, "tokens-bad", "scim", "old",
                                                            datetime.now(UTC) - timedelta(days=1)))  # fmt: skip
    listed = client.get("/console/settings").text
    row = re.search(r"<tr><td>tok_[0-9a-f]+</td><td>scim</td><td>old</td>.*?</tr>", listed, re.DOTALL)
    assert row and "Expired" in row.group(0) and "Revoke" not in row.group(0)
    client.close()
