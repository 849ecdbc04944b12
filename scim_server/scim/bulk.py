"""Bulk (RFC 7644 §3.7): each operation is dispatched through the same route handlers as a
single request (so it is validated, audited and atomic exactly like one), in its own
transaction; ``bulkId:`` references are resolved as the operations that create them succeed.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from scim2_models import InvalidSyntaxException, InvalidValueException, PayloadTooLargeException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message

from scim_server.scim.context import json_body, schemas_of, scim_call
from scim_server.scim.responses import ScimResponse

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_REF = re.compile(r"bulkId:([A-Za-z0-9_.\-~]+)")
_PATH = re.compile(r"^/(Users|Groups)(/[^/?#]+)?$")
_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _operations(body: Any, max_ops: int) -> tuple[list[dict], int | None]:
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


def _check(op: dict) -> tuple[str, str]:
    method = str(op.get("method", "")).upper()
    path = op.get("path")
    if method not in _METHODS or not isinstance(path, str) or not _PATH.match(path):
        raise InvalidValueException(detail="Each operation needs a method (POST/PUT/PATCH/DELETE) and a path.")
    if method == "POST" and (not op.get("bulkId") or _PATH.match(path).group(2)):  # type: ignore[union-attr]
        raise InvalidValueException(detail="POST operations need a bulkId and a collection path.")
    if method != "POST" and not _PATH.match(path).group(2):  # type: ignore[union-attr]
        raise InvalidValueException(detail=f"{method} operations need a resource path.")
    return method, path


def _resolve(value: str, created: dict[str, str]) -> str | None:
    """Replace every ``bulkId:x`` with the id x created; None if one is not created yet."""
    missing = False

    def swap(match: re.Match[str]) -> str:
        nonlocal missing
        if match.group(1) not in created:
            missing = True
            return match.group(0)
        return created[match.group(1)]

    out = _REF.sub(swap, value)
    return None if missing else out


async def _dispatch(app: ASGIApp, request: Request, method: str, path: str, body: bytes | None) -> tuple[int, bytes, dict]:
    headers = [(b"authorization", request.headers.get("authorization", "").encode()),
               (b"content-type", b"application/scim+json"), (b"host", request.headers.get("host", "").encode())]  # fmt: skip
    if body is not None:
        headers.append((b"content-length", str(len(body)).encode()))
    outer = request.scope
    root = outer.get("app_root_path", "")
    scope = {key: outer[key] for key in ("type", "asgi", "http_version", "scheme", "server", "client", "app")
             if key in outer} | {"method": method, "path": root + "/scim/v2" + path, "raw_path": None,
             "root_path": root, "query_string": b"", "headers": headers, "state": {}}  # fmt: skip
    sent = False
    status, chunks, out_headers = 500, [], {}

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body or b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers.update({k.decode().lower(): v.decode() for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks), out_headers


def _result(op: dict, method: str, status: int, payload: bytes, headers: dict) -> dict:
    result: dict[str, Any] = {"method": method, "status": str(status)}
    if op.get("bulkId"):
        result["bulkId"] = op["bulkId"]
    if headers.get("location"):
        result["location"] = headers["location"]
    if headers.get("etag"):
        result["version"] = headers["etag"]
    if status >= 400 and payload:
        result["response"] = orjson.loads(payload)
    return result


async def bulk(request: Request) -> Response:
    call = await scim_call(request)
    settings = call.services.settings
    ops, fail_on = _operations(await json_body(request, settings.max_payload_size), settings.bulk_max_operations)
    checked = [_check(op) for op in ops]  # every operation is well-formed before any runs
    app: ASGIApp = request.app
    created: dict[str, str] = {}
    results: dict[int, dict] = {}
    errors = 0
    pending = list(range(len(ops)))
    while pending and (fail_on is None or errors < fail_on):
        progressed, waiting = False, []
        for index in pending:
            if fail_on is not None and errors >= fail_on:
                break
            op = ops[index]
            method, path = checked[index]
            raw = orjson.dumps(op["data"]).decode() if "data" in op else None
            path_r = _resolve(path, created)
            data_r = _resolve(raw, created) if raw is not None else None
            if path_r is None or (raw is not None and data_r is None):
                waiting.append(index)
                continue
            progressed = True
            status, payload, headers = await _dispatch(app, request, method, path_r, data_r.encode() if data_r else None)
            results[index] = _result(op, method, status, payload, headers)
            if status >= 400:
                errors += 1
            elif method == "POST" and payload:
                created[op["bulkId"]] = orjson.loads(payload)["id"]
        if not progressed:
            for index in waiting:
                results[index] = _unresolved(ops[index])
                errors += 1
            break
        pending = waiting
    ordered = [results[i] for i in sorted(results)]
    return ScimResponse({"schemas": [BULK_RESPONSE], "Operations": ordered})


def _unresolved(op: dict) -> dict:
    detail = "The operation refers to a bulkId that no successful operation created."
    return {
        "method": str(op.get("method", "")).upper(),
        **({"bulkId": op["bulkId"]} if op.get("bulkId") else {}),
        "status": "409",
        "response": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409",
                     "scimType": "invalidValue", "detail": detail},  # fmt: skip
    }
