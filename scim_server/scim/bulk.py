"""Bulk (RFC 7644 §3.7), without HTTP: each operation calls the SCIM service
(scim/service.py) directly, exactly as its single request would, and succeeds or fails on
its own.

``bulkId`` references are resolved in one pass: the operations are put in a dependency
order (an operation runs after every POST that defines a bulkId it refers to; among ready
operations, request order), so a reversed chain costs no more than a forward one. An
operation whose reference no successful POST created, or that is part of a cycle, fails
with 409. ``failOnErrors`` stops the run once that many operations have failed; the
operations not run are left out of the response, the others are listed in request order.

The operations run in that order, ``CHUNK`` at a time in one transaction: a chunk pays one
commit (one fsync on SQLite, where it also rides the writer's group commit) rather than one
per operation. A chunk first runs without savepoints (a SAVEPOINT and its RELEASE cost two
round trips on PostgreSQL, and on SQLite a copy of every page the operation changes: more
than many operations cost). Input that does not validate fails before anything runs; when
an operation fails once it has run, the chunk's transaction rolls back and the chunk runs
again with a savepoint for that operation and each after it, so that a failure undoes that
operation alone. A chunk holds its row locks until its commit, so on PostgreSQL it first
locks the existing users and groups it changes in one order (``fastsql.lock_in_order``):
chunks that change the same groups in different orders then queue rather than deadlock. An
operation that still meets a deadlock (with a writer outside that order) or a serialization
failure runs again in a new transaction, once the operations before it have committed
(counted in ``scim_bridge_bulk_retries_total``).
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from scim2_models import InvalidSyntaxException, InvalidValueException, PayloadTooLargeException
from sqlalchemy import Connection

from scim_server.errors import scim_failure
from scim_server.scim.context import ScimCall, schemas_of
from scim_server.scim.results import Unit, Written
from scim_server.scim.service import GROUPS, RESOURCE_TYPES, USERS, ResourceType
from scim_server.store import fastsql as sql
from scim_server.store.db import pending

__all__ = ["BULK_REQUEST", "BULK_RESPONSE", "CHUNK", "run"]

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
CHUNK = 100  # operations per transaction
_RETRIES = 3  # runs of an operation that meets a deadlock or a serialization failure
_TRANSIENT = frozenset({"40P01", "40001"})  # PostgreSQL: deadlock_detected, serialization_failure
_REF = re.compile(r"bulkId:([A-Za-z0-9_.\-~]+)")
_PATH = re.compile(r"^/(Users|Groups)(?:/([^/?#]+))?$", re.IGNORECASE)
_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class UnresolvedReference(InvalidValueException):
    """An operation refers to a bulkId that no successful operation created (RFC 7644 §3.7.2)."""

    status = 409
    _default_detail = "The operation refers to a bulkId that no successful operation created."


@dataclass(frozen=True, slots=True)
class _Op:
    """One operation, checked: ``target`` is the path's id (perhaps ``bulkId:x``); ``text`` is
    ``data`` serialised when it refers to a bulkId (resolved when the operation runs)."""

    index: int
    method: str
    kind: ResourceType
    target: str | None
    data: Any
    text: str | None
    bulk_id: str | None
    version: str | None
    refs: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Outcome:
    written: Written | None
    error: Exception | None
    target: str | None  # the resolved id of the operation's resource, when known


@dataclass(frozen=True, slots=True)
class _Chunk:
    """What a chunk's transaction did: an outcome per operation run, in order (fewer than
    the chunk's when it stopped early), and the bulkIds its POSTs created."""

    outcomes: list[tuple[_Op, _Outcome]]
    created: dict[str, str]
    retry: bool  # stopped at a transient failure: the next operation runs again in a new transaction


# ------------------------------------------------------------------------------ the request


def _operations(body: Any, max_ops: int) -> tuple[list[dict[str, Any]], int | None]:
    if not isinstance(body, dict) or BULK_REQUEST not in schemas_of(body):
        raise InvalidSyntaxException(detail=f"'schemas' must list {BULK_REQUEST}.")
    ops = body.get("Operations")
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise InvalidSyntaxException(detail="'Operations' must be a list of objects.")
    if len(ops) > max_ops:
        raise PayloadTooLargeException(detail=f"At most {max_ops} operations per bulk request.")
    fail_on = body.get("failOnErrors")
    if fail_on is not None and (not isinstance(fail_on, int) or isinstance(fail_on, bool) or fail_on < 1):
        raise InvalidValueException(detail="failOnErrors must be a positive integer.")
    return ops, fail_on


