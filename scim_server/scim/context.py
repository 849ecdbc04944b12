"""What every SCIM handler needs from a request: the caller, the base URL, the JSON body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from scim2_models import (
    InvalidSyntaxException,
    InvalidValueException,
    PayloadTooLargeException,
    SCIMException,
)
from sqlalchemy import Connection
from starlette.requests import Request

from scim_server.auth import Principal
from scim_server.services import Services

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScimCall:
    services: Services
    principal: Principal
    base_url: str

    @property
    def ws(self) -> int:
        return self.principal.workspace_id

    async def write(self, unit: Callable[[Connection], T]) -> T:
        """Commit a unit of work, then nudge this process's worker: the unit may have queued
        jobs through the outbox (``scim.changes.record``)."""
        result = await self.services.db.write(unit)
        self.services.wake_worker()
        return result


async def scim_call(request: Request) -> ScimCall:
    services: Services = request.app.state.services
    headers = request.headers
    principal = await services.auth.authenticate(headers.get("authorization"), "scim")
    settings = services.settings
    if settings.public_base_url is not None:
        return ScimCall(services, principal, _base_url(settings.public_base_url))
    # The scheme and Host header, as Request.url would give them, without parsing a URL.
    host = headers.get("host") or f"{settings.host}:{settings.port}"
    return ScimCall(services, principal, _base_url(f"{request.scope.get('scheme', 'http')}://{host}"))


@lru_cache(maxsize=256)
def _base_url(origin: str) -> str:
    return origin.rstrip("/") + "/scim/v2"


class UnsupportedMediaTypeException(SCIMException):
    """415: the body is not JSON by its ``Content-Type`` (RFC 7644 §3.1 and §8.1: SCIM messages are
    ``application/scim+json``, and ``application/json`` is accepted as well). RFC 7644 §3.12 gives
    no scimType for it."""

    status = 415
    _default_detail = "The body must be application/scim+json or application/json."


JSON_MEDIA_TYPES = frozenset({"application/scim+json", "application/json"})


def require_json_media_type(content_type: str | None) -> None:
    """Accept ``application/scim+json`` and ``application/json``, with parameters (``; charset=utf-8``);
    a charset other than UTF-8 is refused too (RFC 8259 §8.1: JSON exchanged between systems is UTF-8).

    :raises UnsupportedMediaTypeException: a missing or any other ``Content-Type``.
    """
    media_type, *params = (content_type or "").split(";")
    if media_type.strip().lower() not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaTypeException()
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeException(detail="A JSON body must be encoded in UTF-8.")


async def json_body(request: Request, max_size: int) -> Any:
    """The request's JSON; 415 unless its ``Content-Type`` is JSON (``require_json_media_type``),
    413 above ``max_size`` (checked before reading it all)."""
    require_json_media_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_size:
        raise PayloadTooLargeException(detail=f"The body exceeds {max_size} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_size:
            raise PayloadTooLargeException(detail=f"The body exceeds {max_size} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if b"\\u0000" in raw:
        raise InvalidValueException(detail="NUL characters are not allowed.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidSyntaxException(detail=f"Malformed JSON: {exc.msg}.") from None


def schemas_of(body: dict[str, Any]) -> list[Any]:
    """A message's ``schemas`` when it is a list; anything else lists nothing (so a request
    naming no schema is refused with ``invalidSyntax``, never a crash). The name is
    case-insensitive (RFC 7643 §2.1)."""
    schemas = body.get("schemas")
    if schemas is None:
        schemas = next((value for key, value in body.items() if str(key).lower() == "schemas"), None)
    return schemas if isinstance(schemas, list) else []
