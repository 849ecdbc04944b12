"""What every SCIM handler needs from a request: the caller, the base URL, the JSON body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from scim2_models import InvalidSyntaxException, PayloadTooLargeException
from starlette.requests import Request

from scim_server.auth import Principal
from scim_server.services import Services


@dataclass(frozen=True, slots=True)
class ScimCall:
    services: Services
    principal: Principal
    base_url: str

    @property
    def ws(self) -> int:
        return self.principal.workspace_id


async def scim_call(request: Request) -> ScimCall:
    services: Services = request.app.state.services
    principal = await services.auth.authenticate(request.headers.get("authorization"), "scim")
    base = services.settings.public_base_url
    if base is None:
        host = request.headers.get("host") or f"{services.settings.host}:{services.settings.port}"
        base = f"{request.url.scheme}://{host}"
    return ScimCall(services, principal, base.rstrip("/") + "/scim/v2")


async def json_body(request: Request, max_size: int) -> Any:
    """The request's JSON; 413 above ``max_size`` (checked before reading it all)."""
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
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidSyntaxException(detail=f"Malformed JSON: {exc.msg}.") from None
