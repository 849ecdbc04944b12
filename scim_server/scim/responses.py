"""SCIM responses: ``application/scim+json`` bodies serialised with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from scim_server.errors import SCIM_MEDIA_TYPE

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class ScimResponse(Response):
    media_type = SCIM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def list_response(
    resources: list[dict[str, Any]], total: int, start_index: int | None, next_cursor: str | None = None
) -> ScimResponse:
    body: dict[str, Any] = {"schemas": [LIST_RESPONSE], "totalResults": total, "itemsPerPage": len(resources)}
    if start_index is not None:
        body["startIndex"] = start_index
    if next_cursor is not None:
        body["nextCursor"] = next_cursor
    body["Resources"] = resources
    return ScimResponse(body)
