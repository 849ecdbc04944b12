"""Users and groups on the way in (validated once, with scim2-models) and on the way out
(rendered from the stored document, no model rebuilt on a read)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from scim2_models import (
    Context,
    Group,
    InvalidSyntaxException,
    InvalidValueException,
    ScimPolicy,
)

from scim_server.scim import attributes, fastpath, value_rules
from scim_server.scim.models import UserModel
from scim_server.scim.projection import CORE_GROUP, CORE_USER, ENTERPRISE
from scim_server.store.directory import GroupFields, StoredResource, UserFields

KNOWN_SCHEMAS = {CORE_USER.lower(): CORE_USER, ENTERPRISE.lower(): ENTERPRISE, CORE_GROUP.lower(): CORE_GROUP}
POLICY = ScimPolicy(unknown=ScimPolicy.Unknown.forbid)
_READONLY = ("id", "meta", "groups")


def hash_password(password: str) -> str:
    """Okta may send a password; only an scrypt hash of it is ever stored."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def _require_schema(body: Any, core: str) -> dict[str, Any]:
    """``body`` itself, once it is an object whose ``schemas`` (spelled canonically by
    ``_canonical``) lists ``core``."""
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="The request body must be a JSON object.")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or core.lower() not in {str(s).lower() for s in schemas}:
        raise InvalidSyntaxException(detail=f"'schemas' must list {core}.")
    return body


def _tolerate_foreign_urns(body: dict[str, Any]) -> dict[str, Any]:
    """Unknown schema URNs (an IdP's custom extension) are tolerated: dropped, not stored.

    The extension keys of known schemas are matched case-insensitively and renamed to
    their canonical spelling.
    """
    out: dict[str, Any] = {}
    for key, value in body.items():
        if value is None:  # null is unassigned (RFC 7643 §2.5); Entra sends "manager": null
            continue
        lowered = key.lower()
        if lowered.startswith("urn:"):
            if lowered in KNOWN_SCHEMAS:
                out[KNOWN_SCHEMAS[lowered]] = value
            continue
        if lowered in _READONLY:
            continue
        out[key] = value
    out["schemas"] = [KNOWN_SCHEMAS[s.lower()] for s in body["schemas"] if str(s).lower() in KNOWN_SCHEMAS]
    return out


def _canonical(body: Any, names: Mapping[str, attributes.Attribute], strict: bool) -> Any:
    """A resource body with its attribute names spelled as the schema does (RFC 7643 §2.1), the
    unknown ones dropped and logged unless ``strict`` (``attributes.canonical``)."""
    if not isinstance(body, dict):
        return body
    ignored: list[str] = []
    out = attributes.canonical(body, names, ignored, strict=strict)
    attributes.log_ignored(ignored)
    return out


def prepare_user_body(body: Any, *, strict: bool = False) -> dict[str, Any]:
    """What the model (or ``fastpath.user_doc``) validates: names canonical, foreign URNs,
    nulls and read-only attributes dropped, Entra's manager shapes completed.

    :raises InvalidSyntaxException: not an object, or ``schemas`` does not list the User URN.
    """
    prepared: dict[str, Any] = _tolerate_foreign_urns(
        _require_schema(_canonical(body, attributes.USER, strict), CORE_USER)
    )
    _manager_ref(prepared)
    return prepared


def _manager_ref(body: dict[str, Any]) -> None:
    """Entra sends ``manager`` as a bare id string, or ``{"value"}`` with no ``$ref``."""
    ext = body.get(ENTERPRISE)
    if not isinstance(ext, dict) or "manager" not in ext:
        return
    manager = ext["manager"]
    if isinstance(manager, str):
        manager = {"value": manager}
    if isinstance(manager, dict) and manager.get("value") and not manager.get("$ref"):
        manager = {**manager, "$ref": f"../Users/{manager['value']}"}
    if manager in ("", None, {}):
        ext = {k: v for k, v in ext.items() if k != "manager"}
        body[ENTERPRISE] = ext
        return
    body[ENTERPRISE] = {**ext, "manager": manager}


