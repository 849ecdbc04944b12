"""The audit trail over HTTP on both databases: SCIM writes leave events, filters and cursor
paging, verify, exports with signed manifests checked by `verify-export`, refused requests
recorded, and no secret anywhere."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from scim_server.audit.export import ExportMismatch, verify_export
from scim_server.audit.log import append
from scim_server.cli import main as cli_main
from scim_server.store import tenancy
from tests.servers import RunningServer
from tests.waiting import wait_for

PASSWORD = "Tr0ub4dor-&-3-audit-secret"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def clients(server: RunningServer, workspace: str) -> Iterator[dict[str, Any]]:
    scim_token, audit_token = server.token(workspace, "scim"), server.token(workspace, "audit")
    with httpx.Client(base_url=server.scim, headers={"Authorization": f"Bearer {scim_token}"}, timeout=30) as scim, \
         httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {audit_token}"}, timeout=60) as audit:  # fmt: skip
        yield {"scim": scim, "audit": audit, "scim_token": scim_token, "audit_token": audit_token}


def _create_users(scim: httpx.Client, n: int, prefix: str = "user") -> list[str]:
    ids = []
    for i in range(n):
        r = scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": f"{prefix}{i}@example.com",
                                      "password": PASSWORD, "active": True})  # fmt: skip
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def _all(audit: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        r = audit.get("/api/v1/audit", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        if not (cursor := body["next_cursor"]):
            return items


def test_scim_writes_are_listed_filtered_and_paged(clients: dict[str, Any]) -> None:
    scim, audit = clients["scim"], clients["audit"]
    ids = _create_users(scim, 5)
    assert scim.patch(f"/Users/{ids[0]}", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "title", "value": "CFO"}]}).status_code == 200  # fmt: skip
    assert scim.delete(f"/Users/{ids[1]}").status_code == 204
    events = _all(audit, limit=2, action="scim.*")
    assert [e["action"] for e in reversed(events)][:7] == ["scim.user.create"] * 5 + ["scim.user.patch", "scim.user.delete"]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)  # newest first, each once
    one = events[0]
    assert set(one) >= {"seq", "time", "actor", "action", "target", "app_id", "outcome", "changes", "prev_hash", "hash"}
    assert one["target"] == {"type": "User", "id": ids[1], "display": None} or one["target"]["id"] == ids[1]
    assert one["actor"].startswith("tok_") and one["outcome"] == "success"
    assert [e["target"]["id"] for e in _all(audit, target=f"User/{ids[0]}")] == [ids[0], ids[0]]
    assert all(e["action"] == "scim.user.patch" for e in _all(audit, action="scim.user.patch"))
    asc = _all(audit, order="asc", limit=3, action="scim.*")
    assert [e["seq"] for e in asc] == sorted(seqs)
    assert audit.get("/api/v1/audit", params={"since": "yesterday"}).status_code == 400
    assert audit.get("/api/v1/audit", params={"cursor": "not-a-cursor"}).json()["error"]["code"] == "invalid_cursor"
    assert audit.get("/api/v1/audit", params={"outcome": "maybe"}).status_code == 400
    # the reads themselves are in the trail
    assert _all(audit, action="audit.read")


def test_scim_token_cannot_read_and_the_refusal_is_recorded(clients: dict[str, Any]) -> None:
    audit = clients["audit"]
    r = httpx.get(str(audit.base_url) + "/api/v1/audit", headers={"Authorization": f"Bearer {clients['scim_token']}"})
    assert r.status_code == 403
    denied = _all(audit, action="auth.denied")
    assert denied and denied[0]["outcome"] == "denied" and denied[0]["detail"]["path"] == "/api/v1/audit"
    assert clients["scim_token"] not in orjson.dumps(denied).decode()


def test_revoked_token_refusal_is_recorded_in_its_workspace(server: RunningServer, clients: dict[str, Any],
                                                            workspace: str) -> None:  # fmt: skip
    token_id, token = server.db.write_sync(lambda conn: tenancy.create_token(conn, workspace, "scim"))
    server.db.write_sync(lambda conn: tenancy.revoke_token(conn, token_id))
    r = httpx.get(server.scim + "/Users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    failed = _all(clients["audit"], action="auth.failed")
    assert [e["actor"] for e in failed] == [token_id]
    assert token not in orjson.dumps(failed).decode()
    # an unknown token belongs to no workspace: nothing recorded here
    assert httpx.get(server.scim + "/Users", headers={"Authorization": "Bearer sbt_unknown"}).status_code == 401
    assert len(_all(clients["audit"], action="auth.failed")) == 1


def test_verify_endpoint_and_cli(server: RunningServer, clients: dict[str, Any], workspace: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    _create_users(clients["scim"], 3, "v")
    body = clients["audit"].get("/api/v1/audit/verify").json()
    assert body["ok"] is True and body["first_bad_seq"] is None and body["events"] >= 3
    monkeypatch.setenv("SCIM_BRIDGE_DATABASE_URL", server.settings.database_url)
    monkeypatch.setenv("SCIM_BRIDGE_AUDIT_SIGNING_KEY_FILE", str(server.settings.audit_signing_key_file))
    assert cli_main(["audit", "verify", "--workspace", workspace]) == 0
    assert f"{workspace}: ok" in capsys.readouterr().out
    out = tmp_path / "trail.jsonl"
    assert cli_main(["audit", "export", "--workspace", workspace, "--format", "jsonl", "--out", str(out)]) == 0
    assert cli_main(["audit", "verify-export", str(out), f"{out}.manifest.jws"]) == 0
    assert len(out.read_bytes().splitlines()) >= 5  # 3 creates, the read and verify events, the export itself


def test_events_are_sealed_without_a_read(server: RunningServer, clients: dict[str, Any], workspace: str) -> None:
    """The background sealer chains committed events by itself (no API read seals them here)."""
    (uid,) = _create_users(clients["scim"], 1, "sealed")
    query = text("SELECT seq, hash FROM audit_events WHERE target_id = :id")

    def sealed() -> Any:
        row = server.db.read_sync(lambda conn: conn.execute(query, {"id": uid}).first())
        return row if row is not None and row[0] is not None else None

    row = wait_for(sealed, "the event sealed", timeout=60)
    assert len(row[1]) == 64


def _export(audit: httpx.Client, fmt: str) -> tuple[bytes, str]:
    r = audit.get("/api/v1/audit/export", params={"format": fmt})
    assert r.status_code == 200, r.text
    link = re.match(r'<([^>]+)>; rel="manifest"', r.headers["link"])
    assert link
    m = audit.get(link.group(1))
    assert m.status_code == 200 and m.headers["content-type"].startswith("application/jose")
    return r.content, m.text


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "ocsf"])
def test_exports_verify_with_the_public_key_alone(server: RunningServer, clients: dict[str, Any], workspace: str,
                                                  fmt: str, tmp_path: Path) -> None:  # fmt: skip
    _create_users(clients["scim"], 4, f"x{fmt}")
    ws = server.db.read_sync(lambda conn: tenancy.workspace_id(conn, workspace))
    server.db.write_sync(lambda conn: append(conn, ws, "tok_x", "app.member.exempt", "AppMember", "m1",
                                             target_display="=HYPERLINK(\"http://evil\")", detail={"reason": "@SUM(1)"}))  # fmt: skip
    data, manifest = _export(clients["audit"], fmt)
    jwks = httpx.get(server.url + "/.well-known/jwks.json").json()
    claims = verify_export(io.BytesIO(data), manifest, jwks)
    assert claims["format"] == fmt and claims["count"] >= 5 and claims["chain_head"]["seq"] == claims["range"]["last_seq"]
    assert PASSWORD not in data.decode()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        assert len(rows) == claims["count"]
        assert any(r["target_display"] == "'=HYPERLINK(\"http://evil\")" for r in rows)
        assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    elif fmt == "jsonl":
        lines = [orjson.loads(line) for line in data.splitlines()]
        assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(lines))
        assert [x["seq"] for x in lines] == list(range(lines[0]["seq"], lines[0]["seq"] + len(lines)))
    else:
        lines = [orjson.loads(line) for line in data.splitlines()]
        classes = {(x["class_uid"], x["message"]) for x in lines}
        assert (3001, "scim.user.create") in classes and (3004, "app.member.exempt") in classes
        assert all(x["type_uid"] == x["class_uid"] * 100 + x["activity_id"] for x in lines)
    with pytest.raises(ExportMismatch):
        verify_export(io.BytesIO(data.replace(b"scim.user.create", b"scim.user.delete", 1)), manifest, jwks)
    # the CLI, without a database: the file, the manifest and the JWKS (a file, or the URL)
    (tmp_path / "export").write_bytes(data)
    (tmp_path / "manifest.jws").write_text(manifest)
    (tmp_path / "jwks.json").write_bytes(orjson.dumps(jwks))
    args = ["audit", "verify-export", str(tmp_path / "export"), str(tmp_path / "manifest.jws")]
    assert cli_main([*args, "--jwks", str(tmp_path / "jwks.json")]) == 0
    assert cli_main([*args, "--jwks", server.url + "/.well-known/jwks.json"]) == 0
    (tmp_path / "export").write_bytes(data[:-2])
    assert cli_main([*args, "--jwks", str(tmp_path / "jwks.json")]) == 1
    exports = _all(clients["audit"], action="audit.export")
    assert exports and exports[0]["detail"]["format"] == fmt


def test_no_secret_in_events_or_exports(clients: dict[str, Any]) -> None:
    scim, audit = clients["scim"], clients["audit"]
    (uid,) = _create_users(scim, 1, "secret")
    scim.put(f"/Users/{uid}", json={"schemas": [USER_SCHEMA], "userName": "secret0@example.com",
                                    "password": PASSWORD + "2"})  # fmt: skip
    everything = orjson.dumps(_all(audit)).decode()
    assert "scim.user.replace" in everything
    for fmt in ("csv", "jsonl", "ocsf"):
        everything += _export(audit, fmt)[0].decode()
    assert PASSWORD not in everything and clients["scim_token"] not in everything
    assert clients["audit_token"] not in everything
