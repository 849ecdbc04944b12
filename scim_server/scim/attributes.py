"""Attribute names in request bodies, spelled as the schemas spell them; the unknown ones dropped.

RFC 7643 §2.1: "Attribute names are case insensitive". Identity providers send ``Manager``
with ``Value``, ``Members``, ``Schemas``...: every key of a User or Group body (and of a PATCH
value) is renamed to the schema's spelling before anything else reads it, so the fast path
(``fastpath.py``), the manager quirk (``resources._manager_ref``) and the member list see one
spelling. The tables come from the scim2-models classes the server validates with.

Attributes no schema of this server defines (``customAttr``, ``name.nickname``, an enterprise
``badge``) are dropped and named in one log line per request (names only, never values):
admins map custom attributes in Okta and Entra ID, and refusing them stops provisioning for
that user (RFC 7644 §3.3 lets a service provider ignore what it does not support). With
``strict`` (``SCIM_BRIDGE_SCIM_STRICT_ATTRIBUTES=true``) they are kept, and the model refuses
them with a 400 as before. Keys qualified by a schema URN this server does not know (an IdP's
own extension) are left to ``resources``/``quirks``, which drop them silently in both modes.
"""

from __future__ import annotations

import logging
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from inspect import isclass
from typing import Any

from pydantic import BaseModel
from scim2_models import Group, InvalidSyntaxException, Mutability
from scim2_models import Path as ScimPath

from scim_server.scim.models import UserModel

__all__ = ["GROUP", "USER", "Attribute", "canonical", "log_ignored", "resolve", "unwrap_optional"]

log = logging.getLogger("scim_bridge.scim")
_LOGGED_NAMES = 20  # a body can hold thousands of keys: the line names the first few
_LOGGED_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Attribute:
    """An attribute as its schema spells it; ``subs``: a complex one's sub-attributes, by
    lower-cased name (None for a simple attribute). A read-only attribute's value is not looked
    into (it is dropped before anything is written, or refused by the model in a PATCH)."""

    name: str
    subs: Mapping[str, Attribute] | None = None
    read_only: bool = False


def unwrap_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (None when the union has several other members)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return annotation


def _complex(annotation: Any) -> dict[str, Attribute] | None:
    target = unwrap_optional(annotation)
    if typing.get_origin(target) is list:
        (target,) = typing.get_args(target)
    return _table(target) if isclass(target) and issubclass(target, BaseModel) else None


def _table(model: type[BaseModel]) -> dict[str, Attribute]:
    """Lower-cased name -> attribute, for every field of ``model`` (an extension by its URN)."""
    out: dict[str, Attribute] = {}
    for field_name, info in model.model_fields.items():
        name = str(info.serialization_alias or field_name)
        mutability = model.get_field_annotation(field_name, Mutability)  # type: ignore[attr-defined]
        out[name.lower()] = Attribute(name, _complex(info.annotation), mutability == Mutability.read_only)
    return out


USER: Mapping[str, Attribute] = _table(UserModel)
GROUP: Mapping[str, Attribute] = _table(Group)


def _is_urn(key: str) -> bool:
    return key.lower().startswith(("urn:", "http://", "https://"))


def canonical(
    body: Mapping[str, Any], names: Mapping[str, Attribute], ignored: list[str], *, strict: bool, prefix: str = ""
) -> dict[str, Any]:
    """``body`` with every known key spelled as its schema does, down the complex values.

    At the top level (``prefix`` empty), keys that look like a schema URN and name no known
    attribute are kept as they are. Unknown keys are appended to ``ignored`` (as dotted paths)
    and dropped, unless ``strict``: then they are kept for the model to refuse.

    :raises InvalidSyntaxException: one attribute given twice under two spellings.
    """
    out: dict[str, Any] = {}
    for key, value in body.items():
        attribute = names.get(key.lower())
        if attribute is None:
            if strict or (not prefix and _is_urn(key)):
                out[key] = value
            else:
                ignored.append(prefix + key)
            continue
        if attribute.name in out:
            raise InvalidSyntaxException(detail=f"'{prefix}{attribute.name}' is given more than once.")
        out[attribute.name] = nested(value, attribute, ignored, strict=strict, prefix=prefix)
    return out


def nested(value: Any, attribute: Attribute, ignored: list[str], *, strict: bool, prefix: str = "") -> Any:
    """The value of ``attribute`` with its sub-attribute names canonical (see :func:`canonical`);
    anything that is not an object, or a list of them, is returned as it is, for the model to judge."""
    if attribute.subs is None or attribute.read_only:
        return value
    inner = f"{prefix}{attribute.name}{':' if _is_urn(attribute.name) else '.'}"
    if isinstance(value, dict):
        return canonical(value, attribute.subs, ignored, strict=strict, prefix=inner)
    if isinstance(value, list):
        return [
            canonical(item, attribute.subs, ignored, strict=strict, prefix=inner) if isinstance(item, dict) else item
            for item in value
        ]
    return value


def resolve(path: str, names: Mapping[str, Attribute], core: str) -> Attribute | None:
    """The attribute a PATCH path (RFC 7644 §3.5.2) writes, or None when no schema defines it.

    ``core`` is the resource's core schema URN; a path under another known URN (the enterprise
    extension) is looked up among that extension's attributes. A value filter
    (``emails[type eq "work"]``) selects elements and does not change the attribute.
    The caller has checked the path's syntax and left out unknown schema URNs.
    """
    lowered = path.lower()
    if lowered == core.lower():  # the whole resource
        return Attribute(core, names)
    if lowered in names:  # an extension's URN alone: its whole object
        return names[lowered]
    parsed = ScimPath(path)
    table: Mapping[str, Attribute] | None = names
    if parsed.schema and parsed.schema.lower() != core.lower():
        extension = names.get(parsed.schema.lower())
        table = extension.subs if extension is not None else None
    attribute: Attribute | None = None
    for part in parsed.parts:
        attribute = table.get(part.lower()) if table is not None else None
        if attribute is None:
            return None
        table = attribute.subs
    return attribute


def log_ignored(ignored: list[str]) -> None:
    """One log line naming the attributes a request's body held and no schema defines."""
    if not ignored:
        return
    names = sorted({name[:_LOGGED_LENGTH] for name in ignored})
    shown = ", ".join(names[:_LOGGED_NAMES]) + (", ..." if len(names) > _LOGGED_NAMES else "")
    log.info(
        "ignored %d attribute(s) no schema of this server defines: %s",
        len(names),
        shown,
        extra={"ignored_attributes": names[:_LOGGED_NAMES]},
    )
