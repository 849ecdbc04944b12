"""HTTP face of the audit trail (``audit``- or ``admin``-scoped tokens); parse, call, render.

    GET /api/v1/audit                          events, filtered, newest first, cursor-paged
    GET /api/v1/audit/verify                   recompute the chain and its checkpoints
    GET /api/v1/audit/checkpoints/latest       the last signed checkpoint of the chain head
    GET /api/v1/audit/export?format=           the trail as CSV, JSON Lines or OCSF, streamed
    GET /api/v1/audit/exports/{id}/manifest    that export's signed manifest (JWS)
    GET /api/v1/access?app_id=[&at=][&format=csv]  the user access review of an app, now or at ``at``
    GET|PUT /api/v1/audit/retention           the retention period in days (PUT: admin scope)
    POST /api/v1/audit/retention/expire        expire older events now (admin scope)
    GET /api/v1/audit/evidence/{report_id}     a report's signed deprovision evidence bundle (zip)
    GET /.well-known/jwks.json                 the public key(s) checkpoints and manifests verify with
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import orjson
from pydantic import StrictFloat, StrictInt
from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from scim_server import cursor
from scim_server.admin.common import admin_call, json_response, page_request, parse_body
from scim_server.audit import access, bundle, chain, retention, service
from scim_server.audit.log import append
from scim_server.auth import Principal, ScopeDenied
from scim_server.errors import Invalid, NotFound
from scim_server.services import Services
from scim_server.services.schemas import Body
from scim_server.store.db import iso_utc, now
from scim_server.store.models import AuditExport

exports = AuditExport.__table__


async def _caller(request: Request) -> tuple[Services, Principal]:
    """An ``audit`` or ``admin`` token (a refusal is recorded by the error handler, errors.py)."""
    services: Services = request.app.state.services
    header = request.headers.get("authorization")
    try:
        return services, await services.auth.authenticate(header, "audit")
    except ScopeDenied:
        try:
            return services, await services.auth.authenticate(header, "admin")
        except ScopeDenied:
            raise ScopeDenied("This token has neither the 'audit' nor the 'admin' scope.") from None


def _filters(request: Request) -> service.Filters:
    try:
        return service.Filters.parse(request.query_params)
    except service.BadQuery as exc:
        raise Invalid(str(exc)) from None


async def list_events(request: Request) -> Response:
    services, principal = await _caller(request)
    page = page_request(request)
    raw, limit = page.cursor, page.limit
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise Invalid("order must be asc or desc.")
    filters = _filters(request)
    events, more = await service.list_events(services.db, principal.workspace_id, principal.actor, filters, raw, limit,
                                             descending=order == "desc")  # fmt: skip
    next_cursor = cursor.encode(service.SCOPE, events[-1].seq or 0) if more and events else None
    return json_response({"items": [e.view() for e in events], "next_cursor": next_cursor})


async def verify(request: Request) -> Response:
    services, principal = await _caller(request)
    result = await service.verify(services.db, services.settings, principal.workspace_id, principal.actor)
    return json_response(result.view())


async def latest_checkpoint(request: Request) -> Response:
    services, principal = await _caller(request)
    signer = service.signer_for(services.settings)
    cp = await services.db.write(lambda conn: chain.checkpoint(conn, signer, principal.workspace_id, "request"))
    if cp is None:
        raise NotFound("The trail is empty: there is no checkpoint yet.")
    return json_response(cp.view())


async def export(request: Request) -> Response:
    """Stream the export (``service.export``); its manifest is signed when the last byte is sent
    and the ``Link`` header names where to fetch it."""
    services, principal = await _caller(request)
    filters = _filters(request)
    try:
        stream = await service.export(services.db, services.settings, principal.workspace_id, principal.actor,
                                      request.query_params.get("format", "jsonl"), filters)  # fmt: skip
    except service.BadQuery as exc:
        raise Invalid(str(exc)) from None
    return StreamingResponse(stream.body(), media_type=stream.media_type, headers=stream.headers)


async def manifest(request: Request) -> Response:
    services, principal = await _caller(request)
    export_id = request.path_params["export_id"]

    def unit(conn: Connection) -> Any:
        return conn.execute(select(exports.c.manifest).where(exports.c.id == export_id,
                                                             exports.c.workspace_id == principal.workspace_id)).first()  # fmt: skip

    row = await services.db.read(unit)
    if row is None:
        raise NotFound(f"Export {export_id} not found.")
    if row[0] is None:
        raise Invalid("The export has not finished streaming; its manifest is signed at the end.",
                      code="not_ready", status=409)  # fmt: skip
    await services.db.write(lambda conn: append(conn, principal.workspace_id, principal.actor, "audit.manifest.read",
                                                "AuditExport", export_id))  # fmt: skip
    return Response(row[0], media_type="application/jose")


async def access_review(request: Request) -> Response:
    """The user access review of one app, now or at ``at`` (JSON, or CSV with ``format=csv``), streamed."""
    services, principal = await _caller(request)
    app_id = request.query_params.get("app_id")
    fmt = request.query_params.get("format", "json")
    if not app_id or len(app_id) > 200:
        raise Invalid("app_id is required.")
    if fmt not in ("json", "csv"):
        raise Invalid("format must be json or csv.")
    try:
        at = service.parse_time("at", request.query_params.get("at"))
    except service.BadQuery as exc:
        raise Invalid(str(exc)) from None
    stamp = iso_utc(min(at, now()) if at is not None else now())
    try:
        app, items = await service.access_report(services.db, principal.workspace_id, principal.actor, app_id, fmt, at)
    except access.UnknownApp:
        raise NotFound(f"App {app_id} not found.") from None

    async def body() -> AsyncIterator[bytes]:
        if fmt == "csv":
            chunks = access.csv_lines(items)
            while (data := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
                yield data
            return
        yield b'{"at":' + orjson.dumps(stamp) + b',"app_id":' + orjson.dumps(app.id) + b',"items":['
        first = True
        while (item := await anyio.to_thread.run_sync(next, items, None)) is not None:
            item.pop("member_id", None)
            yield (b"" if first else b",") + orjson.dumps(item)
            first = False
        yield b"]}"

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return StreamingResponse(body(), media_type=media)


class RetentionBody(Body):
    days: StrictInt | StrictFloat | None  # a JSON integer may arrive as 30.0; set_days checks the rest

    def whole_days(self) -> Any:
        return int(self.days) if isinstance(self.days, float) and self.days.is_integer() else self.days


def _retention_view(conn: Connection, ws: int) -> dict[str, Any]:
    return {"days": retention.get_days(conn, ws), "expired_through_seq": retention.floor(conn, ws)}


async def get_retention(request: Request) -> Response:
    services, principal = await _caller(request)
    return json_response(await services.db.read(lambda conn: _retention_view(conn, principal.workspace_id)))


async def put_retention(request: Request) -> Response:
    """Set how long events are kept (``admin`` scope); takes effect at the next expiry run."""
    call = await admin_call(request)
    body = await parse_body(request, RetentionBody)

    def unit(conn: Connection) -> dict[str, Any]:
        retention.set_days(conn, call.ws, call.actor, body.whole_days())
        return _retention_view(conn, call.ws)

    try:
        return json_response(await call.services.db.write(unit))
    except retention.BadRetention as exc:
        raise Invalid(str(exc), field="days") from None


async def expire_now(request: Request) -> Response:
    """Expire the events older than the retention period now (``admin`` scope)."""
    call = await admin_call(request)
    signer = service.signer_for(call.services.settings)
    result = await anyio.to_thread.run_sync(
        lambda: retention.expire_sync(call.services.db, signer, call.ws, call.actor))
    return json_response(result.view())


async def evidence(request: Request) -> Response:
    """The signed deprovision evidence bundle of one report (a zip); the read is recorded."""
    services, principal = await _caller(request)
    report_id = request.path_params["report_id"]
    signer = service.signer_for(services.settings)
    try:
        made = await services.db.write(lambda conn: bundle.build(conn, signer, principal.workspace_id, report_id,
                                                                 principal.actor))  # fmt: skip
    except bundle.UnknownReport:
        raise NotFound(f"Report {report_id} not found.") from None
    return Response(made.data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{made.filename}"'})


async def jwks(request: Request) -> Response:
    services: Services = request.app.state.services
    return json_response(service.signer_for(services.settings).jwks())


ROUTES: list[BaseRoute] = [
    Route("/api/v1/audit", list_events, methods=["GET"]),
    Route("/api/v1/audit/verify", verify, methods=["GET"]),
    Route("/api/v1/audit/checkpoints/latest", latest_checkpoint, methods=["GET"]),
    Route("/api/v1/audit/export", export, methods=["GET"]),
    Route("/api/v1/audit/exports/{export_id}/manifest", manifest, methods=["GET"]),
    Route("/api/v1/access", access_review, methods=["GET"]),
    Route("/api/v1/audit/retention", get_retention, methods=["GET"]),
    Route("/api/v1/audit/retention", put_retention, methods=["PUT"]),
    Route("/api/v1/audit/retention/expire", expire_now, methods=["POST"]),
    Route("/api/v1/audit/evidence/{report_id}", evidence, methods=["GET"]),
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
]
