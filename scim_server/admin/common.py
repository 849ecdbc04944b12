"""What admin handlers share: the caller (admin scope), request bodies parsed into the service
layer's models (unknown fields refused), and the page asked for (``?cursor=&limit=``). Handlers
only parse, call one service operation and render its result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from scim_server.auth import Principal
from scim_server.services import Services
from scim_server.services.errors import Invalid
from scim_server.services.paging import PageRequest

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class AdminCall:
    services: Services
    principal: Principal

    @property
    def ws(self) -> int:
        return self.principal.workspace_id

    @property
    def actor(self) -> str:
        return self.principal.actor


async def admin_call(request: Request, scope: str = "admin") -> AdminCall:
    services: Services = request.app.state.services
    principal = await services.auth.authenticate(request.headers.get("authorization"), scope)
    return AdminCall(services, principal)


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    raw = await request.body()
    if len(raw) > request.app.state.services.settings.max_payload_size:
        raise Invalid("The request body is too large.", code="too_large", status=413)
    if b"\\u0000" in raw:
        raise Invalid("NUL characters are not allowed.")
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"Malformed JSON: {exc.msg}.") from None
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object.")
    return model.model_validate(data)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def page_request(request: Request) -> PageRequest:
    """The ``cursor`` and ``limit`` of a list request (``limit`` defaults to 50, at most 500)."""
    raw_limit = request.query_params.get("limit")
    try:
        limit = 50 if raw_limit in (None, "") else int(raw_limit)
    except ValueError:
        raise Invalid("limit must be an integer.", field="limit") from None
    return PageRequest(request.query_params.get("cursor") or None, limit)
