"""The console's Audit view: the trail filtered (time range, actor, action, target, app,
outcome) and cursor-paged, the chain status, and exports, all through ``scim_server.audit``'s
own operations (``service.list_events``, ``service.verify``, the ``Exporter``): reading the trail
or exporting it is recorded there exactly as it is for the API.

Times in the filter form are the browser's ``datetime-local`` values, read as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from scim_server import cursor
from scim_server.audit import service
from scim_server.audit.export import FORMATS
from scim_server.audit.log import OUTCOMES
from scim_server.console import reads
from scim_server.console.web import Admin, admin_page, render

PAGE_SIZE = 50
FIELDS = ("since", "until", "actor", "action", "target", "app_id", "outcome")


def _form(params: Mapping[str, str]) -> dict[str, str]:
    """The filter form's values as typed (shown back in the form and carried by every link)."""
    return {k: params.get(k, "").strip()[:200] for k in FIELDS}


def _filters(form: Mapping[str, str]) -> service.Filters:
    """The audit service's filters from the form: a ``datetime-local`` value is taken as UTC."""
    values = dict(form)
    for name in ("since", "until"):
        if values[name] and not values[name].endswith("Z") and "+" not in values[name][10:]:
            values[name] += "Z"
    return service.Filters.parse(values)


def _query(form: Mapping[str, str], **extra: str) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in {**form, **extra}.items() if v})


@admin_page
async def audit(request: Request, admin: Admin) -> Response:
    form = _form(request.query_params)
    labels = await admin.services.db.read(lambda conn: reads.app_labels(conn, admin.ws))
    context: dict[str, Any] = {"form": form, "labels": labels, "outcomes": OUTCOMES, "formats": FORMATS,
                               "events": [], "next": None, "error": None, "query": _query(form)}  # fmt: skip
    try:
        filters = _filters(form)
        events, more = await service.list_events(admin.services.db, admin.ws, admin.actor, filters,
                                                 request.query_params.get("cursor") or None, PAGE_SIZE)  # fmt: skip
    except (service.BadQuery, cursor.InvalidCursor) as exc:
        context["error"] = str(exc) if isinstance(exc, service.BadQuery) else "That page link has expired."
        return render(request, "audit.html", context, 400, admin)
    context["events"] = [e.view() for e in events]
    if more and events:
        context["next"] = _query(form, cursor=cursor.encode(service.SCOPE, events[-1].seq or 0))
    return render(request, "audit.html", context, admin=admin)


@admin_page
async def chain_status(request: Request, admin: Admin) -> Response:
    """Verify the chain now (recomputed, checked against its signed checkpoints): ``audit.verify``."""
    result = await service.verify(admin.services.db, admin.services.settings, admin.ws, admin.actor)
    fragment = request.headers.get("hx-target") == "chain"
    return render(request, "_chain.html" if fragment else "chain.html", {"result": result.view()}, admin=admin)


@admin_page
async def export(request: Request, admin: Admin) -> Response:
    """Stream the filtered trail as CSV, JSON Lines or OCSF; the signed manifest is stored when the
    last byte is sent (``GET /api/v1/audit/exports/{id}/manifest``, named in the ``Link`` header)."""
    form = _form(request.query_params)
    fmt = request.query_params.get("format", "jsonl")
    try:
        stream = await service.export(admin.services.db, admin.services.settings, admin.ws, admin.actor, fmt,
                                      _filters(form))  # fmt: skip
    except service.BadQuery as exc:
        return render(request, "error.html", {"title": "Something is not right", "text": str(exc)}, 400, admin)
    return StreamingResponse(stream.body(), media_type=stream.media_type, headers=stream.headers)
