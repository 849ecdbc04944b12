"""The console's Audit view over real HTTP, on SQLite and PostgreSQL: filters (action prefix,
outcome, app, time range), cursor paging without overlap, refusal of a malformed filter, the
chain status (verifies, then names the first bad event after a row is edited), and the exports
(CSV with its signed manifest, JSON Lines of the filtered events, OCSF); reading and exporting are
themselves audited. Another workspace's events never show."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Connection

from scim_server.audit import chain
from scim_server.audit.log import append
from scim_server.store import tenancy
from tests.audit.conftest import tamper
from tests.console.conftest import Console, console_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def console(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server(str(request.param), tmp_path_factory.mktemp("audit-view")) as running:
        yield running


def _events(console: Console, workspace: str, count: int, action: str = "test.event") -> None:
    def unit(conn: Connection) -> None:
        ws = tenancy.ensure_workspace(conn, workspace)
        for i in range(count):
            append(conn, ws, "tester", action, "Thing", f"t{i}", "failure" if i == 0 else "success",
                   target_display=f"thing {i}")  # fmt: skip
        chain.seal_all(conn, ws)

    console.db.write_sync(unit)


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr><td>(\d+)</td>", html)


def test_filters_and_cursor_paging(console: Console) -> None:
    _, admin = console.token("audit-a")
    _events(console, "audit-a", 60)
    _events(console, "audit-other", 5, "other.secret")
    client = console.sign_in(admin)
    first = client.get("/console/audit", params={"action": "test.*"})
    assert first.status_code == 200 and "other.secret" not in first.text
    page1 = _rows(first.text)
    assert len(page1) == 50 and "test.event" in first.text
    following = re.search(r'<a href="(/console/audit\?[^"]+)">Next page</a>', first.text)
    assert following
    second = client.get(following.group(1).replace("&amp;", "&"))
    page2 = _rows(second.text)
    assert len(page2) == 10 and not set(page1) & set(page2)
    assert [int(s) for s in page1 + page2] == sorted((int(s) for s in page1 + page2), reverse=True)
    failed = client.get("/console/audit", params={"action": "test.event", "outcome": "failure"})
    assert len(_rows(failed.text)) == 1 and "thing 0" in failed.text
    later = client.get("/console/audit", params={"action": "test.event", "since": "2999-01-01T00:00"})
    assert _rows(later.text) == [] and "No events match" in later.text
    bad = client.get("/console/audit", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since must be an ISO 8601" in bad.text
    reads = client.get("/console/audit", params={"action": "audit.read"})
    assert len(_rows(reads.text)) >= 4  # each earlier look at the trail (the 400 one read nothing) is an event
    client.close()


def test_chain_status_names_the_first_bad_event(console: Console) -> None:
    _, admin = console.token("audit-b")
    _events(console, "audit-b", 8)
    client = console.sign_in(admin)
    good = client.get("/console/audit/chain", headers={"HX-Request": "true", "HX-Target": "chain"})
    assert "The chain verifies" in good.text and "<html" not in good.text
    ws = console.db.read_sync(lambda conn: tenancy.workspace_id(conn, "audit-b"))
    tamper(console.db, "UPDATE audit_events SET actor = 'mallory' WHERE workspace_id = :ws AND seq = 3", ws=ws)
    bad = client.get("/console/audit/chain")
    assert "<html" in bad.text and "does not verify: the first bad event is 3" in bad.text
    client.close()


def test_exports_stream_the_filtered_events_with_a_manifest(console: Console) -> None:
    _, admin = console.token("audit-c")
    _events(console, "audit-c", 12, "export.me")
    client = console.sign_in(admin)
    page = client.get("/console/audit", params={"action": "export.me"})
    link = re.search(r'href="(/console/audit/export\?[^"]*format=csv)"', page.text)
    assert link
    csv_file = client.get(link.group(1).replace("&amp;", "&"))
    assert csv_file.status_code == 200 and csv_file.headers["content-type"].startswith("text/csv")
    lines = csv_file.text.strip().splitlines()
    assert lines[0].startswith("seq,time,actor,action") and len(lines) == 13
    assert all(",export.me," in line for line in lines[1:])
    manifest_url = re.search(r"<([^>]+)>; rel=\"manifest\"", csv_file.headers["link"])
    assert manifest_url
    manifest = httpx.get(f"{console.url}{manifest_url.group(1)}", headers={"Authorization": f"Bearer {admin}"})
    assert manifest.status_code == 200 and manifest.text.count(".") == 2  # a compact JWS
    jsonl = client.get("/console/audit/export", params={"action": "export.me", "format": "jsonl"})
    events = [json.loads(line) for line in jsonl.text.splitlines()]
    assert len(events) == 12 and all(e["action"] == "export.me" and e["hash"] for e in events)
    ocsf = client.get("/console/audit/export", params={"action": "export.me", "format": "ocsf"})
    assert ocsf.status_code == 200 and len(ocsf.text.splitlines()) == 12
    assert client.get("/console/audit/export", params={"format": "xml"}).status_code == 400
    exported = client.get("/console/audit", params={"action": "audit.export"})
    assert len(_rows(exported.text)) == 3  # each export is an event
    client.close()
