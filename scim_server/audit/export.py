"""Exports of the trail, streamed at constant memory, each with a signed manifest.

Formats: CSV (every cell that a spreadsheet would run as a formula, starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return, is prefixed with ``'``), JSON Lines (one event a
line with ``seq``, ``hash``, ``prev_hash``), and OCSF 1.1 for SIEMs (Account Change 3001, User
Access Management 3005, Entity Management 3004).

``Exporter`` yields the file as byte chunks, one database chunk of events at a time, hashing
what it yields; ``manifest`` then signs (range, count, SHA-256 and size of the file, the chain
head checkpoint). ``verify_export`` checks a file against its manifest with a JWKS alone: no
database, which is the point (an auditor is handed a file, a manifest and a public key).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Connection, Select

from scim_server.audit.chain import Checkpoint
from scim_server.audit.events import CHUNK, Event, chunk_after
from scim_server.audit.keys import BadSignature, Signer, verify_jws
from scim_server.store.db import iso_utc, now

FORMATS = ("csv", "jsonl", "ocsf")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson", "ocsf": "application/x-ndjson"}
MANIFEST_TYP = "scim-bridge-audit-manifest+jws"
CSV_COLUMNS = ("seq", "time", "actor", "action", "target_type", "target_id", "target_display", "app_id", "outcome",
               "changes", "detail", "prev_hash", "hash")  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str | None) -> str | None:
    """A CSV cell a spreadsheet shows as text: a leading formula character gets a ``'``."""
    return "'" + value if value and value.startswith(_FORMULA_START) else value


