"""Hypothesis strategies for User bodies: the plain ones IdPs send, and every near miss."""

from __future__ import annotations

import copy
import unicodedata
from typing import Any

from hypothesis import strategies as st

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
FOREIGN = "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User"

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8)
# userName and displayName as scim/value_rules.py takes them: no control characters, no
# bidirectional overrides, not blank.
NAME = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"),
    min_size=1, max_size=8,
).filter(lambda text: not all(c.isspace() or unicodedata.category(c) == "Cf" for c in text))
NAME_SUBS = ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")
ENTERPRISE_SUBS = ("employeeNumber", "costCenter", "organization", "division", "department")
CORE_STRINGS = ("externalId", "displayName", "nickName", "title", "userType", "preferredLanguage", "locale",
                "timezone", "password")  # fmt: skip
# Multi-valued attribute -> the canonical values of its ``type`` (None: any string).
MULTI = {
    "emails": ("work", "home", "other"),
    "phoneNumbers": ("work", "home", "mobile", "fax", "pager", "other"),
    "ims": ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
    "roles": None,
    "entitlements": None,
}
ADDRESS_SUBS = ("formatted", "streetAddress", "locality", "region", "postalCode", "country")


def _shuffled(draw: st.DrawFn, items: dict[str, Any]) -> dict[str, Any]:
    keys = draw(st.permutations(list(items)))
    return {key: items[key] for key in keys}


@st.composite
def _entry(draw: st.DrawFn, types: tuple[str, ...] | None, subs: tuple[str, ...] = ("value", "display")) -> dict:
    entry: dict[str, Any] = dict(draw(st.dictionaries(st.sampled_from(subs), TEXT, max_size=len(subs))))
    if draw(st.booleans()):
        entry["type"] = draw(st.sampled_from(types) if types else TEXT)
    if draw(st.booleans()):
        entry["primary"] = draw(st.booleans())
    if not entry:
        entry[subs[0]] = draw(TEXT)
    return _shuffled(draw, entry)


@st.composite
def _entries(draw: st.DrawFn, types: tuple[str, ...] | None, subs: tuple[str, ...] = ("value", "display")) -> list:
    entries = draw(st.lists(_entry(types, subs), min_size=1, max_size=3))
    seen = False
    for entry in entries:  # at most one primary (RFC 7643 §2.4)
        if entry.get("primary") is True:
            if seen:
                entry["primary"] = False
            seen = True
    return entries


@st.composite
def plain_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A create/replace body of plain values, in any key order: what Okta and Entra send."""
    body: dict[str, Any] = {"userName": draw(NAME)}
    body.update(draw(st.dictionaries(st.sampled_from(CORE_STRINGS), TEXT, max_size=4)))
    if "displayName" in body:
        body["displayName"] = draw(NAME | st.just(""))
    if draw(st.booleans()):
        body["active"] = draw(st.booleans())
    if name := draw(st.dictionaries(st.sampled_from(NAME_SUBS), TEXT, max_size=4)):
        body["name"] = _shuffled(draw, name)
    for attr in draw(st.lists(st.sampled_from(list(MULTI)), max_size=3, unique=True)):
        body[attr] = draw(_entries(MULTI[attr]))
    if draw(st.booleans()):
        body["addresses"] = draw(_entries(("work", "home", "other"), ADDRESS_SUBS))
    schemas = [CORE_USER]
    if ext := draw(st.dictionaries(st.sampled_from(ENTERPRISE_SUBS), TEXT, max_size=3)):
        body[ENTERPRISE] = _shuffled(draw, ext)
        schemas.append(ENTERPRISE)
    elif draw(st.booleans()):
        schemas.append(ENTERPRISE)  # listed without data: the stored document drops it
    body = _shuffled(draw, body)
    return {"schemas": schemas, **body}


ODD_VALUES = st.sampled_from([None, 1, 0, 1.5, True, False, "", "True", "false", [], {}, ["x"], {"value": "x"},
                              [{}], [None], "Work", "WORK", "pager2"]).map(copy.deepcopy)  # fmt: skip
ODD_KEYS = ("USERNAME", "username", "Emails", "NAME", "id", "meta", "groups", "profileUrl", "photos",
            "x509Certificates", "unknownAttr", "schemas", FOREIGN, ENTERPRISE.upper(), "manager")  # fmt: skip


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a body where a value sits (dict keys, list items), as key paths."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _set(body: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        body = body[step]
    body[path[-1]] = value


def _container(body: Any, path: tuple) -> Any:
    for step in path:
        body = body[step]
    return body


@st.composite
def mutated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A plain body with one to three changes that may take it off the fast path: a value
    of another type, an odd key, a re-cased key, odd ``schemas``, a second primary..."""
    body = draw(plain_bodies())
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "key", "recase", "schemas", "primary", "extension", "manager"]))
        paths = _paths(body)
        if kind == "value":
            _set(body, draw(st.sampled_from(paths)), draw(ODD_VALUES))
        elif kind == "key":
            containers = [()] + [p for p in paths if isinstance(_container(body, p), dict)]
            target = _container(body, draw(st.sampled_from(containers)))
            target[draw(st.sampled_from(ODD_KEYS))] = draw(st.one_of(TEXT, ODD_VALUES))
        elif kind == "recase":
            keys = [k for k in body if k != "schemas"]
            if keys:
                key = draw(st.sampled_from(keys))
                body[key.upper() if draw(st.booleans()) else key.lower()] = body.pop(key)
        elif kind == "schemas":
            body["schemas"] = copy.deepcopy(draw(st.sampled_from([[ENTERPRISE, CORE_USER], [CORE_USER, CORE_USER], [CORE_USER.upper()],
                                                    [CORE_USER, FOREIGN], [ENTERPRISE], [], "x", None, [CORE_USER, 3]])))  # fmt: skip
        elif kind == "primary":
            body["emails"] = [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}]
        elif kind == "extension":
            body[ENTERPRISE] = copy.deepcopy(draw(st.sampled_from([{}, {"department": None}, {"department": "d"}, "x",
                                                     {"schemas": [ENTERPRISE]}, {"Department": "d"}])))  # fmt: skip
        else:
            body.setdefault(ENTERPRISE, {})
            if isinstance(body[ENTERPRISE], dict):
                body[ENTERPRISE]["manager"] = copy.deepcopy(draw(st.sampled_from(["m-1", {"value": "m-1"}, "", None])))
    return body
