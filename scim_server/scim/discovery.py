"""Discovery documents (RFC 7644 §4): built once per app from scim2-models, served as bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    NotFoundException,
    Patch,
    ResourceType,
    ScimObject,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
)
from scim2_models.resources.service_provider_config import Pagination
from starlette.requests import Request
from starlette.responses import Response

from scim_server.scim.context import scim_call
from scim_server.scim.models import BridgeUser, UserModel
from scim_server.scim.responses import ScimResponse, list_response
from scim_server.scim.value_rules import MAX_NAME_CHARS, MAX_VALUE_BYTES
from scim_server.settings import Settings


@dataclass(frozen=True)
class Discovery:
    config: dict[str, Any]
    resource_types: dict[str, dict[str, Any]]
    schemas: dict[str, dict[str, Any]]


def _dump(model: ScimObject) -> dict[str, Any]:
    return model.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def build_discovery(settings: Settings) -> Discovery:
    config = ServiceProviderConfig(
        documentation_uri="https://github.com/scim-bridge/scim-bridge",
        patch=Patch(supported=True),
        bulk=Bulk(supported=True, max_operations=settings.bulk_max_operations,
                  max_payload_size=settings.max_payload_size),
        filter=Filter(supported=True, max_results=settings.filter_max_results),
        change_password=ChangePassword(supported=True),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        pagination=Pagination(cursor=True, index=True, default_pagination_method="index",
                              default_page_size=settings.default_page_size,
                              max_page_size=settings.filter_max_results),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="OAuth Bearer Token",
                description="Authentication with a bearer token (opaque or JWT).",
                primary=True,
            )
        ],
    )
    provider = ScimProvider(
        models=[BridgeUser, EnterpriseUser, Group],
        resource_types=[ResourceType.from_resource(UserModel), ResourceType.from_resource(Group)],
        config=config,
    )
    schemas = {str(s.id): _dump(s) for s in provider.schemas}
    _read_only_member_display(schemas[str(Group.__schema__)])
    _manager_optional(schemas[str(EnterpriseUser.__schema__)])
    for urn, schema in schemas.items():
        schema.update(_RFC_NAMES[urn])
        _tell_limits(schema)
    resource_types = {str(rt.id): _dump(rt) for rt in provider.resource_types}
    for resource_type in resource_types.values():
        resource_type["description"] = _RFC_NAMES[resource_type["schema"]]["description"]
    return Discovery(
        config=_dump(config) | {"meta": {"resourceType": "ServiceProviderConfig"}},
        resource_types=resource_types,
        schemas=schemas,
    )


# RFC 7643 §8.7.1 (schemas) and §8.6 (resource types) name and describe the core schemas so;
# scim2-models takes the class names (``BridgeUser``), which mean nothing to a client.
_RFC_NAMES = {
    "urn:ietf:params:scim:schemas:core:2.0:User": {"name": "User", "description": "User Account"},
    "urn:ietf:params:scim:schemas:core:2.0:Group": {"name": "Group", "description": "Group"},
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "name": "EnterpriseUser",
        "description": "Enterprise User",
    },
}


def _attribute(schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((a for a in schema.get("attributes", []) if a.get("name") == name), None)


def _manager_optional(enterprise_schema: dict[str, Any]) -> None:
    """RFC 7643 §8.7.1 declares manager's ``value`` and ``$ref`` not required (§4.3 calls them
    RECOMMENDED); the server derives ``$ref`` from ``value`` when a client leaves it out."""
    manager = _attribute(enterprise_schema, "manager") or {}
    for sub in manager.get("subAttributes", []):
        if sub.get("name") in ("value", "$ref"):
            sub["required"] = False


def _tell_limits(schema: dict[str, Any]) -> None:
    """RFC 7643 has no attribute for a maximum length: the descriptions tell the limits of
    ``value_rules`` (names; every other stored text value of a User)."""
    names = f"At most {MAX_NAME_CHARS} characters; no control characters, no bidirectional overrides, not blank."
    texts = f"At most {MAX_VALUE_BYTES} bytes (UTF-8)."
    user = schema.get("name") != "Group"
    for attribute in schema.get("attributes", []):
        if attribute.get("name") in ("userName", "displayName"):
            _append(attribute, names)
        elif user and attribute.get("type") == "complex":
            for sub in attribute.get("subAttributes", []):
                if _stored_text(sub):
                    _append(sub, texts)
        elif user and _stored_text(attribute):
            _append(attribute, texts)


def _stored_text(attribute: dict[str, Any]) -> bool:
    """A text value kept in the value index (the password is hashed, read-only ones not written)."""
    writable = attribute.get("mutability") in ("readWrite", "immutable")
    return writable and attribute.get("type") in ("string", "reference", "binary")


def _append(attribute: dict[str, Any], sentence: str) -> None:
    attribute["description"] = f"{attribute.get('description', '')} {sentence}".strip()


def _read_only_member_display(group_schema: dict[str, Any]) -> None:
    """Members are stored as ids (rows), so ``members.display`` is announced read-only: a
    client must not expect a display it sent to come back (RFC 7643 §7 ``mutability``)."""
    for attribute in group_schema.get("attributes", []):
        if attribute.get("name") == "members":
            for sub in attribute.get("subAttributes", []):
                if sub.get("name") == "display":
                    sub["mutability"] = "readOnly"


def _with_location(doc: dict[str, Any], kind: str, key: str, base: str) -> dict[str, Any]:
    meta = dict(doc.get("meta") or {})
    meta.setdefault("resourceType", kind)
    meta["location"] = f"{base}/{kind}s/{key}"
    return doc | {"meta": meta}


async def service_provider_config(request: Request) -> Response:
    call = await scim_call(request)
    discovery: Discovery = request.app.state.discovery
    meta = discovery.config["meta"] | {"location": f"{call.base_url}/ServiceProviderConfig"}
    return ScimResponse(discovery.config | {"meta": meta})


async def resource_types(request: Request) -> Response:
    call = await scim_call(request)
    docs = request.app.state.discovery.resource_types
    items = [_with_location(d, "ResourceType", k, call.base_url) for k, d in docs.items()]
    return list_response(items, len(items), 1)


async def resource_type(request: Request) -> Response:
    call = await scim_call(request)
    docs = request.app.state.discovery.resource_types
    key = request.path_params["id"]
    if key not in docs:
        raise NotFoundException(detail=f"ResourceType {key} not found.")
    return ScimResponse(_with_location(docs[key], "ResourceType", key, call.base_url))


async def schemas(request: Request) -> Response:
    call = await scim_call(request)
    docs = request.app.state.discovery.schemas
    items = [_with_location(d, "Schema", k, call.base_url) for k, d in docs.items()]
    return list_response(items, len(items), 1)


async def schema(request: Request) -> Response:
    call = await scim_call(request)
    docs = request.app.state.discovery.schemas
    key = request.path_params["id"]
    if key not in docs:
        raise NotFoundException(detail=f"Schema {key} not found.")
    return ScimResponse(_with_location(docs[key], "Schema", key, call.base_url))
