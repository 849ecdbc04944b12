#!/usr/bin/env python3
"""Audit trail at scale: export of N events as CSV and as JSONL (events/s, peak RSS), and
``verify`` of N events, on SQLite and/or PostgreSQL.

    .venv/bin/python bench/audit_scale.py [--events 1000000] [--db sqlite postgres] [--runs 3] [--code DIR ...]
                                          [--ops csv jsonl ocsf verify]

The trail is built once per database (bulk inserts, then sealed into the chain); each
measurement runs in a fresh child process, so its peak RSS (``ru_maxrss``) is that of the
operation alone; the child also reports its RSS before starting (the import baseline), and the
export is measured at N/10 events too: flat memory means the same peak for both sizes. Medians
over ``--runs``. Goal (issue 12): exports at >= 100,000 events/s with flat memory. On a shared
machine the wall-clock rate says more about the neighbours than the code: the "per CPU-s"
column (events per second of the child's own CPU time, user + system) is the steadier figure;
on SQLite it includes the database engine's work (in-process), on PostgreSQL it does not.

``--code DIR ...`` measures each listed checkout (e.g. a ``git worktree add --detach`` of the
commit before a change, and ``.``) on the same trail, one after the other for each run, so a
before/after shares the machine's load. The trail is built by this checkout's code. On
PostgreSQL the build ends with ``ANALYZE``, as autovacuum would in production (the test
cluster runs without it): without statistics the planner sorted every remaining row for each
chunk of an export.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OPS = ("csv", "jsonl", "ocsf", "verify")
POSTGRES = os.environ.get("SCIM_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _rss_kb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def build(url: str, events: int) -> None:
    from scim_server.audit import chain
    from scim_server.settings import Settings
    from scim_server.store import fastsql, migrate, tenancy
    from scim_server.store.db import Database, now

    migrate.upgrade(url)
    db = Database(Settings(database_url=url))
    ws = db.write_sync(lambda conn: tenancy.ensure_workspace(conn, "bench"))
    actions = ("scim.user.create", "scim.user.patch", "app.member.exempt", "report.apply", "app.member.remove")
    done = 0
    while done < events:
        n = min(20_000, events - done)

        def unit(conn, start=done, n=n):  # type: ignore[no-untyped-def]
            at = fastsql.ts_in(conn.dialect.name, now())
            rows = [{"workspace_id": ws, "at": at, "actor": f"tok_{i % 7:016x}", "action": actions[i % 5],
                     "target_type": "User", "target_id": f"user-{i}", "outcome": "success",
                     "detail": '{"userName":"user' + str(i) + '@example.com"}', "target_display": f"user{i}@example.com",
                     "app_id": None, "changes": '{"title":{"after":"b","before":"a"}}'} for i in range(start, start + n)]  # fmt: skip
            fastsql.executemany(conn, fastsql.INSERT_AUDIT, rows)
            chain.seal_all(conn, ws)

        db.write_sync(unit)
        done += n
    if url.startswith("postgresql"):
        db.write_sync(lambda conn: conn.exec_driver_sql("ANALYZE audit_events"))
    db.close()


def child(op: str, url: str, limit: int | None) -> None:
    """One measurement, printed as JSON: seconds, events, peak and starting RSS (KiB)."""
    from sqlalchemy import select

    from scim_server.audit import chain, service
    from scim_server.audit.events import audit_events
    from scim_server.audit.export import Exporter
    from scim_server.settings import Settings
    from scim_server.store.db import Database
    from scim_server.store.models import Workspace

    tmp = Path(tempfile.mkdtemp())
    settings = Settings(database_url=url, audit_signing_key_file=tmp / "key.pem")
    db = Database(settings)
    table = Workspace.__table__
    ws = db.read_sync(lambda conn: conn.execute(select(table.c.id).where(table.c.name == "bench")).scalar())
    start_rss = _rss_kb()
    t0, cpu0 = time.perf_counter(), time.process_time()
    if op == "verify":
        result = chain.verify(db.read_sync, ws, service.signer_for(settings).jwks())
        assert result.ok, result
        count, size = result.events, 0
    else:
        query = service.sealed_query(ws, service.Filters())
        if limit is not None:
            query = query.where(audit_events.c.seq <= limit)
        exporter = Exporter(op, query)
        size = sum(len(chunk) for chunk in exporter.chunks(db.read_sync))
        count = exporter.count
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "events": count, "bytes": size, "peak_rss_kb": peak,
                      "start_rss_kb": start_rss}))  # fmt: skip
    db.close()


def measure(op: str, url: str, limit: int | None = None, code: Path = ROOT) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", op, "--url", url, "--code", str(code)]
    cmd += ["--limit", str(limit)] if limit else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=code).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--code", nargs="+", type=Path, default=[ROOT], help="checkouts to measure (default: this one)")
    parser.add_argument("--ops", nargs="+", default=list(OPS), choices=OPS, help="what to measure (default: all)")
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(args.code[0].resolve()))  # that checkout's scim_server, not this one's
        child(args.child, args.url, args.limit)
        return
    codes = [code.resolve() for code in args.code]
    for kind in args.db:
        tmp = Path(tempfile.mkdtemp())
        pg_name = None
        if kind == "sqlite":
            url = f"sqlite:///{tmp / 'audit.db'}"
        else:
            pg_name = f"sb_bench_{uuid.uuid4().hex[:8]}"
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                            f'CREATE DATABASE "{pg_name}"'], check=True)  # fmt: skip
            url = POSTGRES.rsplit("/", 1)[0] + "/" + pg_name
        try:
            t0 = time.perf_counter()
            build(url, args.events)
            print(f"\n{kind}: built and sealed {args.events:,} events in {time.perf_counter() - t0:.1f} s", flush=True)
            print(f"{'operation':22s}{'events/s':>12s}{'range':>22s}{'per CPU-s':>12s}{'peak RSS MiB':>14s}"
                  f"{'start RSS MiB':>15s}" + ("  code" if len(codes) > 1 else ""))  # fmt: skip
            small = max(args.events // 10, 1)
            for op, limit in (("csv", None), ("csv", small), ("jsonl", None), ("jsonl", small), ("ocsf", None),
                              ("verify", None)):  # fmt: skip
                if op not in args.ops:
                    continue
                runs: dict[Path, list[dict[str, float]]] = {code: [] for code in codes}
                for _ in range(args.runs):
                    for code in codes:
                        runs[code].append(measure(op, url, limit, code))
                for code, results in runs.items():
                    report(op, results, f"  {code}" if len(codes) > 1 else "")
        finally:
            if pg_name:
                subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                                f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'], check=False)  # fmt: skip


def report(op: str, results: list[dict[str, float]], suffix: str) -> None:
    """One line: median events/s (and the range), per CPU-s, peak and starting RSS."""
    rates = [r["events"] / r["seconds"] for r in results]
    label = f"{op} {results[0]['events']:,}"
    per_cpu = statistics.median(r["events"] / max(r["cpu_seconds"], 1e-9) for r in results)
    print(f"{label:22s}{statistics.median(rates):>12,.0f}{f'{min(rates):,.0f}-{max(rates):,.0f}':>22s}"
          f"{per_cpu:>12,.0f}"
          f"{statistics.median(r['peak_rss_kb'] for r in results) / 1024:>14.1f}"
          f"{statistics.median(r['start_rss_kb'] for r in results) / 1024:>15.1f}{suffix}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
