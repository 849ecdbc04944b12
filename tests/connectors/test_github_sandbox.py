"""The sandbox control endpoints (exact shapes) and scenarios, through the GitHub fake."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from connectors.base import AutomationAccount
from connectors.registry import create_connector
from connectors.sandbox import SandboxClient, create_sandbox_app
from tests.contracts import FAST_SETTINGS, collect


def test_seed_returns_remote_ids_and_state_has_the_documented_shape(sandbox: SandboxClient) -> None:
    response = httpx.post(f"{sandbox.base_url}/_sandbox/github/seed", json={
        "org": "o", "token": "t",
        "members": [{"email": "a@example.com", "name": "A", "role": "admin", "status": "active"},
                    {"email": "b@example.com", "name": "B", "role": "member", "status": "pending"}],
        "assets": [{"id": "repo", "name": "Repo", "type": "repository",
                    "grants": [{"email": "a@example.com", "permission": "push"}]}],
    })
    assert response.status_code == 200
    body = response.json()
    assert body["remote_ids"][0] == "a" and body["remote_ids"][1].startswith("inv:")
    assert sandbox.state("github", "o") == {
        "members": [
            {"remote_id": "a", "email": "a@example.com", "name": "A", "role": "admin", "status": "active"},
            {"remote_id": body["remote_ids"][1], "email": "b@example.com", "name": "B", "role": "member",
             "status": "pending"},
        ],
        "assets": [{"id": "repo", "name": "Repo", "type": "repository",
                    "grants": [{"remote_id": "a", "permission": "push"}]}],
    }


def test_accept_turns_pending_active(sandbox: SandboxClient) -> None:
    sandbox.seed("github", {"org": "o", "members": [{"email": "b.c@example.com", "status": "pending"}]})
    assert sandbox.accept("github", "o", "b.c@example.com") == "b-c"
    [member] = sandbox.state("github", "o")["members"]
    assert (member["remote_id"], member["status"]) == ("b-c", "active")
    missing = httpx.post(f"{sandbox.base_url}/_sandbox/github/accept", json={"org": "o", "email": "x@y.z"})
    assert missing.status_code == 404


@pytest.mark.parametrize("body", [{"members": []}, {"org": "o", "members": [{"email": "a@b.c", "status": "x"}]},
                                  {"org": "o", "assets": [{"id": "r", "grants": [{"email": "nobody@b.c",
                                                                                   "permission": "pull"}]}]}])
def test_bad_seed_is_400(sandbox: SandboxClient, body: dict[str, object]) -> None:
    assert httpx.post(f"{sandbox.base_url}/_sandbox/github/seed", json=body).status_code == 400


def test_unknown_kind_and_missing_org(sandbox: SandboxClient) -> None:
    assert httpx.get(f"{sandbox.base_url}/_sandbox/nope/state?org=o").status_code == 404
    assert httpx.get(f"{sandbox.base_url}/_sandbox/github/state").status_code == 400
    assert sandbox.state("github", "never-seeded") == {"members": [], "assets": []}


async def test_demo_scenario_is_reachable_with_the_documented_token(sandbox: SandboxClient) -> None:
    sandbox.reset("demo")
    connector = create_connector("github", account=AutomationAccount(api_token="demo-token-github"),
                                 base_url=sandbox.kind_url("github"), business_id="acme", settings=FAST_SETTINGS)
    try:
        await connector.check()
        members = await collect(connector.list_members())  # type: ignore[attr-defined]
    finally:
        await connector.aclose()
    assert sorted(m.state for m in members) == ["active"] * 4 + ["pending"] * 2
    assert [m.username for m in members if m.role == "admin"] == ["ada-lovelace"]
    sandbox.reset()
    assert sandbox.state("github", "acme") == {"members": [], "assets": []}


def test_bad_scenario_is_400(sandbox: SandboxClient) -> None:
    assert httpx.post(f"{sandbox.base_url}/_sandbox/reset", json={"scenario": "nope"}).status_code == 400


def test_in_process_access_is_the_same_state() -> None:
    app = create_sandbox_app("demo", kinds=["github"])
    sandbox = app.state.sandbox
    assert sandbox.kinds == ["github"]
    assert len(sandbox.state("github", "acme")["members"]) == 6
    sandbox.reset("empty")
    assert sandbox.state("github", "acme")["members"] == []


async def test_paged_listings_follow_every_change(sandbox: SandboxClient) -> None:
    """The fake filters an org once per change, not once per page: every change (a new member, a
    role, a removal, an accepted invitation) still shows in the next listing, page by page."""
    sandbox.seed("github", {"org": "o", "token": "t", "members": [
        *({"email": f"u{n}@example.com", "role": "member"} for n in range(5)),
        {"email": "p@example.com", "role": "member", "status": "pending"}]})  # fmt: skip
    settings = dataclasses.replace(FAST_SETTINGS, page_size=2)
    connector = create_connector("github", account=AutomationAccount(api_token="t"),
                                 base_url=sandbox.kind_url("github"), business_id="o", settings=settings)  # fmt: skip

    async def listing() -> list[tuple[str, str, str]]:
        return [(m.remote_id, m.role, m.state) for m in await collect(connector.list_members())]  # type: ignore[attr-defined]

    try:
        first = await listing()
        assert [r for r in first if r[2] == "active"] == [(f"u{n}", "member", "active") for n in range(5)]
        await connector.change_role("u3", "admin")  # type: ignore[attr-defined]
        await connector.remove("u1")  # type: ignore[attr-defined]
        sandbox.seed("github", {"org": "o", "members": [{"email": "u9@example.com", "role": "member"}]})
        sandbox.accept("github", "o", "p@example.com")
        assert await listing() == [("u0", "member", "active"), ("u2", "member", "active"), ("u3", "admin", "active"),
                                   ("u4", "member", "active"), ("p", "member", "active"),
                                   ("u9", "member", "active")]  # fmt: skip
    finally:
        await connector.aclose()