def _check(index: int, op: dict[str, Any]) -> _Op:
    """The operation, or InvalidValueException for the whole request (nothing has run yet)."""
    method = str(op.get("method", "")).upper()
    path = op.get("path")
    found = _PATH.match(path) if isinstance(path, str) else None
    if method not in _METHODS or found is None:
        raise InvalidValueException(detail="Each operation needs a method (POST/PUT/PATCH/DELETE) and a path.")
    target = found.group(2)
    bulk_id, version = op.get("bulkId"), op.get("version")
    if (bulk_id is not None and not isinstance(bulk_id, str)) or (version is not None and not isinstance(version, str)):
        raise InvalidValueException(detail="An operation's bulkId and version must be strings.")
    if method == "POST" and (not bulk_id or target):
        raise InvalidValueException(detail="POST operations need a bulkId and a collection path.")
    if method != "POST" and not target:
        raise InvalidValueException(detail=f"{method} operations need a resource path.")
    data = op.get("data")
    text = orjson.dumps(data).decode() if "data" in op else None
    refs = set(_REF.findall(text)) if text is not None else set()
    refs.update(_REF.findall(target or ""))
    kind = RESOURCE_TYPES[found.group(1).capitalize()]
    return _Op(index, method, kind, target, data, text if refs else None, bulk_id or None, version, frozenset(refs))


