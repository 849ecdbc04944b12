"""Members tabs over real HTTP, on SQLite and PostgreSQL: Next links page by cursor through the
whole set once, in order, for each sort (members without an email or a name included); search
narrows with its own count; Download CSV holds the whole tab, formula cells neutralised; a stale
or forged cursor is page 1, never an error page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest

from scim_server.store import apps as app_store
from scim_server.store import tenancy
from scim_server.store.db import now
from scim_server.store.members import ImportedMember, upsert_members
from tests.console.conftest import Console, console_server

COUNT = 120


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def console(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server(str(request.param), tmp_path_factory.mktemp("paging")) as running:
        yield running


def _app(console: Console, workspace: str) -> str:
    ws = console.db.write_sync(lambda conn: tenancy.ensure_workspace(conn, workspace))
    values = {"kind": "github", "label": "Big org", "business_id": f"big-{workspace}", "login_method": "sso",
              "account_secret": "-", "account_fields": ["api_token"], "api_base_url": None,
              "deprovision_policy": "report", "schedule": "manual", "mass_removal_count": 10,
              "mass_removal_percent": 20, "automation_remote_id": None, "automation_email": None}  # fmt: skip
    app_id = console.db.write_sync(lambda conn: app_store.create_app_row(conn, ws, values)).id
    members = [ImportedMember(f"r{i:03d}", None if i % 10 == 0 else f"user{(i * 7) % COUNT:03d}@example.com",
                              f"login{i:03d}", None if i % 15 == 0 else f"Name {(i * 11) % COUNT:03d}", "member",
                              "active") for i in range(COUNT)]  # fmt: skip
    members[5] = ImportedMember("r005", "=cmd@example.com", "login005", "=HYPERLINK(1)", "member", "active")
    console.db.write_sync(lambda conn: upsert_members(conn, ws, app_id, members, now()))
    return app_id


def _walk(client: object, url: str) -> list[str]:
    """Every row's member id, following Next page links to the end."""
    seen: list[str] = []
    while url:
        page = client.get(url)  # type: ignore[attr-defined]
        assert page.status_code == 200, page.text
        seen += re.findall(r'name="member" value="([^"]+)"', page.text)
        found = re.search(r'<a href="(\?[^"]+)">Next page</a>', page.text)
        url = url.split("?")[0] + found.group(1).replace("&amp;", "&") if found else ""
    return seen


def test_next_links_walk_the_whole_set_once_per_sort(console: Console) -> None:
    _, admin = console.token("paging-a")
    app_id = _app(console, "paging-a")
    client = console.sign_in(admin)
    base = f"/console/apps/{app_id}/members"
    for sort in ("email", "name", "role"):
        seen = _walk(client, f"{base}?state=unmatched&sort={sort}")
        assert len(seen) == COUNT and len(set(seen)) == COUNT, sort
    first = client.get(f"{base}?state=unmatched&sort=email").text
    assert "Unmatched users: 120 in all, showing 1–50" in first
    third = re.findall(r'<a href="(\?[^"]+)">Next page</a>', first)
    second = client.get(base + third[0].replace("&amp;", "&")).text
    assert "showing 51–100" in second and "First page" in second
    client.close()


def test_search_csv_and_stale_cursors(console: Console) -> None:
    _, admin = console.token("paging-b")
    app_id = _app(console, "paging-b")
    client = console.sign_in(admin)
    base = f"/console/apps/{app_id}/members"
    searched = client.get(f"{base}?state=unmatched&q=USER00")
    assert "Unmatched users: 9 in all" in searched.text  # user000..user009, less those without an email
    assert len(re.findall(r'name="member" value=', searched.text)) == 9
    wild = client.get(f"{base}?state=unmatched&q=%25")
    assert "Unmatched users: 0 in all" in wild.text  # a LIKE wildcard is a literal
    rows = list(csv.reader(io.StringIO(client.get(f"{base}.csv?state=unmatched&sort=name").text)))
    assert rows[0][:3] == ["name", "email", "username"] and len(rows) == COUNT + 1
    assert ["'=HYPERLINK(1)", "'=cmd@example.com"] == next(r[:2] for r in rows if r[2] == "login005")
    stale = client.get(f"{base}?state=unmatched&cursor=not-a-cursor", follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"].endswith("members?state=unmatched")
    client.close()
