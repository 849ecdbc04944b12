"""What admin handlers share: the caller (admin scope), request bodies parsed by pydantic
models (unknown fields refused), and cursor pagination (``?cursor=&limit=``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from scim_server import cursor
from scim_server.auth import Principal
from scim_server.cursor import Value
from scim_server.errors import Invalid
from scim_server.services import Services

ModelT = TypeVar("ModelT", bound=BaseModel)
RowT = TypeVar("RowT")


class Body(BaseModel):
    """Base of every admin request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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


def page_params(request: Request, default: int = 50, maximum: int = 500) -> tuple[str | None, int]:
    """The raw ``cursor`` (None on the first page) and ``limit`` of a list request; each list
    decodes its cursor with ``scim_server.cursor`` for its own scope and key."""
    raw_limit = request.query_params.get("limit")
    try:
        limit = default if raw_limit in (None, "") else int(raw_limit)
    except ValueError:
        raise Invalid("limit must be an integer.") from None
    if not 1 <= limit <= maximum:
        raise Invalid(f"limit must be between 1 and {maximum}.")
    return request.query_params.get("cursor") or None, limit


def page(
    rows: Sequence[RowT], limit: int, scope: str, key: Callable[[RowT], tuple[Value, ...]],
    view: Callable[[RowT], dict[str, Any]],
) -> dict[str, Any]:
    """One page of a list: ``rows`` holds up to limit+1 rows in the list's order, the extra one
    saying there is a next page; ``next_cursor`` then holds the ``key`` of the last row shown."""
    shown = rows[:limit]
    more = len(rows) > limit and bool(shown)
    return {"items": [view(r) for r in shown], "next_cursor": cursor.encode(scope, *key(shown[-1])) if more else None}
