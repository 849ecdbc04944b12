"""The deprovision evidence bundle of one report: a zip an auditor can check with the JWKS alone.

Files (JSON): ``report.json`` (the report and its app), ``scope.json`` (the accounts it was
about, as reported), ``access_before.json`` (their access when the report was applied, replayed
from the access history), ``decisions.json`` (each entry's decision, reason, who and when, and
its outcome), ``jobs.json`` (the apply job: status, result, error, attempts), ``verification.json``
(the trail's events of the removals, recorded only after the re-read that verified them, or as
failures naming what was still present; with their ``seq`` and ``hash``), ``access_after.json``
(their access now). ``manifest.jws`` signs the SHA-256 of every file, the report and the chain
head checkpoint (``verify_bundle``; ``scim-bridge audit verify-bundle``).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, select

from scim_server.audit import chain, history
from scim_server.audit.access import AppRef
from scim_server.audit.events import COLUMNS, Event, audit_events
from scim_server.audit.keys import BadSignature, Signer, verify_jws
from scim_server.audit.log import append
from scim_server.store.app_models import App, DeprovisionEntry, DeprovisionReport, Job
from scim_server.store.db import iso_utc, now
from scim_server.store.fastsql import ts_out

BUNDLE_TYP = "scim-bridge-evidence+jws"
FILES = ("report.json", "scope.json", "access_before.json", "decisions.json", "jobs.json", "verification.json",
         "access_after.json")  # fmt: skip
reports, entries, jobs, apps = DeprovisionReport.__table__, DeprovisionEntry.__table__, Job.__table__, App.__table__
c = audit_events.c


class UnknownReport(LookupError):
    pass


class BundleMismatch(Exception):
    """The archive is not the one the manifest signed, or the manifest is not validly signed."""


@dataclass(frozen=True, slots=True)
class Bundle:
    report_id: str
    data: bytes  # the zip

    @property
    def filename(self) -> str:
        return f"evidence-{self.report_id}.zip"


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str)


def _when(value: Any) -> str | None:
    return iso_utc(ts_out(value)) if value is not None else None


def _collect(conn: Connection, ws: int, report: Any) -> dict[str, Any]:
    app_row = conn.execute(select(apps.c.id, apps.c.label, apps.c.kind).where(apps.c.id == report.app_id)).one()
    app = AppRef(str(app_row.id), str(app_row.label))
    rows = conn.execute(select(entries).where(entries.c.report_id == report.id).order_by(entries.c.created, entries.c.id)).all()
    ids = [r.member_id for r in rows]
    applied = ts_out(report.applied) if report.applied is not None else now()
    job = conn.execute(select(jobs).where(jobs.c.id == report.job_id)).first() if report.job_id else None
    actors = [f"job:{report.job_id}"] if report.job_id else []
    events = [Event.from_row(r).view() for r in conn.execute(
        select(*COLUMNS).where(c.workspace_id == ws, c.seq.is_not(None), c.action == "app.member.remove",
                               c.actor.in_(actors), c.target_id.in_(ids)).order_by(c.seq))]  # fmt: skip
    return {
        "report.json": {"id": report.id, "status": report.status, "held_reason": report.held_reason,
                        "created": _when(report.created), "applied": _when(report.applied),
                        "applied_by": report.applied_by, "job_id": report.job_id,
                        "app": {"id": app.id, "label": app.label, "kind": app_row.kind}},
        "scope.json": [{"entry_id": r.id, "member_id": r.member_id, "user_id": r.user_id, "reason": r.reason,
                        "email": r.email, "display_name": r.display_name, "app_role": r.app_role,
                        "assets": orjson.loads(r.assets) if r.assets else [], "reported": _when(r.created)}
                       for r in rows],
        "access_before.json": {"at": iso_utc(applied), "accounts": history.accounts_at(conn, app, ids, applied)},
        "decisions.json": [{"member_id": r.member_id, "decision": r.decision, "reason": r.decision_reason,
                            "decided_by": r.decided_by, "decided_at": _when(r.decided_at), "status": r.status,
                            "error": r.error, "updated": _when(r.updated)} for r in rows],
        "jobs.json": [] if job is None else [{
            "id": job.id, "kind": job.kind, "status": job.status, "attempts": job.attempts,
            "result": orjson.loads(job.result) if job.result else None, "error": job.error,
            "created_by": job.created_by}],
        "verification.json": {"note": "a removal is recorded (outcome success) only after a re-read of the app no "
                                      "longer lists the account; outcome failure names what was still present",
                              "events": events},
        "access_after.json": {"at": iso_utc(now()), "accounts": history.accounts_at(conn, app, ids, now())},
    }  # fmt: skip


def build(conn: Connection, signer: Signer, ws: int, report_id: str, actor: str) -> Bundle:
    """The signed bundle of ``report_id`` (in ``conn``'s transaction: the read is recorded and the
    chain head signed first, so the bundle names a head that includes its own event)."""
    report = conn.execute(select(reports).where(reports.c.id == report_id, reports.c.workspace_id == ws)).first()
    if report is None:
        raise UnknownReport(report_id)
    append(conn, ws, actor, "report.evidence", "DeprovisionReport", report_id, app_id=report.app_id)
    head = chain.checkpoint(conn, signer, ws, "export")
    files = {name: _json(value) for name, value in _collect(conn, ws, report).items()}
    manifest = signer.sign({
        "iss": "scim-bridge", "workspace_id": ws, "report_id": report_id, "created": iso_utc(now()),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "chain_head": head.view() if head is not None else None}, BUNDLE_TYP)  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("manifest.jws", manifest)
    return Bundle(report_id, out.getvalue())


def verify_bundle(data: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check a bundle with the JWKS alone; returns the manifest's claims. Every file must be the
    one signed, none missing and none added."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        claims = verify_jws(archive.read("manifest.jws").decode(), jwks, BUNDLE_TYP)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise BundleMismatch(f"not an evidence bundle ({type(exc).__name__})") from None
    except BadSignature as exc:
        raise BundleMismatch(f"the manifest is not validly signed: {exc}") from None
    signed = claims.get("files") or {}
    if names - {"manifest.jws"} != set(signed):
        raise BundleMismatch("the archive holds other files than the manifest signed")
    for name, digest in signed.items():
        if hashlib.sha256(archive.read(name)).hexdigest() != digest:
            raise BundleMismatch(f"{name} was changed (its SHA-256 differs from the manifest's)")
    return claims
