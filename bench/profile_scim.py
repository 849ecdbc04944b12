#!/usr/bin/env python3
"""Profile the SCIM hot paths in-process (no network): drive the ASGI app directly and
print a pyinstrument profile (or plain per-request timings with --no-profile).

    .venv/bin/python bench/profile_scim.py [--phase get|create|filter|patch|delete|group_add|group_get] [-n 2000] [-c 16]

pyinstrument sees the event loop's thread only; the SQLite writer thread runs the units of
work. For both, run it under py-spy: ``py-spy record --threads -- python bench/profile_scim.py
--no-profile -c 16``. The CPU figure (all threads) is what bounds throughput on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import orjson

from scim_server.app import create_app
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Driver:
    def __init__(self, app, token: str) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"bench"),
                        (b"content-type", b"application/scim+json")]  # fmt: skip

    async def call(self, method: str, path: str, body: object = None, query: str = "") -> tuple[int, bytes]:
        raw = orjson.dumps(body) if body is not None else b""
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": self.headers, "client": ("127.0.0.1", 1), "server": ("bench", 80)}  # fmt: skip
        out: dict = {"status": 0, "body": b""}

        async def receive() -> dict:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return out["status"], out["body"]


def user(i: int) -> dict:
    """The load client's create body (Okta's shape with the enterprise extension)."""
    name = f"user{i:06d}@bench.example.com"
    return {"schemas": [USER, ENTERPRISE], "userName": name, "externalId": f"00u{i:017d}",
            "name": {"givenName": "Ada", "familyName": "Lovelace"}, "displayName": "Ada Lovelace",
            "emails": [{"primary": True, "value": name, "type": "work"}], "locale": "en-US", "active": True,
            ENTERPRISE: {"department": "Engineering", "employeeNumber": str(100000 + i)}}  # fmt: skip


async def run(phase: str, n: int, profile: bool, concurrency: int = 1, database_url: str | None = None) -> None:
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(database_url=database_url or f"sqlite:///{tmp / 'p.db'}", access_log=False)
    migrate.upgrade(settings.database_url)
    db = Database(settings)
    token = db.write_sync(lambda conn: tenancy.create_token(conn, "default", "scim"))[1]
    app = create_app(settings, database=db)
    db.start()
    d = Driver(app, token)
    ids = []
    creates = n if phase in ("create", "delete") else min(n, 500)
    jobs = {}
    if phase != "create":
        for i in range(creates):
            ids.append(orjson.loads((await d.call("POST", "/scim/v2/Users", user(i)))[1])["id"])
    if phase in ("group_add", "group_get"):
        gid = orjson.loads((await d.call("POST", "/scim/v2/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "members": [{"value": i} for i in ids]}))[1])["id"]  # fmt: skip
    jobs = {
        "create": lambda i: d.call("POST", "/scim/v2/Users", user(i)),
        "get": lambda i: d.call("GET", f"/scim/v2/Users/{ids[i % len(ids)]}"),
        "filter": lambda i: d.call("GET", "/scim/v2/Users", query=f'filter=userName eq "user{i % creates:06d}@bench.example.com"'),
        "patch": lambda i: d.call("PATCH", f"/scim/v2/Users/{ids[i % len(ids)]}", {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        "delete": lambda i: d.call("DELETE", f"/scim/v2/Users/{ids[i]}"),
        "group_get": lambda i: d.call("GET", f"/scim/v2/Groups/{gid}", query="excludedAttributes=members"),
        "group_add": lambda i: d.call("PATCH", f"/scim/v2/Groups/{gid}", {"schemas": [PATCH], "Operations": [{"op": "Remove" if i % 2 else "Add", "path": "members", "value": [{"value": x} for x in ids[:50]]}]}),
    }  # fmt: skip
    job = jobs[phase]
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="enabled")
        profiler.start()
    started = time.perf_counter()
    cpu_started = time.process_time()
    await _drive(job, n, concurrency)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    print(f"{phase}: {n} requests, concurrency {concurrency}, {elapsed / n * 1e6:.0f} us/request, "
          f"{n / elapsed:.0f} req/s, CPU {cpu / n * 1e6:.0f} us/request (in-process, all threads)")  # fmt: skip
    db.close()


async def _drive(job, n: int, concurrency: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` requests, ``concurrency`` at a time (as the load client's connections): writes
    then reach the SQLite writer in batches, as they do under real load."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            status, body = await job(i)
            assert status < 300, body[:300]

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", default="get")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=1, help="requests in flight (the load client uses 16)")
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.phase, args.n, not args.no_profile, args.concurrency, args.database_url))


if __name__ == "__main__":
    main()
