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

import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Select

from scim_server.audit.chain import Checkpoint
from scim_server.audit.events import CHUNK, ReadRows, Row, row_chunks, time_texts
from scim_server.audit.keys import BadSignature, Signer, verify_jws
from scim_server.store.db import iso_utc, now
from scim_server.store.fastsql import ts_out

FORMATS = ("csv", "jsonl", "ocsf")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson", "ocsf": "application/x-ndjson"}
MANIFEST_TYP = "scim-bridge-audit-manifest+jws"
CSV_COLUMNS = ("seq", "time", "actor", "action", "target_type", "target_id", "target_display", "app_id", "outcome",
               "changes", "detail", "prev_hash", "hash")  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str | None) -> str | None:
    """A CSV cell a spreadsheet shows as text: a leading formula character gets a ``'``."""
    return "'" + value if value and value.startswith(_FORMULA_START) else value


# csv.writer (QUOTE_MINIMAL, ``"\r\n"`` line ends) quotes a cell holding one of these, doubling its quotes
_QUOTE_CHARS = (",", '"', "\r", "\n")
_SEP = "\x00"
_FORMULA_AFTER_SEP = tuple(_SEP + ch for ch in _FORMULA_START)
# ROW positions of the free-text cells (actor .. app_id): seq, time, outcome and the hashes cannot
# start with a formula character, and changes/detail are JSON objects (``{``)
_FREE_TEXT = range(2, 8)


def _csv_column(values: Sequence[Any], free_text: bool) -> Sequence[str]:
    """One column of a chunk as csv.writer writes its cells (None as empty, ``str`` of the rest,
    quoted where needed), with ``csv_cell``'s escape if ``free_text``. The checks run once over
    the column joined: most columns need neither escape nor quotes, and then no cell is visited."""
    cells: Sequence[str] = values
    try:
        joined = _SEP.join(values)
    except TypeError:  # a None, or a value that is not text (``seq``)
        cells = ["" if v is None else str(v) for v in values]
        joined = _SEP.join(cells)
    if free_text and _formula_cell(joined):
        cells = ["'" + v if v.startswith(_FORMULA_START) else v for v in cells]
        joined = _SEP.join(cells)
    if any(ch in joined for ch in _QUOTE_CHARS):
        cells = ['"' + v.replace('"', '""') + '"' if '"' in v or "," in v or "\n" in v or "\r" in v else v
                 for v in cells]  # fmt: skip
    return cells


def _formula_cell(joined: str) -> bool:
    """Whether a cell of ``joined`` (cells joined by ``_SEP``) starts with a formula character.
    A pair (``_SEP`` and the character) is looked for only where the character occurs at all
    (one ``memchr``): most characters do not, and a pair costs a slower scan of the column."""
    return joined.startswith(_FORMULA_START) or any(
        ch in joined and pair in joined for ch, pair in zip(_FORMULA_START, _FORMULA_AFTER_SEP, strict=True))


_LINE = [","] * (2 * len(CSV_COLUMNS) - 1) + ["\r\n"]  # a line's separators, each after its cell


def _csv_rows(rows: list[Row]) -> bytes:
    """``rows`` as CSV lines, byte for byte what csv.writer writes for the cells (``csv_cell``
    on the free-text ones), built column by column (csv.writer took 8 µs a row), and put
    together as one list of cells and separators joined once (a tuple and a join a row took
    a fifth longer)."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    columns[1] = time_texts(columns[1])
    line = _LINE * len(rows)
    for i, column in enumerate(columns):
        line[2 * i :: 2 * len(CSV_COLUMNS)] = column if i == 1 else _csv_column(column, i in _FREE_TEXT)
    return "".join(line).encode()


def _jsonl_rows(rows: list[Row]) -> bytes:
    fragment, dumps, newline = orjson.Fragment, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    times = time_texts([row[1] for row in rows])
    return b"".join([dumps({
        "seq": seq, "time": time, "actor": actor, "action": action,
        "target": {"type": target_type, "id": target_id, "display": target_display},
        "app_id": app_id, "outcome": outcome, "changes": fragment(changes) if changes else None,
        "detail": fragment(detail) if detail else None, "prev_hash": prev_hash, "hash": digest,
    }, option=newline) for time, (seq, _, actor, action, target_type, target_id, target_display, app_id, outcome,
                                  changes, detail, prev_hash, digest) in zip(times, rows, strict=True)])  # fmt: skip


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


def _fragment(raw: str | None) -> Any:
    return orjson.Fragment(raw) if raw else None


def _ocsf(row: Row) -> dict[str, Any]:
    seq, at, actor, action, target_type, target_id, target_display, app_id, outcome, changes, detail, prev, digest = row
    class_uid, activity, name = ocsf_class(action, target_type)
    target = {"uid": target_id, "name": target_display, "type": target_type}
    body: dict[str, Any] = {
        "category_uid": 3, "category_name": "Identity & Access Management", "class_uid": class_uid,
        "class_name": name, "activity_id": activity, "type_uid": class_uid * 100 + activity,
        "time": int(ts_out(at).timestamp() * 1000), "severity_id": 1,
        "status_id": 1 if outcome == "success" else 2, "status": outcome.capitalize(),
        "actor": {"user": {"uid": actor}}, "message": action,
        "metadata": {"version": "1.1.0", "product": {"name": "scim-bridge", "vendor_name": "scim-bridge"},
                     "uid": digest, "sequence": seq, "log_name": "audit"},
        "unmapped": {"seq": seq, "prev_hash": prev, "hash": digest, "app_id": app_id,
                     "changes": _fragment(changes), "detail": _fragment(detail)},
    }  # fmt: skip
    if class_uid == 3004:
        body["entity"] = target
    else:
        body["user"] = target
    if class_uid == 3005:
        body["privileges"] = [action]
    return body


def _ocsf_rows(rows: list[Row]) -> bytes:
    return b"".join([orjson.dumps(_ocsf(row), option=orjson.OPT_APPEND_NEWLINE) for row in rows])


_ENCODERS: dict[str, Callable[[list[Row]], bytes]] = {"csv": _csv_rows, "jsonl": _jsonl_rows, "ocsf": _ocsf_rows}


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

    def chunks(self, read: ReadRows, limit: int = CHUNK) -> Iterator[bytes]:
        """The file in pieces; ``read(fn)`` runs ``fn(conn)``. Memory: one chunk of events."""
        encode = _ENCODERS[self.format]
        if self.format == "csv":
            yield self._take(("\r\n".join([",".join(CSV_COLUMNS), ""])).encode())
        for rows in row_chunks(read, self.query, limit):
            self.count += len(rows)
            self.first_seq = self.first_seq if self.first_seq is not None else rows[0][0]
            self.last_seq = rows[-1][0]
            yield self._take(encode(rows))

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
