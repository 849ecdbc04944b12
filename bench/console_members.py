#!/usr/bin/env python3
"""Server time of the console's Members page on a 50,000-member app (issue 11: "a 50,000-member
app stays fast"), on SQLite (default) or PostgreSQL (``--postgres URL`` of an empty database).

Seeds one app with N members through the store (``upsert_members``, as an import does), signs in
to the console, then times, in the same run: the first page of Unmatched users, a page 40,000 deep
(page 801, reached by its cursor: keyset paging on (email, id), as the page's Next link carries
it), the same deep page sorted by name, a search, the sorted-by-name first page, and, as the
reference, the admin API's first members page (``GET /api/v1/apps/{id}/members``). Prints the
median of several runs of each and its ratio to the reference. Loopback only; bounded; stops by
itself. The machine is shared: read the figures as indicative, against the same-run reference.

    .venv/bin/python bench/console_members.py [--members 50000] [--runs 9]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scim_server import cursor
from scim_server.app import create_app
from scim_server.settings import Settings
from scim_server.store import apps as app_store
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database, now
from scim_server.store.members import ImportedMember, search_page, upsert_members
from tests.servers import serve_asgi


def seed(db: Database, count: int) -> tuple[str, str]:
    """(admin token, app id) of a workspace with one GitHub app holding ``count`` members."""
    _, admin = db.write_sync(lambda conn: tenancy.create_token(conn, "default", "admin", "bench"))
    ws = db.read_sync(lambda conn: tenancy.workspace_id(conn, "default"))
    values = {"kind": "github", "label": "Big org", "business_id": "big", "login_method": "sso",
              "account_secret": "-", "account_fields": ["api_token"], "api_base_url": None,
              "deprovision_policy": "report", "schedule": "manual", "mass_removal_count": 10,
              "mass_removal_percent": 20, "automation_remote_id": None, "automation_email": None}  # fmt: skip
    app_id = db.write_sync(lambda conn: app_store.create_app_row(conn, ws, values)).id
    at = now()
    for start in range(0, count, 5000):
        batch = [ImportedMember(f"user-{i:06d}", f"user{i:06d}@example.com", f"user-{i:06d}", f"User {i:06d}",
                                "member", "active") for i in range(start, min(start + 5000, count))]  # fmt: skip
        db.write_sync(lambda conn, b=batch: upsert_members(conn, ws, app_id, b, at))  # type: ignore[misc]
    return admin, app_id


def deep_cursor(db: Database, app_id: str, sort: str, skip: int) -> str:
    """The cursor a Next link carries after ``skip`` rows of Unmatched users sorted on ``sort``
    (read from the store once, outside the timing)."""
    rows = db.read_sync(lambda conn: search_page(conn, app_id, "unmatched", None, sort, None, skip))
    last = rows[-1]
    value = {"email": last.email_ci, "name": last.display_name, "role": last.app_role}[sort] or ""
    return cursor.encode(f"members:{sort}", value, last.id)


def timed(client: httpx.Client, path: str, runs: int, **kwargs: object) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path, **kwargs)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - started)
        assert answer.status_code == 200, (path, answer.status_code)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL database (default: a SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{tmp}/bench.db"
        settings = Settings(database_url=url, access_log=False, run_worker=False,
                            secret_key=Fernet.generate_key().decode())  # fmt: skip
        migrate.upgrade(url)
        db = Database(settings)
        admin, app_id = seed(db, args.members)
        with serve_asgi(create_app(settings, database=db)) as base, httpx.Client(base_url=base, timeout=60) as client:
            page = client.get("/console/sign-in")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            client.post("/console/sign-in", data={"csrf": csrf, "token": admin})
            members = f"/console/apps/{app_id}/members"
            reference = timed(client, f"/api/v1/apps/{app_id}/members?limit=50", args.runs,
                              headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
            cases = {
                "first page (Unmatched users)": f"{members}?state=unmatched",
                "page 801 (40,000 deep)": f"{members}?state=unmatched&page=801&cursor="
                                          f"{deep_cursor(db, app_id, 'email', 40_000)}",
                "page 801 sorted by name": f"{members}?state=unmatched&sort=name&page=801&cursor="
                                           f"{deep_cursor(db, app_id, 'name', 40_000)}",
                "search 'user04999'": f"{members}?state=unmatched&q=user04999",
                "sorted by name": f"{members}?state=unmatched&sort=name",
            }
            print(f"{args.members} members, {'PostgreSQL' if args.postgres else 'SQLite'}, median of {args.runs}")
            print(f"  reference: GET /api/v1/apps/{{id}}/members?limit=50  {reference * 1000:8.1f} ms")
            for name, path in cases.items():
                took = timed(client, path, args.runs)
                print(f"  {name:32s} {took * 1000:8.1f} ms  ({took / reference:.1f}x the reference)")
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
