"""Every list pages for real, on SQLite and PostgreSQL: walked page by page with a small limit,
the union is exactly the full set, in the order of one big page, with no duplicates and no gaps;
rows that share a ``created`` timestamp do not fall between pages. A cursor this server did not
issue for that list is a 400 (admin ``invalid_cursor``, SCIM ``invalidCursor``), never a 500; a
PATCH racing its app's DELETE is a 404, never a 500."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, Table, select, update

from connectors.sandbox import SandboxClient
from scim_server import cursor
from scim_server.cursor import MAX_INT, MAX_TEXT
from scim_server.jobs.queue import jobs as jobs_t
from scim_server.services import apps as service_apps
from scim_server.store import tenancy
from scim_server.store.apps import apps as apps_t
from scim_server.store.reports import reports as reports_t
from scim_server.store.rules import rules as rules_t
from tests.admin.helpers import TERMINAL, scim_user, unique, wait_job
from tests.servers import RunningServer
from tests.waiting import wait_for

LIMIT = 2
N = 5  # rows per list: 3 pages of at most LIMIT
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
TIE = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@dataclass
class World:
    """One workspace with N rows in every list, built once per database."""

    server: RunningServer
    admin: httpx.Client
    scim: httpx.Client
    apps: list[str]
    members: dict[str, set[str]]  # state -> emails of app 0's members in that state
    jobs: list[str]  # jobs these steps queued
    app0_jobs: list[str]
    reports: set[str]
    rules: set[str]
    assets: set[str]
    users: set[str]
    groups: set[str]


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, str(response.request.url), response.text)
    return response.json() if response.content else None


def _seed_users(scim: httpx.Client) -> set[str]:
    users = {scim_user(scim, f"match-{i}@example.com") for i in range(N)}
    for i in range(N):  # two active owners of one address: the member is disputed
        for side in "ab":
            body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"dispute-{i}-{side}",
                    "emails": [{"value": f"dispute-{i}@example.com", "primary": True}]}  # fmt: skip
            users.add(_ok(scim.post("/Users", json=body), 201)["id"])
    return users


def _seed_org(sandbox: SandboxClient) -> dict[str, str]:
    org, token = unique("org"), unique("ghp")
    emails = [f"{p}-{i}@example.com" for p in ("match", "other", "exempt", "dispute", "gone") for i in range(N)]
    sandbox.seed("github", {
        "org": org, "token": token,
        "members": [{"email": e, "name": e.split("@")[0], "role": "member", "status": "active"} for e in emails],
        "assets": [{"id": f"asset-{i}", "name": f"asset-{i}", "type": "repository",
                    "grants": [{"email": f"match-{i}@example.com", "permission": "push"}]} for i in range(N)],
    })  # fmt: skip
    return {"org": org, "token": token, "url": sandbox.kind_url("github")}


def _connect(admin: httpx.Client, org: dict[str, str], label: str) -> str:
    body = {"kind": "github", "label": label, "business_id": org["org"], "api_base_url": org["url"],
            "automation_account": {"api_token": org["token"]}}  # fmt: skip
    return str(_ok(admin.post("/apps", json=body), 201)["id"])


def _check(admin: httpx.Client, app_id: str) -> str:
    job_id = str(_ok(admin.post(f"/apps/{app_id}/check"), 202)["job_id"])
    assert wait_job(admin, job_id)["status"] == "completed"
    return job_id


def _emails(admin: httpx.Client, app_id: str, state: str) -> dict[str, str]:
    items = _ok(admin.get(f"/apps/{app_id}/members", params={"state": state, "limit": 500}))["items"]
    return {m["email"]: m["id"] for m in items}


def _ids_if(admin: httpx.Client, path: str, test: Callable[[dict[str, Any]], bool], count: int = 0) -> set[str]:
    """Ids of the list's items when every item passes ``test`` (and there are at least ``count``); else empty."""
    items = _ok(admin.get(path, params={"limit": 500}))["items"]
    return {i["id"] for i in items} if len(items) >= max(count, 1) and all(test(i) for i in items) else set()


