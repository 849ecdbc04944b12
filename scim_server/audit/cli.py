"""``scim-bridge audit ...``: verify the chain, export, check an export, print the JWKS.

    scim-bridge audit verify [--workspace W]                 exit 1 and the first bad seq if broken
    scim-bridge audit export --workspace W --format F --out FILE [--since T] [--until T]
    scim-bridge audit verify-export FILE MANIFEST [--jwks FILE|URL]   needs no database
    scim-bridge audit jwks                                   the public key(s), as served
    scim-bridge audit retention --workspace W [--days N|--forever]   show or set the retention period
    scim-bridge audit expire [--workspace W]                 expire events older than the period now
    scim-bridge audit evidence REPORT_ID --workspace W --out FILE   a report's signed evidence bundle
    scim-bridge audit verify-bundle FILE [--jwks FILE|URL]   check a bundle (needs no database)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from scim_server.settings import Settings


def _load_jwks(source: str | None, settings: Settings) -> dict[str, Any]:
    """The JWKS from a file or URL; without one, the public half of this installation's key."""
    if source is None:
        from scim_server.audit.service import signer_for

        return signer_for(settings).jwks()
    if source.startswith(("http://", "https://")):
        import httpx

        response = httpx.get(source, timeout=30)
        response.raise_for_status()
        data = response.json()
    else:
        data = orjson.loads(Path(source).read_bytes())
    if not isinstance(data, dict):
        raise ValueError("a JWKS is a JSON object with 'keys'")  # noqa: TRY004 (reported as bad input)
    return data


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.audit.service import verify_sync
    from scim_server.store import migrate
    from scim_server.store.db import Database

    migrate.upgrade(settings.database_url)
    db = Database(settings)
    try:
        results = verify_sync(db, settings, args.workspace)
    finally:
        db.close()
    if not results:
        print(f"no workspace {args.workspace!r}" if args.workspace else "no workspaces", file=sys.stderr)
        return 2
    failed = 0
    for name, result in results:
        if result.ok:
            print(f"{name}: ok, {result.events} events, head seq {result.head_seq} {result.head_hash}, "
                  f"{result.checkpoints} checkpoints")  # fmt: skip
        else:
            failed += 1
            print(f"{name}: BROKEN at seq {result.first_bad_seq}: {result.problem}")
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from scim_server.audit import chain, service
    from scim_server.audit.events import audit_events
    from scim_server.audit.export import Exporter
    from scim_server.audit.log import append
    from scim_server.store import migrate
    from scim_server.store.db import Database, new_id
    from scim_server.store.models import Workspace

    migrate.upgrade(settings.database_url)
    filters = service.Filters.parse({"since": args.since, "until": args.until})
    db = Database(settings)
    try:
        table = Workspace.__table__
        ws = db.read_sync(lambda conn: conn.execute(select(table.c.id).where(table.c.name == args.workspace)).scalar())
        if ws is None:
            print(f"no workspace {args.workspace!r}", file=sys.stderr)
            return 2
        signer, export_id = service.signer_for(settings), new_id()

        def start(conn: Any) -> chain.Checkpoint | None:
            append(conn, ws, "cli", "audit.export", "AuditExport", export_id, detail={"format": args.format})
            return chain.checkpoint(conn, signer, ws, "export")

        head = db.write_sync(start)
        query = service.sealed_query(ws, filters).where(audit_events.c.seq <= (head.seq if head else 0))
        exporter = Exporter(args.format, query)
        out = Path(args.out)
        with out.open("wb") as fh:
            for chunk in exporter.chunks(db.read_sync):
                fh.write(chunk)
        manifest_path = Path(args.manifest or f"{out}.manifest.jws")
        manifest_path.write_text(exporter.manifest(signer, export_id, ws, head, filters.view()))
    finally:
        db.close()
    print(f"{exporter.count} events (seq {exporter.first_seq}..{exporter.last_seq}) to {out}; manifest {manifest_path}")
    return 0


