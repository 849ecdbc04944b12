"""``serve --demo`` prints every kind's demo business id and the automation accounts the mounted
sandbox accepts; the README's demo table says the same, and every row of it connects through the
admin API (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from connectors.registry import CATALOG
from tests.admin.helpers import wait_job
from tests.serve_process import cli_env, serve

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<kind>[a-z_]+)`(?P<variant>[^|]*)\| (?P<bid>[^|]+) \| `(?P<account>\{.*\})` \|$")


def readme_rows() -> list[dict[str, Any]]:
    """The rows of the README's "Demo credentials" table."""
    text = README.read_text()
    section = text.split("### Demo credentials", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        found = ROW.match(line)
        if found:
            bid = found["bid"].strip()
            rows.append({"kind": found["kind"], "business_id": bid.strip("`") if bid.startswith("`") else None,
                         "automation_account": json.loads(found["account"])})  # fmt: skip
    return rows


def printed_rows(banner: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line.split(": ", 1)[1]) for line in banner if line.startswith("demo ")]


def test_the_readme_demo_table_covers_every_kind() -> None:
    rows = readme_rows()
    assert {r["kind"] for r in rows} == set(CATALOG)
    tiktok = [r["automation_account"] for r in rows if r["kind"] == "tiktok_business"]
    assert {"api_token"} in [set(a) for a in tiktok] and any("username" in a for a in tiktok)


def test_serve_demo_prints_the_readme_credentials_and_each_kind_connects(db_url: str, tmp_path: Path) -> None:
    with serve(cli_env(db_url), tmp_path, "demo", "--demo") as running:
        admin_token = next(line.rsplit(" ", 1)[1] for line in running.banner if line.startswith("Admin API token"))
        printed = printed_rows(running.banner)
        expected = [{k: r[k] for k in ("kind", "business_id", "automation_account")} for r in readme_rows()]
        assert [{k: p[k] for k in ("kind", "business_id", "automation_account")} for p in printed] == expected
        headers = {"Authorization": f"Bearer {admin_token}"}
        with httpx.Client(base_url=running.url + "/api/v1", headers=headers, timeout=120) as admin:
            for n, row in enumerate(printed):
                assert row["api_base_url"] == f"{running.url}/sandbox/{row['kind']}"
                body = {"label": f"demo {n}", **row}
                if body["business_id"] is None:
                    del body["business_id"]
                response = admin.post("/apps", json=body)
                assert response.status_code == 201, (row["kind"], response.text)
                app_id = response.json()["id"]
                check = admin.post(f"/apps/{app_id}/check")
                assert check.status_code == 202, check.text
                job = wait_job(admin, check.json()["job_id"], timeout=120)
                assert job["status"] == "completed", (row["kind"], job)
                listed = admin.get(f"/apps/{app_id}/members", params={"state": "unmatched"}).json()["items"]
                assert "grace.hopper@example.com" in {m["email"] for m in listed}, row["kind"]
                # a business is connected once: the next row (TikTok's other login) connects it again
                assert admin.delete(f"/apps/{app_id}").status_code == 204
    with serve(cli_env(db_url), tmp_path, "again", "--demo") as again:
        assert again.token == "" and not any("token (" in line for line in again.banner)
