"""Checks for updates write what changed, and only that (the set-based import, the permission
difference and the batched report entries), on both databases: a first check reports every
departed member once with one notification naming them all; a second check with nothing
changed writes no access history; a third after churn in the app (a member gone, one new, a
role changed, a grant added, changed and revoked) leaves exactly the app's permissions, one
history row per real change, and a point-in-time review between the checks that still answers
the access that held then."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from sqlalchemy import text

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, members, scim_user, unique
from tests.admin.test_deprovision import deactivate, pending_entries
from tests.servers import RunningServer

PEOPLE = [f"p{n}@example.com" for n in range(12)]  # p0..p9 in the directory, p10 and p11 outsiders


def _seed(sandbox: SandboxClient) -> dict[str, Any]:
    org, token = unique("org"), unique("ghp")
    sandbox.seed("github", {
        "org": org, "token": token,
        "members": [{"email": e, "name": e.split("@")[0], "role": "admin" if n == 0 else "member", "status": "active"}
                    for n, e in enumerate(PEOPLE)],
        "assets": [{"id": "repo-1", "name": "repo-1", "type": "repository",
                    "grants": [{"email": PEOPLE[n], "permission": "push"} for n in (1, 3, 5, 7)]},
                   {"id": "repo-2", "name": "repo-2", "type": "repository",
                    "grants": [{"email": PEOPLE[n], "permission": "pull"} for n in (2, 3, 10)]}],
    })  # fmt: skip
    return {"org": org, "token": token}


def _github(sandbox: SandboxClient, app: dict[str, Any], method: str, path: str, body: Any = None) -> None:
    """A change made in the app by hand, through the vendor's API (the sandbox's GitHub)."""
    response = httpx.request(method, sandbox.kind_url("github") + path, json=body,
                             headers={"Authorization": f"Bearer {app['token']}"})  # fmt: skip
    assert response.status_code < 300, response.text


def _vendor_grants(sandbox: SandboxClient, org: str) -> set[tuple[str, str, str]]:
    state = sandbox.state("github", org)
    return {(a["id"], g["remote_id"], g["permission"]) for a in state["assets"] for g in a["grants"]}


def _rows(server: RunningServer, sql: str, app_id: str) -> list[Any]:
    return server.db.read_sync(lambda conn: list(conn.execute(text(sql), {"a": app_id}).all()))


def _history(server: RunningServer, app_id: str) -> tuple[list[Any], list[Any]]:
    members_h = _rows(server, "SELECT member_id, app_role, state FROM member_history WHERE app_id = :a ORDER BY id", app_id)
    perms_h = _rows(server, "SELECT asset_id, remote_id, permission FROM permission_history WHERE app_id = :a "
                            "ORDER BY id", app_id)  # fmt: skip
    return members_h, perms_h


def _review(admin: httpx.Client, app_id: str, at: str | None = None) -> tuple[str, dict[str, list[str]]]:
    """The access review's instant and each account's grants."""
    response = admin.get("/access", params={"app_id": app_id} | ({"at": at} if at else {}))
    assert response.status_code == 200, response.text
    return response.json()["at"], {row["account_id"]: sorted(row["assets"]) for row in response.json()["items"]}


def test_checks_write_only_what_changed(server: RunningServer, admin: httpx.Client, sandbox: SandboxClient,
                                        scim_client: httpx.Client) -> None:  # fmt: skip
    app = _seed(sandbox)
    users = {e: scim_user(scim_client, e) for e in PEOPLE[:10]}
    for e in PEOPLE[4:7]:  # departed before the first check: reported by it, each once
        deactivate(scim_client, users[e])
    app_id = connect(admin, sandbox, app, policy="report")

    check(admin, app_id)
    matched = members(admin, app_id, "matched")
    departed = {matched[e]["id"] for e in PEOPLE[4:7]}
    assert set(pending_entries(admin, app_id)) == departed
    entries = _rows(server, "SELECT member_id, status FROM deprovision_entries WHERE app_id = :a", app_id)
    assert sorted(entries) == sorted((m, "pending") for m in departed)
    notes = _rows(server, "SELECT e.kind, e.data FROM notify_events e JOIN deprovision_reports r "
                          "ON e.dedupe_key = 'report:' || r.id WHERE r.app_id = :a", app_id)  # fmt: skip
    assert len(notes) == 1 and notes[0][0] == "report.opened"
    named = orjson.loads(notes[0][1])
    assert {p["member_id"] for p in named["people"]} == departed and named.get("people_total", 3) == 3
    stored = set(_rows(server, "SELECT asset_id, remote_id, permission FROM app_permissions WHERE app_id = :a", app_id))
    assert stored == _vendor_grants(sandbox, app["org"])
    _, first_review = _review(admin, app_id)
    history = _history(server, app_id)
    assert sorted(history[1]) == sorted(stored)  # one row per grant: the first import's

    check(admin, app_id)  # nothing changed in the app or the directory: no access history written
    assert _history(server, app_id) == history
    assert set(pending_entries(admin, app_id)) == departed
    between, review = _review(admin, app_id)
    assert review == first_review

    org, logins = app["org"], {m["email"]: m["remote_id"] for m in sandbox.state("github", app["org"])["members"]}
    _github(sandbox, app, "DELETE", f"/orgs/{org}/members/{logins[PEOPLE[3]]}")  # gone, with its two grants
    _github(sandbox, app, "PUT", f"/orgs/{org}/memberships/{logins[PEOPLE[8]]}", {"role": "admin"})
    _github(sandbox, app, "PUT", f"/repos/{org}/repo-1/collaborators/{logins[PEOPLE[1]]}", {"permission": "admin"})
    _github(sandbox, app, "PUT", f"/repos/{org}/repo-2/collaborators/{logins[PEOPLE[9]]}", {"permission": "pull"})
    _github(sandbox, app, "DELETE", f"/repos/{org}/repo-2/collaborators/{logins[PEOPLE[10]]}")
    sandbox.seed("github", {"org": org, "members": [{"email": "p12@example.com", "name": "p12", "role": "member"}]})

    check(admin, app_id)
    stored = set(_rows(server, "SELECT asset_id, remote_id, permission FROM app_permissions WHERE app_id = :a", app_id))
    assert stored == _vendor_grants(sandbox, org)
    members_after, perms_after = _history(server, app_id)
    assert perms_after[: len(history[1])] == history[1]
    new_perm_rows = perms_after[len(history[1]) :]
    p1, p3, p9, p10 = (logins[PEOPLE[n]] for n in (1, 3, 9, 10))
    assert sorted(new_perm_rows, key=str) == sorted([
        ("repo-1", p3, None), ("repo-2", p3, None),  # the member that left
        ("repo-1", p1, None), ("repo-1", p1, "admin"),  # a changed permission: the old one ends, the new starts
        ("repo-2", p9, "pull"), ("repo-2", p10, None),
    ], key=str)  # fmt: skip
    changed_members = {row[0] for row in members_after[len(history[0]) :]}  # left, re-roled, new: nobody else
    assert changed_members == {matched[PEOPLE[3]]["id"], matched[PEOPLE[8]]["id"],
                               members(admin, app_id, "unmatched")["p12@example.com"]["id"]}  # fmt: skip

    # the review between the second and third checks still shows the access that held then
    assert _review(admin, app_id, between)[1] == first_review
    assert _review(admin, app_id)[1] != first_review