def _tie(server: RunningServer, workspace: str, table: Table, count: int = 3) -> None:
    """Give ``count`` of the workspace's rows one shared ``created``: ties that paging must order by id."""

    def unit(conn: Connection) -> None:
        ws = tenancy.workspace_id(conn, workspace)
        ids = list(conn.execute(select(table.c.id).where(table.c.workspace_id == ws).order_by(table.c.id)).scalars())
        conn.execute(update(table).where(table.c.id.in_(ids[:count])).values(created=TIE))

    server.db.write_sync(unit)


def _build(server: RunningServer, sandbox_url: str) -> Iterator[World]:
    workspace = unique("ws-paging")
    headers = {"Authorization": f"Bearer {server.token(workspace, 'admin')}"}
    scim_headers = {"Authorization": f"Bearer {server.token(workspace, 'scim')}"}
    sandbox = SandboxClient(sandbox_url)
    with httpx.Client(base_url=server.url + "/api/v1", headers=headers, timeout=60) as admin, \
         httpx.Client(base_url=server.scim, headers=scim_headers, timeout=60) as scim:  # fmt: skip
        users = _seed_users(scim)
        groups = {_ok(scim.post("/Groups", json={"schemas": [GROUP], "displayName": unique("g")}), 201)["id"]
                  for _ in range(N)}  # fmt: skip
        orgs = [_seed_org(sandbox) for _ in range(N)]  # one business per app: connecting one twice is a 409
        sandbox.close()
        apps = [_connect(admin, org, f"app-{i}") for i, org in enumerate(orgs)]
        jobs = [_check(admin, app_id) for app_id in apps]
        app0 = apps[0]
        for email, member_id in _emails(admin, app0, "unmatched").items():
            if email.startswith("exempt-"):
                _ok(admin.post(f"/apps/{app0}/members/{member_id}/exempt", json={"reason": "agency"}))
            elif email.startswith("gone-"):
                jobs.append(_ok(admin.post(f"/apps/{app0}/members/{member_id}/remove"), 202)["job_id"])
        for job_id in jobs:
            assert wait_job(admin, job_id)["status"] == "completed"
        jobs.append(_check(admin, app0))
        group = next(iter(groups))
        rules = {_ok(admin.post(f"/apps/{app0}/rules", json={"group_id": group}), 201)["id"] for _ in range(N)}
        deactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        match0 = next(iter(_ok(scim.get("/Users", params={"filter": 'userName eq "match-0@example.com"'}))["Resources"]))
        _ok(scim.patch(f"/Users/{match0['id']}", json=deactivate))
        reports = wait_for(lambda: _ids_if(admin, "/reports", lambda r: r["status"] == "pending", N), "a report per app", 60)
        wait_for(lambda: _ids_if(admin, "/jobs", lambda j: j["status"] in TERMINAL), "every job to end", 60)
        for table in (apps_t, jobs_t, reports_t, rules_t):
            _tie(server, workspace, cast(Table, table))
        yield World(
            server=server, admin=admin, scim=scim, apps=apps,
            members={state: set(_emails(admin, app0, state)) for state in ("matched", "unmatched", "exempted",
                                                                            "disputed", "removed")},
            jobs=jobs, app0_jobs=[j for j in jobs if j not in jobs[1:N]],
            reports=reports, rules=rules, assets={f"asset-{i}" for i in range(N)}, users=users, groups=groups,
        )  # fmt: skip


@pytest.fixture(scope="module")
def world(server: RunningServer, vendor_sandbox: str) -> Iterator[World]:
    yield from _build(server, vendor_sandbox)


