"""A validation fast path for the plain User bodies identity providers send on create/replace.

Validating a body as ``User[EnterpriseUser]`` and dumping it back costs ~350 µs in scim2-models,
most of a create's CPU. Okta's and Entra's create bodies (Okta SCIM 2.0 reference, "Create the
user"; Entra "Tutorial: Develop and plan provisioning for a SCIM endpoint", request examples) hold
only plain values: strings, ``active`` as a JSON boolean, ``name``, multi-valued
``emails``/``phoneNumbers``/... entries of strings with a canonical ``type`` and a boolean
``primary``, and the enterprise extension's strings. For such a body the canonical document is
only the body with its keys put in the model's order, so ``user_doc`` builds it directly.

It decides nothing the model would decide differently: any key it does not know in its canonical
spelling, any value of another type, any null, empty or doubtful shape (two primaries, a
non-canonical ``type``, the extension data without its schema URN, ``manager``, references,
binaries) makes it answer ``None`` and the caller validates through the model, which gives the
error or the normalised form. ``tests/scim_fastpath`` proves on generated bodies that both paths
give the same document (key order included), the same password, and the same errors.

The attribute table is derived from the model at import (field order, serialization aliases,
types), so it follows scim2-models' definitions rather than restating them.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from inspect import isclass
from typing import Any

from pydantic import BaseModel
from scim2_models import EnterpriseUser, Mutability
from scim2_models.attributes import ExtensibleStringEnum

from scim_server.scim.attributes import unwrap_optional
from scim_server.scim.models import UserModel
from scim_server.scim.projection import CORE_USER, ENTERPRISE

STR, BOOL = "str", "bool"


@dataclass(frozen=True, slots=True)
class Complex:
    """A complex attribute whose sub-attributes are all plain: name -> kind, in model order.

    A kind is ``STR``, ``BOOL`` or the frozenset of an enumerated ``type``'s canonical values.
    """

    subs: dict[str, Any]
    multi: bool


def _simple_kind(annotation: Any) -> Any:
    """STR, BOOL, a frozenset of canonical values, or None when the type is not plain."""
    target = unwrap_optional(annotation)
    if target is str:
        return STR
    if target is bool:
        return BOOL
    if isclass(target) and issubclass(target, ExtensibleStringEnum):
        return frozenset(member.value for member in target)
    return None


def _writable(model: type[BaseModel], name: str) -> bool:
    mutability = model.get_field_annotation(name, Mutability)  # type: ignore[attr-defined]
    return mutability in (Mutability.read_write, Mutability.write_only)


def _complex(model: type[BaseModel], multi: bool, *, partial: bool = False) -> Complex | None:
    """The plain sub-attributes of ``model``; None if one is not plain (unless ``partial``:
    then the others are kept, and a body naming the left-out one falls back)."""
    subs: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind = _simple_kind(info.annotation)
        if kind is None or not _writable(model, name):
            if partial:
                continue
            return None
        subs[str(info.serialization_alias or name)] = kind
    return Complex(subs, multi)


def _attribute(name: str, info: Any) -> Any:
    """The kind of a top-level User attribute, or None when the fast path leaves it to the model."""
    if not _writable(UserModel, name):
        return None
    kind = _simple_kind(info.annotation)
    if kind is not None:
        return kind if kind in (STR, BOOL) else None
    target = unwrap_optional(info.annotation)
    if typing.get_origin(target) is list:
        (item,) = typing.get_args(target)
        return _complex(item, True) if isclass(item) and issubclass(item, BaseModel) else None
    if isclass(target) and issubclass(target, EnterpriseUser):
        return _complex(target, False, partial=True)
    if isclass(target) and issubclass(target, BaseModel):
        return _complex(target, False)
    return None


def _build() -> dict[str, Any]:
    """Every attribute the fast path takes, canonical spelling -> kind, in the model's order."""
    table: dict[str, Any] = {}
    for name, info in UserModel.model_fields.items():
        alias = str(info.serialization_alias or name)  # plain str: a URN subclass is no JSON key for orjson
        if alias == "schemas":
            continue
        kind = _attribute(name, info)
        if kind is not None:
            table[alias] = kind
    ext = table.get(ENTERPRISE)
    if isinstance(ext, Complex):
        ext.subs.pop("schemas", None)
    return table


ATTRIBUTES = _build()
_SCHEMAS = ([CORE_USER], [CORE_USER, ENTERPRISE])


def _value(kind: Any, value: Any) -> bool:
    """Whether ``value`` is plainly valid for a simple kind (the model keeps it as it is)."""
    if kind is STR:
        return isinstance(value, str)
    if kind is BOOL:
        return isinstance(value, bool)
    return isinstance(value, str) and value in kind


def _entry(spec: Complex, value: Any) -> dict[str, Any] | None:
    """One complex value with its keys in model order; None when not plain."""
    if not isinstance(value, dict) or not value:
        return None
    subs = spec.subs
    for key, item in value.items():
        kind = subs.get(key)
        if kind is None or not _value(kind, item):
            return None
    if len(value) == 1:
        return dict(value)
    return {key: value[key] for key in subs if key in value}


def _entries(spec: Complex, value: Any) -> list[Any] | None:
    if not isinstance(value, list) or not value:
        return None
    out = []
    primaries = 0
    for item in value:
        entry = _entry(spec, item)
        if entry is None:
            return None
        primaries += entry.get("primary") is True
        out.append(entry)
    return out if primaries <= 1 else None


def _converted(kind: Any, value: Any) -> Any:
    """The canonical form of one top-level value, or ``_NO`` when the model must decide."""
    if kind is STR or kind is BOOL:
        return value if _value(kind, value) else _NO
    entry = _entries(kind, value) if kind.multi else _entry(kind, value)
    return _NO if entry is None else entry


_NO = object()


def user_doc(body: dict[str, Any]) -> tuple[dict[str, Any], str | None] | None:
    """(canonical document, password) of a plain body, exactly as the model path makes them;
    None when the body is not plain.

    ``body`` is what ``resources.validate_user_doc`` hands the model: attribute names spelled as
    the schema does (``attributes``), unknown ones dropped unless strict, foreign URNs dropped,
    known ones spelled canonically, nulls and read-only attributes removed, ``schemas`` listing
    only known URNs.
    """
    schemas = body.get("schemas")
    if schemas not in _SCHEMAS:
        return None
    user_name = body.get("userName")
    if not isinstance(user_name, str) or not user_name:
        return None
    if ENTERPRISE in body and len(schemas) == 1:
        return None
    table = ATTRIBUTES
    doc: dict[str, Any] = {"schemas": list(schemas)}
    for key in body:
        if key not in table and key != "schemas":
            return None
    for key, kind in table.items():
        if key in body:
            value = _converted(kind, body[key])
            if value is _NO:
                return None
            doc[key] = value
    password = doc.pop("password", None)
    return doc, password