def cmd_verify_export(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.audit.export import ExportMismatch, verify_export

    try:
        jwks = _load_jwks(args.jwks, settings)
        with open(args.file, "rb") as fh:
            claims = verify_export(fh, Path(args.manifest).read_text(), jwks)
    except (ExportMismatch, OSError, ValueError) as exc:
        print(f"NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    seqs = claims.get("range") or {}
    print(f"verified: {claims.get('count')} events, seq {seqs.get('first_seq')}..{seqs.get('last_seq')}, "
          f"format {claims.get('format')}, sha256 {claims.get('sha256')}")  # fmt: skip
    return 0


def cmd_jwks(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.audit.service import signer_for

    print(orjson.dumps(signer_for(settings).jwks(), option=orjson.OPT_INDENT_2).decode())
    return 0


def _open(settings: Settings) -> Any:
    from scim_server.store import migrate
    from scim_server.store.db import Database

    migrate.upgrade(settings.database_url)
    return Database(settings)


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.audit import retention

    db = _open(settings)
    try:
        ws = db.read_sync(lambda conn: retention.workspace_id_of(conn, args.workspace))
        if ws is None:
            print(f"no workspace {args.workspace!r}", file=sys.stderr)
            return 2
        if args.days is not None or args.forever:
            try:
                db.write_sync(lambda conn: retention.set_days(conn, ws, "cli", None if args.forever else args.days))
            except retention.BadRetention as exc:
                print(str(exc), file=sys.stderr)
                return 2
        days = db.read_sync(lambda conn: retention.get_days(conn, ws))
        through = db.read_sync(lambda conn: retention.floor(conn, ws))
    finally:
        db.close()
    print(f"{args.workspace}: {'kept for ever' if days is None else f'{days} days'}; expired through seq {through}")
    return 0


def cmd_expire(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from scim_server.audit import retention
    from scim_server.audit.service import signer_for
    from scim_server.store.models import Workspace

    table = Workspace.__table__
    db = _open(settings)
    try:
        query = select(table.c.id, table.c.name).order_by(table.c.name)
        if args.workspace is not None:
            query = query.where(table.c.name == args.workspace)
        found = db.read_sync(lambda conn: conn.execute(query).all())
        for ws, name in found:
            result = retention.expire_sync(db, signer_for(settings), int(ws), "cli")
            print(f"{name}: expired through seq {result.through_seq}, {result.deleted} events deleted")
    finally:
        db.close()
    if not found:
        print(f"no workspace {args.workspace!r}" if args.workspace else "no workspaces", file=sys.stderr)
        return 2
    return 0


def cmd_evidence(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.audit import bundle, retention
    from scim_server.audit.service import signer_for

    db = _open(settings)
    try:
        ws = db.read_sync(lambda conn: retention.workspace_id_of(conn, args.workspace))
        if ws is None:
            print(f"no workspace {args.workspace!r}", file=sys.stderr)
            return 2
        try:
            made = db.write_sync(lambda conn: bundle.build(conn, signer_for(settings), ws, args.report_id, "cli"))
        except bundle.UnknownReport:
            print(f"no report {args.report_id!r} in {args.workspace!r}", file=sys.stderr)
            return 2
    finally:
        db.close()
    Path(args.out).write_bytes(made.data)
    print(f"evidence of report {args.report_id} to {args.out}")
    return 0


def cmd_verify_bundle(args: argparse.Namespace, settings: Settings) -> int:
    from scim_server.audit.bundle import BundleMismatch, verify_bundle

    try:
        claims = verify_bundle(Path(args.file).read_bytes(), _load_jwks(args.jwks, settings))
    except (BundleMismatch, OSError, ValueError) as exc:
        print(f"NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    print(f"verified: report {claims.get('report_id')}, {len(claims.get('files') or {})} files")
    return 0


def register(sub: Any) -> None:
    """Add ``audit`` and its subcommands to the ``scim-bridge`` parser's subparsers."""
    audit = sub.add_parser("audit", help="verify and export the audit trail")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    verify = asub.add_parser("verify", help="recompute the hash chain and its signed checkpoints")
    verify.add_argument("--workspace")
    verify.set_defaults(func=cmd_verify)
    export = asub.add_parser("export", help="write an export and its signed manifest")
    export.add_argument("--workspace", default="default")
    export.add_argument("--format", choices=["csv", "jsonl", "ocsf"], default="jsonl")
    export.add_argument("--since")
    export.add_argument("--until")
    export.add_argument("--out", required=True)
    export.add_argument("--manifest", help="where to write the manifest (default: OUT.manifest.jws)")
    export.set_defaults(func=cmd_export)
    check = asub.add_parser("verify-export", help="check an export against its manifest (no database)")
    check.add_argument("file")
    check.add_argument("manifest")
    check.add_argument("--jwks", help="a JWKS file or URL (default: this installation's key)")
    check.set_defaults(func=cmd_verify_export)
    keep = asub.add_parser("retention", help="show or set how long the workspace keeps its events")
    keep.add_argument("--workspace", default="default")
    keep.add_argument("--days", type=int)
    keep.add_argument("--forever", action="store_true", help="keep events for ever (no expiry)")
    keep.set_defaults(func=cmd_retention)
    expire = asub.add_parser("expire", help="expire events older than the retention period now")
    expire.add_argument("--workspace")
    expire.set_defaults(func=cmd_expire)
    ev = asub.add_parser("evidence", help="write a deprovision report's signed evidence bundle (zip)")
    ev.add_argument("report_id")
    ev.add_argument("--workspace", default="default")
    ev.add_argument("--out", required=True)
    ev.set_defaults(func=cmd_evidence)
    vb = asub.add_parser("verify-bundle", help="check an evidence bundle against its signed manifest (no database)")
    vb.add_argument("file")
    vb.add_argument("--jwks", help="a JWKS file or URL (default: this installation's key)")
    vb.set_defaults(func=cmd_verify_bundle)
    keys = asub.add_parser("jwks", help="print the public keys checkpoints and manifests verify with")
    keys.set_defaults(func=cmd_jwks)