def walk(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every item of an admin list, LIMIT per page, following ``next_cursor`` to its end."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(100):
        body = _ok(client.get(path, params=(params or {}) | {"limit": LIMIT} | ({"cursor": after} if after else {})))
        assert len(body["items"]) <= LIMIT
        items += body["items"]
        if (after := body["next_cursor"]) is None:
            return items
    raise AssertionError(f"{path} never ended")


def assert_walks(client: httpx.Client, path: str, key: str, expected: set[str], params: dict[str, Any] | None = None) -> None:
    """Paged == one big page (same order), exactly ``expected``, no duplicates, at least 3 pages."""
    paged = [item[key] for item in walk(client, path, params)]
    whole = [item[key] for item in _ok(client.get(path, params=(params or {}) | {"limit": 500}))["items"]]
    assert len(paged) == len(set(paged)), f"{path} {params}: duplicates across pages"
    assert paged == whole, f"{path} {params}: pages differ from one page"
    assert set(paged) == expected, f"{path} {params}: missing {expected - set(paged)}, extra {set(paged) - expected}"
    assert len(paged) > 2 * LIMIT, f"{path} {params}: too few rows for three pages"


def test_apps_page(world: World) -> None:
    assert_walks(world.admin, "/apps", "id", set(world.apps))


@pytest.mark.parametrize("state", ["matched", "unmatched", "exempted", "disputed", "removed", None])
def test_members_page_in_every_state(world: World, state: str | None) -> None:
    if state is None:
        expected = set().union(*(v for k, v in world.members.items() if k != "removed"))
    else:
        expected = world.members[state]
        prefix = {"matched": "match", "unmatched": "other", "exempted": "exempt", "disputed": "dispute", "removed": "gone"}
        assert expected == {f"{prefix[state]}-{i}@example.com" for i in range(N)}
    assert_walks(world.admin, f"/apps/{world.apps[0]}/members", "email", expected, {"state": state} if state else None)


def test_jobs_page_with_and_without_filters(world: World) -> None:
    everything = {j["id"] for j in _ok(world.admin.get("/jobs", params={"limit": 500}))["items"]}
    assert set(world.jobs) <= everything
    assert_walks(world.admin, "/jobs", "id", everything)
    assert_walks(world.admin, "/jobs", "id", everything, {"status": "completed"})
    app0 = {j["id"] for j in _ok(world.admin.get("/jobs", params={"limit": 500, "app_id": world.apps[0]}))["items"]}
    assert set(world.app0_jobs) <= app0
    assert_walks(world.admin, "/jobs", "id", app0, {"app_id": world.apps[0]})
    assert_walks(world.admin, "/jobs", "id", app0, {"app_id": world.apps[0], "status": "completed"})


def test_reports_page(world: World) -> None:
    assert_walks(world.admin, "/reports", "id", world.reports)
    assert_walks(world.admin, "/reports", "id", world.reports, {"status": "pending"})


def test_rules_page(world: World) -> None:
    assert_walks(world.admin, f"/apps/{world.apps[0]}/rules", "id", world.rules)


def test_assets_page(world: World) -> None:
    assert_walks(world.admin, f"/apps/{world.apps[0]}/assets", "id", world.assets)


@pytest.mark.parametrize(("resource", "attribute"), [("Users", "users"), ("Groups", "groups")])
def test_scim_cursor_pages(world: World, resource: str, attribute: str) -> None:
    """RFC 9865: ``cursor`` (empty for the first page) and ``nextCursor`` until it is absent."""
    seen: list[str] = []
    params: dict[str, Any] = {"cursor": "", "count": LIMIT}
    for pages in range(1, 100):
        body = _ok(world.scim.get(f"/{resource}", params=params))
        assert len(body["Resources"]) <= LIMIT
        seen += [r["id"] for r in body["Resources"]]
        if "nextCursor" not in body:
            break
        params = {"cursor": body["nextCursor"], "count": LIMIT}
    expected: set[str] = getattr(world, attribute)
    assert len(seen) == len(set(seen)) and set(seen) == expected and pages >= 3


# -- cursors this server did not issue -------------------------------------------------------------


def forge(*parts: Any) -> str:
    """A cursor in the wire form (base64url of a JSON array: the list's scope, then its position)."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


HUGE = [2**31, 2**63 - 1, 2**63, 2**64, -1, -(2**63)]
GARBAGE = ["zzz", "!!!!", "a", "%%%", b64(b"not json"), b64(b"{}"), b64(b"[]"), b64(b"null"), b64(b"\xff\xfe"),
           b64(b"o:9223372036854775808"), b64(b"o:5"), "A" * 5000, forge("apps"), forge(1, 2)]  # fmt: skip


def _admin_forgeries(scope: str, shape: str) -> list[str]:
    """Cursors no list of ``scope`` issues: garbage, and well-formed ones whose values have the wrong
    count, type or range for its key ((created, id) or (id,))."""
    dt, key = "2024-01-02T03:04:05.678901Z", "00000000-0000-0000-0000-000000000000"
    not_text: list[Any] = [*HUGE, 1.5, True, None, [], {}]
    bad_text = ["\u0000", "x" * 3000]
    if shape == "id":
        return [*GARBAGE, forge(scope, key, key), *(forge(scope, v) for v in [*not_text, *bad_text])]
    bad_times = ["", "x", "2024-01-02T03:04:05", "2024-13-45T00:00:00Z", "2024-01-02", *bad_text]
    return [*GARBAGE, forge(scope, dt), forge(scope, dt, key, key), forge(scope, key, dt),
            *(forge(scope, v, key) for v in [*not_text, *bad_times]),
            *(forge(scope, dt, v) for v in [*not_text, *bad_text])]  # fmt: skip


ADMIN_LISTS = [("/apps", "apps", "created,id"), ("/jobs", "jobs", "created,id"), ("/reports", "reports", "created,id"),
               ("/apps/{app}/rules", "rules", "created,id"), ("/apps/{app}/members", "members", "id"),
               ("/apps/{app}/assets", "assets", "id")]  # fmt: skip


@pytest.fixture
def some_app(admin: httpx.Client, sandbox: SandboxClient) -> str:
    return _connect(admin, _seed_org(sandbox), "forged")


@pytest.mark.parametrize(("path", "scope", "shape"), ADMIN_LISTS)
def test_forged_admin_cursors_are_400(admin: httpx.Client, some_app: str, path: str, scope: str, shape: str) -> None:
    url = path.format(app=some_app)
    for forged in _admin_forgeries(scope, shape):
        response = admin.get(url, params={"cursor": forged, "limit": 2})
        assert response.status_code == 400, (url, forged, response.text)
        assert response.json()["error"]["code"] == "invalid_cursor", (url, forged, response.text)


def test_another_lists_cursor_is_400(admin: httpx.Client, scim_client: httpx.Client, sandbox: SandboxClient,
                                     some_app: str) -> None:
    """Cursors really issued by one list, presented to another: refused, on either face."""
    _connect(admin, _seed_org(sandbox), "second")
    scim_user(scim_client, "one@example.com")
    scim_user(scim_client, "two@example.com")
    issued = {
        "apps": _ok(admin.get("/apps", params={"limit": 1}))["next_cursor"],
        "scim": _ok(scim_client.get("/Users", params={"cursor": "", "count": 1}))["nextCursor"],
    }
    for issuer, issued_cursor in issued.items():
        assert issued_cursor
        for path, scope, _ in ADMIN_LISTS:
            if scope != issuer:
                response = admin.get(path.format(app=some_app), params={"cursor": issued_cursor})
                assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_cursor"), (path, issuer)
    response = scim_client.get("/Users", params={"cursor": issued["apps"]})
    assert (response.status_code, response.json().get("scimType")) == (400, "invalidCursor")


NOT_OFFSETS: list[Any] = [*HUGE, 1.5, True, None, "3", [], "\u0000"]
SCIM_FORGERIES = [*GARBAGE, *(forge("scim", v) for v in NOT_OFFSETS),
                  forge("scim", 1, 2), forge("apps", 1)]  # fmt: skip


@pytest.mark.parametrize("resource", ["Users", "Groups"])
def test_forged_scim_cursors_are_400(scim_client: httpx.Client, resource: str) -> None:
    scim_user(scim_client, "someone@example.com")
    for forged in SCIM_FORGERIES:
        for response in (scim_client.get(f"/{resource}", params={"cursor": forged, "count": 2}),
                         scim_client.post(f"/{resource}/.search", json={
                             "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                             "cursor": forged, "count": 2})):  # fmt: skip
            assert response.status_code == 400, (resource, forged, response.text)
            body = response.json()
            assert body["scimType"] == "invalidCursor" and body["status"] == "400", (resource, forged, body)


# -- PATCH racing DELETE ---------------------------------------------------------------------------


def _race(admin: httpx.Client, app_id: str, body: dict[str, Any]) -> dict[str, int]:
    """PATCH and DELETE the app from two threads released together; their statuses."""
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}

    def fire(method: str) -> None:
        with httpx.Client(base_url=admin.base_url, headers=admin.headers, timeout=60) as own:  # one per thread
            barrier.wait(timeout=10)
            call = own.patch(f"/apps/{app_id}", json=body) if method == "PATCH" else own.delete(f"/apps/{app_id}")
            answers[method] = call.status_code

    threads = [threading.Thread(target=fire, args=(m,)) for m in ("PATCH", "DELETE")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


def test_patch_racing_delete_is_never_a_5xx(admin: httpx.Client, sandbox: SandboxClient) -> None:
    """PATCH and DELETE of one app fired together, many times: each answer is 200, 204 or 404.
    Half the PATCHes carry new credentials, which the app checks over HTTP between reading the
    app and writing it: a wide window for the DELETE to land in."""
    org = _seed_org(sandbox)
    statuses: set[int] = set()
    for round_ in range(12):
        app_id = _connect(admin, org, f"race-{round_}")
        body: dict[str, Any] = {"label": f"renamed-{round_}"}
        if round_ % 2:
            body["automation_account"] = {"api_token": org["token"]}
        answers = _race(admin, app_id, body)
        assert answers["PATCH"] in (200, 404) and answers["DELETE"] in (204, 404), answers
        statuses |= set(answers.values())
        assert admin.get(f"/apps/{app_id}").status_code == 404
    assert 204 in statuses


def test_app_deleted_between_read_and_write_of_patch_is_404(admin: httpx.Client, sandbox: SandboxClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic: the app is deleted (through the API) while the PATCH checks the new credentials."""
    org = _seed_org(sandbox)
    app_id = _connect(admin, org, "doomed")
    real_check = service_apps._checked_account
    deleted: list[int] = []

    async def check_then_delete(*args: Any) -> dict[str, str]:
        values = await real_check(*args)
        async with httpx.AsyncClient(base_url=str(admin.base_url), headers=dict(admin.headers)) as other:
            deleted.append((await other.delete(f"/apps/{app_id}")).status_code)
        return values

    monkeypatch.setattr(service_apps, "_checked_account", check_then_delete)
    response = admin.patch(f"/apps/{app_id}", json={"label": "x", "automation_account": {"api_token": org["token"]}})
    assert deleted == [204]
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


# -- the codec itself --------------------------------------------------------------------------------

texts = st.text(max_size=MAX_TEXT).filter(lambda t: "\x00" not in t)
times = st.datetimes(timezones=st.one_of(st.none(), st.timezones()), allow_imaginary=False)


@given(scope=st.sampled_from(["apps", "jobs", "scim"]), created=times, key=texts, offset=st.integers(0, MAX_INT))
def test_codec_round_trips_typed_positions(scope: str, created: datetime, key: str, offset: int) -> None:
    """What ``encode`` makes, ``decode`` gives back: datetimes as the same instant, aware UTC
    (naive ones are UTC, as SQLite hands them back); and only for the scope and shape it was made for."""
    got = cursor.decode_created_id(scope, cursor.encode(scope, created, key))
    instant = (created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(UTC)  # fold-aware
    assert got == (instant, key) and got[0].tzinfo == UTC
    assert cursor.decode_offset(scope, cursor.encode(scope, offset)) == offset
    with pytest.raises(cursor.InvalidCursor):
        cursor.decode_created_id(scope + "x", cursor.encode(scope, created, key))
    with pytest.raises(cursor.InvalidCursor):
        cursor.decode_offset(scope, cursor.encode(scope, created, key))


@given(st.text(max_size=200))
def test_codec_refuses_any_text_it_did_not_make(text: str) -> None:
    """Arbitrary text is a cursor only if it happens to be a well-formed one: never another error."""
    try:
        offset = cursor.decode_offset("scim", text)
    except cursor.InvalidCursor:
        return
    assert 0 <= offset <= MAX_INT