def user_fields_from_doc(doc: dict[str, Any], password: str | None = None) -> UserFields:
    """Index columns of an already-validated user document."""
    return UserFields(
        user_name=doc["userName"],
        external_id=doc.get("externalId"),
        display_name=doc.get("displayName"),
        active=doc.get("active", True) is not False,
        doc=doc,
        password_hash=hash_password(password) if password else None,
    )


def validate_user_doc(
    body: dict[str, Any], ctx: Context = Context.RESOURCE_CREATION_REQUEST, *, fast: bool = True, strict: bool = False
) -> tuple[dict[str, Any], str | None]:
    """Validate a user body; return (the canonical document, the password if one was sent).

    A plain body (``fastpath.user_doc``) skips the model and gives the same result;
    ``fast=False`` forces the model (tests/scim_fastpath compares both). Unknown attributes are
    dropped unless ``strict`` (``attributes``); values are held to ``value_rules``."""
    body = prepare_user_body(body, strict=strict)
    plain = fastpath.user_doc(body) if fast else None
    if plain is not None:
        doc, password = plain
    else:
        model = UserModel.model_validate(body, scim_ctx=ctx, scim_policy=POLICY)
        password = model.password
        doc = model.model_dump(scim_ctx=ctx)
        doc.pop("password", None)
    if not doc.get("userName"):
        raise InvalidValueException(detail="userName is required.")
    if ENTERPRISE not in doc and ENTERPRISE in doc["schemas"]:
        doc["schemas"] = [s for s in doc["schemas"] if s != ENTERPRISE]
    value_rules.check_user(doc)
    return doc, password


def parse_user(body: Any, ctx: Context = Context.RESOURCE_CREATION_REQUEST, *, strict: bool = False) -> UserFields:
    """A POST or PUT body as the columns and document to store (``strict``: see ``attributes``)."""
    doc, password = validate_user_doc(body, ctx, strict=strict)
    return user_fields_from_doc(doc, password)


def member_ids(value: Any) -> list[str]:
    """``members`` as a list of ids; each entry must be an object with a string ``value``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidValueException(detail="'members' must be a list.")
    ids: list[str] = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str) or not entry["value"]:
            raise InvalidValueException(detail="Each member needs a string 'value'.")
        ids.append(entry["value"])
    return ids


def group_fields_from_doc(doc: dict[str, Any]) -> GroupFields:
    return GroupFields(display_name=doc["displayName"], external_id=doc.get("externalId"), doc=doc)


def validate_group_doc(body: dict[str, Any], ctx: Context = Context.RESOURCE_CREATION_REQUEST) -> dict[str, Any]:
    """Validate a group body without its members (they are validated by ``member_ids``)."""
    model = Group.model_validate(body, scim_ctx=ctx, scim_policy=POLICY)
    doc = model.model_dump(scim_ctx=ctx)
    doc.pop("members", None)
    if not doc.get("displayName"):
        raise InvalidValueException(detail="displayName is required.")
    value_rules.check_group(doc)
    return doc


def parse_group(
    body: Any, ctx: Context = Context.RESOURCE_CREATION_REQUEST, *, strict: bool = False
) -> tuple[GroupFields, list[str]]:
    """A POST or PUT body as the columns and document to store, and the member ids
    (``strict``: see ``attributes``)."""
    body = _tolerate_foreign_urns(_require_schema(_canonical(body, attributes.GROUP, strict), CORE_GROUP))
    ids = member_ids(body.pop("members", None))
    return group_fields_from_doc(validate_group_doc(body, ctx)), ids


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


def render(stored: StoredResource, resource_type: str, base_url: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": stored.id, **stored.doc}
    if extra:
        out.update(extra)
    out["meta"] = {
        "resourceType": resource_type,
        "created": _iso(stored.created),
        "lastModified": _iso(stored.last_modified),
        "location": f"{base_url}/{resource_type}s/{stored.id}",
        "version": etag(stored.version),
    }
    return out


def member_refs(entries: list[dict[str, Any]], base_url: str) -> list[dict[str, Any]]:
    return [
        {"value": m["value"], "$ref": f"{base_url}/{m['type']}s/{m['value']}", "type": m["type"]} for m in entries
    ]
