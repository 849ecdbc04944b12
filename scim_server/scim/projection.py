"""``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5) applied to a rendered resource.

Works on the plain dict a resource renders to, so a GET never re-validates a model.
Attribute names compare case-insensitively (RFC 7643 §2.1); a name may carry its schema URN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_CORE = (CORE_USER.lower(), CORE_GROUP.lower())
_EXTENSIONS = (ENTERPRISE.lower(),)
ALWAYS = frozenset({"id", "schemas"})


def split_param(value: str | None) -> list[str] | None:
    """A comma-separated query parameter as a list of non-empty names (None when absent)."""
    if value is None:
        return None
    names = [part.strip() for part in value.split(",") if part.strip()]
    return names or None


def _parse(name: str) -> tuple[str, ...]:
    """'urn:...:User:name.givenName' -> ('name', 'givenname'); extension URNs stay one key."""
    lowered = name.lower()
    for core in _CORE:
        if lowered.startswith(core + ":"):
            lowered = lowered[len(core) + 1 :]
            break
    for ext in _EXTENSIONS:
        if lowered == ext:
            return (ext,)
        if lowered.startswith(ext + ":"):
            return (ext, *lowered[len(ext) + 1 :].split("."))
    return tuple(lowered.split("."))


def _key(obj: dict[str, Any], lowered: str) -> str | None:
    for key in obj:
        if key.lower() == lowered:
            return key
    return None


def _pick(value: object, path: tuple[str, ...]) -> object:
    if not path:
        return value
    if isinstance(value, list):
        picked = [_pick(item, path) for item in value]
        return [item for item in picked if item not in (None, {}, [])]
    if not isinstance(value, dict):
        return None
    key = _key(value, path[0])
    if key is None:
        return None
    inner = _pick(value[key], path[1:])
    return None if inner in (None, {}, []) else {key: inner}


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if key in into and isinstance(into[key], dict) and isinstance(value, dict):
            _merge(into[key], value)
        elif key in into and isinstance(into[key], list) and isinstance(value, list):
            into[key] = [
                {**a, **b} if isinstance(a, dict) and isinstance(b, dict) else a for a, b in zip(into[key], value)
            ]
        else:
            into[key] = value


def include(resource: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    out = {key: resource[key] for key in resource if key.lower() in ALWAYS}
    for name in names:
        part = _pick(resource, _parse(name))
        if isinstance(part, dict):
            _merge(out, part)
    return out


def _drop(value: object, path: tuple[str, ...]) -> object:
    if isinstance(value, list):
        return [_drop(item, path) for item in value]
    if not isinstance(value, dict):
        return value
    key = _key(value, path[0])
    if key is None:
        return value
    copy = dict(value)
    if len(path) == 1:
        del copy[key]
    else:
        copy[key] = _drop(copy[key], path[1:])
    return copy


def exclude(resource: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    out: object = resource
    for name in names:
        path = _parse(name)
        if path[0] in ALWAYS and len(path) == 1:
            continue
        out = _drop(out, path)
    assert isinstance(out, dict)
    return out


def project(resource: dict[str, Any], attributes: list[str] | None, excluded: list[str] | None) -> dict[str, Any]:
    if attributes:
        return include(resource, attributes)
    if excluded:
        return exclude(resource, excluded)
    return resource


def wants_attribute(name: str, attributes: list[str] | None, excluded: list[str] | None) -> bool:
    """Whether a costly attribute (a group's ``members``, a user's ``groups``) must be loaded."""
    lowered = name.lower()
    if attributes:
        return any(_parse(a)[0] == lowered for a in attributes)
    if excluded:
        return not any(_parse(e) == (lowered,) for e in excluded)
    return True