def _csv_rows(events: list[Event]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    # seq, time, outcome and the hashes cannot start with a formula character, and changes/detail
    # are JSON objects (``{``): only the free-text cells need the check
    writer.writerows(
        (e.seq, e.time, csv_cell(e.actor), csv_cell(e.action), csv_cell(e.target_type), csv_cell(e.target_id),
         csv_cell(e.target_display), csv_cell(e.app_id), e.outcome, e.changes, e.detail, e.prev_hash, e.hash)
        for e in events
    )  # fmt: skip
    return out.getvalue().encode()


def _fragment(raw: str | None) -> Any:
    return orjson.Fragment(raw) if raw else None


def _jsonl_rows(events: list[Event]) -> bytes:
    return b"".join(orjson.dumps({
        "seq": e.seq, "time": e.time, "actor": e.actor, "action": e.action,
        "target": {"type": e.target_type, "id": e.target_id, "display": e.target_display},
        "app_id": e.app_id, "outcome": e.outcome, "changes": _fragment(e.changes), "detail": _fragment(e.detail),
        "prev_hash": e.prev_hash, "hash": e.hash,
    }) + b"\n" for e in events)  # fmt: skip


# OCSF: which class and activity an action is. Account Change (3001): the account itself; User
# Access Management (3005): privileges granted or revoked; Entity Management (3004): the rest.
_ACCOUNT = {"create": 1, "enable": 2, "password": 3, "disable": 5, "delete": 6, "remove": 6, "invite": 1}
_ACCESS = {"grant": 1, "assign": 1, "roles": 1, "change_role": 1, "revoke": 2, "unassign": 2}
_ENTITY = {"create": 1, "connect": 1, "read": 2, "verify": 2, "export": 2, "check": 2, "replace": 3, "patch": 3,
           "update": 3, "configure": 3, "apply": 3, "match": 3, "exempt": 3, "unexempt": 3, "cancel": 3,
           "request": 3, "delete": 4}  # fmt: skip
_ACCOUNT_TARGETS = {"User", "AppMember"}


def ocsf_class(action: str, target_type: str) -> tuple[int, int, str]:
    """(class_uid, activity_id, class name) for an event."""
    verbs = action.split(".")
    if any(v in _ACCESS for v in verbs) or "asset" in verbs:
        return 3005, next((_ACCESS[v] for v in reversed(verbs) if v in _ACCESS), 99), "User Access Management"
    last = verbs[-1]
    if target_type in _ACCOUNT_TARGETS and (last in _ACCOUNT or (len(verbs) > 1 and verbs[-2] in _ACCOUNT)):
        verb = last if last in _ACCOUNT else verbs[-2]
        return 3001, _ACCOUNT[verb], "Account Change"
    if target_type in _ACCOUNT_TARGETS and last in ("replace", "patch", "update"):
        return 3001, 99, "Account Change"
    return 3004, _ENTITY.get(last, 99), "Entity Management"


def _ocsf(e: Event) -> dict[str, Any]:
    class_uid, activity, name = ocsf_class(e.action, e.target_type)
    target = {"uid": e.target_id, "name": e.target_display, "type": e.target_type}
    body: dict[str, Any] = {
        "category_uid": 3, "category_name": "Identity & Access Management", "class_uid": class_uid,
        "class_name": name, "activity_id": activity, "type_uid": class_uid * 100 + activity,
        "time": int(e.at.timestamp() * 1000), "severity_id": 1,
        "status_id": 1 if e.outcome == "success" else 2, "status": e.outcome.capitalize(),
        "actor": {"user": {"uid": e.actor}}, "message": e.action,
        "metadata": {"version": "1.1.0", "product": {"name": "scim-bridge", "vendor_name": "scim-bridge"},
                     "uid": e.hash, "sequence": e.seq, "log_name": "audit"},
        "unmapped": {"seq": e.seq, "prev_hash": e.prev_hash, "hash": e.hash, "app_id": e.app_id,
                     "changes": _fragment(e.changes), "detail": _fragment(e.detail)},
    }  # fmt: skip
    if class_uid == 3004:
        body["entity"] = target
    else:
        body["user"] = target
    if class_uid == 3005:
        body["privileges"] = [e.action]
    return body


def _ocsf_rows(events: list[Event]) -> bytes:
    return b"".join(orjson.dumps(_ocsf(e)) + b"\n" for e in events)


_ENCODERS: dict[str, Callable[[list[Event]], bytes]] = {"csv": _csv_rows, "jsonl": _jsonl_rows, "ocsf": _ocsf_rows}


@dataclass
class Exporter:
    """The file of ``query``'s events (sealed, in seq order, up to the checkpoint's head)."""

    format: str
    query: Select[Any]
    sha256: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None

    def chunks(self, read: Callable[[Callable[[Connection], list[Event]]], list[Event]],
               limit: int = CHUNK) -> Iterator[bytes]:  # fmt: skip
        """The file in pieces; ``read(fn)`` runs ``fn(conn)``. Memory: one chunk of events."""
        if self.format == "csv":
            yield self._take(("\r\n".join([",".join(CSV_COLUMNS), ""])).encode())
        position: tuple[int, int] | None = None
        while True:
            events = read(partial(chunk_after, query=self.query, position=position, limit=limit))
            if events:
                self.count += len(events)
                self.first_seq = self.first_seq if self.first_seq is not None else events[0].seq
                self.last_seq = events[-1].seq
                yield self._take(_ENCODERS[self.format](events))
            if len(events) < limit:
                return
            position = (events[-1].seq or 0, events[-1].id)

    def _take(self, data: bytes) -> bytes:
        self.sha256.update(data)
        self.size += len(data)
        return data

    def manifest(self, signer: Signer, export_id: str, workspace_id: int, head: Checkpoint | None,
                 filters: dict[str, Any]) -> str:  # fmt: skip
        """The signed manifest (compact JWS) of what ``chunks`` yielded; call after the last chunk."""
        return signer.sign({
            "iss": "scim-bridge", "export_id": export_id, "workspace_id": workspace_id, "format": self.format,
            "filters": filters, "range": {"first_seq": self.first_seq, "last_seq": self.last_seq},
            "count": self.count, "bytes": self.size, "sha256": self.sha256.hexdigest(),
            "chain_head": head.view() if head is not None else None, "created": iso_utc(now()),
        }, MANIFEST_TYP)  # fmt: skip


class ExportMismatch(Exception):
    """The file is not the one the manifest signed, or the manifest is not validly signed."""


def verify_export(file: io.BufferedIOBase | Any, manifest_jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check an export against its manifest with the JWKS alone; returns the manifest's claims.

    The signature must verify, the file's size and SHA-256 must be the signed ones, and a JSONL
    file must hold ``count`` events whose ``prev_hash`` links each to the one before.
    """
    try:
        claims = verify_jws(manifest_jws.strip(), jwks, MANIFEST_TYP)
    except BadSignature as exc:
        raise ExportMismatch(f"the manifest is not validly signed: {exc}") from None
    digest, size, count, prev, seq = hashlib.sha256(), 0, 0, None, None
    pending = b""
    for block in iter(lambda: file.read(1 << 20), b""):
        digest.update(block)
        size += len(block)
        if claims.get("format") == "jsonl":
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            for line in lines:
                event = orjson.loads(line)
                if prev is not None and event.get("prev_hash") != prev:
                    raise ExportMismatch(f"seq {event.get('seq')} does not follow seq {seq} in the file")
                prev, seq, count = event.get("hash"), event.get("seq"), count + 1
    if size != claims.get("bytes") or digest.hexdigest() != claims.get("sha256"):
        raise ExportMismatch("the file's SHA-256 or size differs from the manifest's (the file was changed)")
    if claims.get("format") == "jsonl" and (pending or count != claims.get("count")):
        raise ExportMismatch("the file holds another number of events than the manifest")
    return claims