def _order(ops: list[_Op]) -> list[_Op]:
    """A dependency order: each operation after every POST defining a bulkId it refers to,
    ready operations in request order. Operations that can never be ready (a cycle, or
    behind one) come last, in request order; they fail when they run."""
    definers: dict[str, list[int]] = {}
    for op in ops:
        if op.method == "POST" and op.bulk_id:
            definers.setdefault(op.bulk_id, []).append(op.index)
    waiting = [0] * len(ops)
    dependents: list[list[int]] = [[] for _ in ops]
    for op in ops:
        for ref in op.refs:
            for definer in definers.get(ref, ()):
                waiting[op.index] += 1
                dependents[definer].append(op.index)
    ready = [op.index for op in ops if not waiting[op.index]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for dependent in dependents[index]:
            waiting[dependent] -= 1
            if not waiting[dependent]:
                heapq.heappush(ready, dependent)
    placed = set(order)
    return [ops[i] for i in order] + [op for op in ops if op.index not in placed]


# ------------------------------------------------------------------------------ running


def _resolve(value: str, created: dict[str, str], local: dict[str, str]) -> str | None:
    """``value`` with every ``bulkId:x`` replaced by the id x created; None if one was not."""
    missing = False

    def swap(match: re.Match[str]) -> str:
        nonlocal missing
        found = local.get(match.group(1)) or created.get(match.group(1))
        if found is None:
            missing = True
            return match.group(0)
        return found

    out = _REF.sub(swap, value)
    return None if missing else out


def _unit(call: ScimCall, op: _Op, target: str | None, data: Any) -> Unit[Written]:
    """The operation's unit of work, as its single request would build it (``version`` is
    its If-Match, RFC 7644 §3.7)."""
    if op.method == "POST":
        return op.kind.create(call, data)
    assert target is not None  # _check: every other method names a resource
    if op.method == "PUT":
        return op.kind.replace(call, target, data, op.version)
    if op.method == "PATCH":
        return op.kind.patch(call, target, data, op.version, None)
    return op.kind.delete(call, target, op.version)


def _in_savepoint(conn: Connection, unit: Unit[Written]) -> Written:
    """Run ``unit`` so that, if it raises, what it did is undone and the transaction goes on.

    On PostgreSQL the statements a unit defers (``fastsql.defer``) are still queued when it
    returns or raises: the savepoint is set after those of the operations before, and a failed
    unit's queued statements are dropped (never sent: undone like the rest of it)."""
    sql.command(conn, "SAVEPOINT bulk_op")
    try:
        written = unit(conn)
    except BaseException:
        queued = pending(conn)
        if queued is not None:
            queued.clear()
        sql.command(conn, "ROLLBACK TO SAVEPOINT bulk_op")
        sql.command(conn, "RELEASE SAVEPOINT bulk_op")
        raise
    sql.command(conn, "RELEASE SAVEPOINT bulk_op", later=True)
    return written


def _transient(exc: Exception) -> bool:
    return any(getattr(e, "sqlstate", None) in _TRANSIENT for e in (exc, getattr(exc, "orig", None)))


@dataclass(frozen=True, slots=True)
class _Attempt:
    """How one chunk runs in its transaction: operations before ``guard_from`` without a
    savepoint, the others with one; it stops once ``budget`` operations have failed."""

    ops: list[_Op]
    created: dict[str, str]  # the bulkIds earlier chunks created; only read
    budget: int | None
    guard_from: int
    retry_transient: bool


class _Abort(Exception):
    """An operation without a savepoint failed: its chunk's transaction rolls back, and the
    chunk runs again with savepoints from that operation on."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


def _run_op(conn: Connection, call: ScimCall, op: _Op, created: dict[str, str], local: dict[str, str],
            guarded: bool) -> _Outcome:  # fmt: skip
    """One operation's outcome. Unguarded, a failure of its unit of work raises _Abort(0)."""
    target = _resolve(op.target, created, local) if op.target else None
    text = _resolve(op.text, created, local) if op.text is not None else None
    if (op.target and target is None) or (op.text is not None and text is None):
        return _Outcome(None, UnresolvedReference(), target)
    try:
        unit = _unit(call, op, target, op.data if text is None else orjson.loads(text))
    except Exception as exc:  # noqa: BLE001 (invalid input: nothing has run, the failure is this operation's)
        return _Outcome(None, exc, target)
    if not guarded:
        try:
            return _Outcome(unit(conn), None, target)
        except Exception:  # noqa: BLE001 (whatever it did must be undone: the whole transaction)
            raise _Abort(0) from None
    try:
        return _Outcome(_in_savepoint(conn, unit), None, target)
    except Exception as exc:  # noqa: BLE001 (rolled back to its savepoint: the failure is this operation's)
        return _Outcome(None, exc, target)


def _lock_targets(conn: Connection, call: ScimCall, ops: list[_Op]) -> None:
    """Lock the existing resources the chunk changes, in one order, before any runs: chunks
    that change the same groups in different orders then queue instead of deadlocking."""
    named = [(op.kind, op.target) for op in ops if op.target and not op.target.startswith("bulkId:")]
    sql.lock_in_order(conn, call.ws, (target for kind, target in named if kind is USERS),
                      (target for kind, target in named if kind is GROUPS))  # fmt: skip


def _run_chunk(conn: Connection, call: ScimCall, attempt: _Attempt) -> _Chunk:
    """Run the attempt's operations in order in the open transaction. Has no effect outside
    ``conn`` (``Database.write`` may run it twice)."""
    local: dict[str, str] = {}
    outcomes: list[tuple[_Op, _Outcome]] = []
    errors = 0
    _lock_targets(conn, call, attempt.ops)
    for position, op in enumerate(attempt.ops):
        if attempt.budget is not None and errors >= attempt.budget:
            break
        try:
            outcome = _run_op(conn, call, op, attempt.created, local, position >= attempt.guard_from)
        except _Abort:
            raise _Abort(position) from None
        if outcome.error is not None:
            if attempt.retry_transient and _transient(outcome.error):
                return _Chunk(outcomes, local, True)
            errors += 1
        elif op.method == "POST" and op.bulk_id and outcome.written and outcome.written.document:
            local[op.bulk_id] = outcome.written.document["id"]
        outcomes.append((op, outcome))
    return _Chunk(outcomes, local, False)


async def run(call: ScimCall, body: Any, request_id: str) -> dict[str, Any]:
    """Run a BulkRequest; the BulkResponse, each operation's result in request order.

    Raises (for the request as a whole, before any operation runs) InvalidSyntaxException,
    InvalidValueException, or PayloadTooLargeException above ``bulk_max_operations``."""
    raw, fail_on = _operations(body, call.services.settings.bulk_max_operations)
    pending = _order([_check(index, op) for index, op in enumerate(raw)])  # all well-formed before any runs
    created: dict[str, str] = {}
    results: dict[int, dict[str, Any]] = {}
    errors, tries, guard_from = 0, 0, CHUNK
    while pending and (fail_on is None or errors < fail_on):
        budget = None if fail_on is None else fail_on - errors
        attempt = _Attempt(pending[:CHUNK], created, budget, guard_from, tries < _RETRIES)
        try:
            done = await call.write(partial(_run_chunk, call=call, attempt=attempt))
        except _Abort as abort:
            guard_from = abort.position
            continue
        created.update(done.created)
        for op, outcome in done.outcomes:
            results[op.index] = _result(call, op, raw[op.index], outcome, request_id)
            errors += outcome.error is not None
        pending = pending[len(done.outcomes) :]
        if done.retry:
            call.services.metrics.bulk_retries.inc()
        tries, guard_from = (tries + 1 if done.retry else 0), CHUNK
    return {"schemas": [BULK_RESPONSE], "Operations": [results[i] for i in sorted(results)]}


def _result(call: ScimCall, op: _Op, raw: dict[str, Any], outcome: _Outcome, request_id: str) -> dict[str, Any]:
    """An operation's entry in the BulkResponse (RFC 7644 §3.7.3): ``location`` for every
    operation but a failed POST, ``version`` after a write, ``response`` on failure."""
    result: dict[str, Any] = {"method": op.method}
    if raw.get("bulkId"):
        result["bulkId"] = raw["bulkId"]
    if outcome.written is not None:
        result["status"] = str(outcome.written.status)
        location = outcome.written.location
        if location is None and outcome.target is not None:
            location = f"{call.base_url}/{op.kind.endpoint}/{outcome.target}"
        if location is not None:
            result["location"] = location
        if outcome.written.etag is not None:
            result["version"] = outcome.written.etag
        return result
    assert outcome.error is not None
    status, document = scim_failure(outcome.error, request_id)
    result["status"] = str(status)
    if op.method != "POST" and outcome.target is not None:
        result["location"] = f"{call.base_url}/{op.kind.endpoint}/{outcome.target}"
    result["response"] = document
    return result
