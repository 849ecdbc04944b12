"""The deprovision evidence bundle over HTTP on both databases: a report applied for real against
the sandbox yields a zip whose files tell scope, access before, decision, job, verification and
access after, signed so that the JWKS alone checks it; a changed file is caught."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from connectors.sandbox import SandboxClient
from scim_server.audit.bundle import BundleMismatch, verify_bundle
from scim_server.cli import main as cli_main
from tests.admin.conftest import admin, github, sandbox, scim_client  # noqa: F401  (fixtures)
from tests.admin.helpers import check, connect, members, scim_user, wait_job
from tests.admin.test_deprovision import deactivate, pending_entries
from tests.servers import RunningServer
from tests.waiting import wait_for


def test_evidence_bundle_of_an_applied_report(server: RunningServer, admin: httpx.Client, sandbox: SandboxClient,  # noqa: F811
                                              github: dict[str, Any], scim_client: httpx.Client,  # noqa: F811
                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    ada = scim_user(scim_client, "ada@example.com")
    app_id = connect(admin, sandbox, github, policy="report")
    check(admin, app_id)
    member = members(admin, app_id, "matched")["ada@example.com"]
    deactivate(scim_client, ada)
    entry = next(iter(wait_for(lambda: pending_entries(admin, app_id)).values()))
    report_id = entry["report_id"]
    applied = admin.post(f"/reports/{report_id}/apply")
    assert applied.status_code == 202
    assert wait_job(admin, applied.json()["job_id"])["status"] == "completed"

    response = admin.get(f"/audit/evidence/{report_id}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    jwks = httpx.get(server.url + "/.well-known/jwks.json").json()
    claims = verify_bundle(response.content, jwks)
    assert claims["report_id"] == report_id and claims["chain_head"]["seq"] > 0
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    files = {name: orjson.loads(archive.read(name)) for name in archive.namelist() if name.endswith(".json")}
    assert files["report.json"]["status"] == "applied" and files["report.json"]["app"]["id"] == app_id
    assert [s["member_id"] for s in files["scope.json"]] == [member["id"]]
    assert files["scope.json"][0]["reason"] == "deactivated"
    before = files["access_before.json"]["accounts"][member["id"]]
    assert (before["account_email"], before["state"], before["app_role"]) == ("ada@example.com", "matched", member["app_role"])
    assert files["decisions.json"][0]["status"] == "removed" and files["decisions.json"][0]["decision"] == "remove"
    assert files["jobs.json"][0]["status"] == "completed" and files["jobs.json"][0]["kind"] == "apply_report"
    removals = files["verification.json"]["events"]
    assert [(e["action"], e["target"]["id"], e["outcome"]) for e in removals] == [
        ("app.member.remove", member["id"], "success")]
    assert files["access_after.json"]["accounts"] == {member["id"]: None}  # gone, with its assets

    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_bytes(orjson.dumps(jwks))
    good, bad = tmp_path / "bundle.zip", tmp_path / "changed.zip"
    good.write_bytes(response.content)
    assert cli_main(["audit", "verify-bundle", str(good), "--jwks", str(jwks_file)]) == 0
    with zipfile.ZipFile(bad, "w") as out:
        for name in archive.namelist():
            data = archive.read(name)
            out.writestr(name, data.replace(b'"removed"', b'"failed"') if name == "decisions.json" else data)
    with pytest.raises(BundleMismatch, match="decisions.json was changed"):
        verify_bundle(bad.read_bytes(), jwks)
    assert cli_main(["audit", "verify-bundle", str(bad), "--jwks", str(jwks_file)]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().err

    assert admin.get("/audit/evidence/nope").status_code == 404
    other = server.token("another-" + app_id[:8], "admin")
    assert httpx.get(f"{server.url}/api/v1/audit/evidence/{report_id}",
                     headers={"Authorization": f"Bearer {other}"}).status_code == 404  # fmt: skip
    reads = admin.get("/audit", params={"action": "report.evidence"}).json()["items"]
    assert [e["target"]["id"] for e in reads] == [report_id]
