"""Hypothesis strategies for PATCH tests: stored documents, operations, re-casing, junk."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.scim_patch.helpers import CORE_USER, ENTERPRISE, canonical_user

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
NAME_SUBS = ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")
ENTERPRISE_SUBS = ("employeeNumber", "costCenter", "organization", "division", "department")
CORE_STRINGS = (
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "externalId",
)
# Paths of the plain leaves, in their canonical spelling.
LEAF_PATHS = (
    *CORE_STRINGS,
    *(f"name.{n}" for n in NAME_SUBS),
    *(f"{ENTERPRISE}:{n}" for n in ENTERPRISE_SUBS),
    f"{CORE_USER}:title",
    f"{CORE_USER}:name.givenName",
)
EMAILS = ("a@example.com", "b@example.org", "c@example.net")
ACTIVE_FORMS = {True: (True, "True", "true"), False: (False, "False", "false")}


def _subset(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(names), TEXT, max_size=3)


@st.composite
def stored_users(draw: st.DrawFn) -> dict[str, Any]:
    """A User document in the stored (canonical, model-dumped) form."""
    attrs: dict[str, Any] = {"userName": draw(TEXT.filter(str.strip))}
    attrs.update(draw(_subset(CORE_STRINGS)))
    if draw(st.booleans()):
        attrs["active"] = draw(st.booleans())
    if name := draw(_subset(NAME_SUBS)):
        attrs["name"] = name
    emails = draw(st.lists(st.sampled_from(EMAILS), max_size=2, unique=True))
    if emails:
        attrs["emails"] = [{"value": e, "type": t} for e, t in zip(emails, ("work", "home"), strict=False)]
    if ext := draw(_subset(ENTERPRISE_SUBS)):
        attrs[ENTERPRISE] = ext
    return canonical_user(**attrs)


def leaf_values(path: str) -> st.SearchStrategy[Any]:
    return st.one_of(TEXT, st.none(), st.integers(0, 2), st.booleans())


@st.composite
def leaf_ops(draw: st.DrawFn) -> dict[str, Any]:
    """An operation the fast path may take (or give up on: wrong types, required attributes)."""
    kind = draw(st.sampled_from(["path", "remove", "pathless", "active", "nested"]))
    op = draw(st.sampled_from(["add", "replace"]))
    if kind == "path":
        path = draw(st.sampled_from((*LEAF_PATHS, "userName")))
        return {"op": op, "path": path, "value": draw(leaf_values(path))}
    if kind == "remove":
        return {"op": "remove", "path": draw(st.sampled_from((*LEAF_PATHS, "active", "userName")))}
    if kind == "active":
        value = draw(st.sampled_from([True, False, "True", "false", "FALSE", "yes", 1, None, "x"]))
        return {"op": op, "path": "active", "value": value}
    if kind == "nested":
        sub = draw(st.dictionaries(st.sampled_from(NAME_SUBS), st.one_of(TEXT, st.none()), max_size=3))
        ext = draw(st.dictionaries(st.sampled_from(ENTERPRISE_SUBS), st.one_of(TEXT, st.none()), max_size=3))
        return {"op": op, "value": {"name": sub, ENTERPRISE: ext}}
    keys = draw(st.lists(st.sampled_from((*LEAF_PATHS, "active", "userName")), min_size=1, max_size=4))
    return {"op": op, "value": {k: draw(leaf_values(k)) for k in keys}}


@st.composite
def plain_ops(draw: st.DrawFn, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Operations the fast path takes on ``doc``, biased to empty its complex values."""
    present = [f"name.{k}" for k in doc.get("name", {})] + [
        f"{ENTERPRISE}:{k}" for k in doc.get(ENTERPRISE, {})
    ]
    paths = st.sampled_from((*LEAF_PATHS, *present, *present))
    one = st.one_of(
        st.builds(lambda p: {"op": "remove", "path": p}, paths),
        st.builds(lambda o, p, v: {"op": o, "path": p, "value": v}, st.sampled_from(["add", "replace"]), paths,
                  st.one_of(TEXT, st.none())),
        st.builds(lambda o, v: {"op": o, "value": {"active": v}}, st.sampled_from(["add", "replace"]),
                  st.sampled_from([True, False, "True", "False", "true", "false", None])),
        st.builds(lambda o, v: {"op": o, "value": v}, st.sampled_from(["add", "replace"]),
                  st.dictionaries(paths, st.one_of(TEXT, st.none()), min_size=1, max_size=3)),
    )  # fmt: skip
    return draw(st.lists(one, min_size=1, max_size=5))


OTHER_OPS = st.sampled_from(
    [
        {"op": "add", "path": 'emails[type eq "work"].value', "value": "w@example.com"},
        {"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555"},
        {"op": "remove", "path": 'emails[type eq "home"]'},
        {"op": "add", "path": "emails", "value": [{"value": "n@example.com", "type": "other"}]},
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": "m-1"},
        {"op": "replace", "value": {"title": "t", 'emails[type eq "work"].value': "z@example.com"}},
        {"op": "replace", "path": "name", "value": {"givenName": "G"}},
        {"op": "remove", "path": "name"},
        {"op": "remove", "path": ENTERPRISE},
    ]
)


def user_ops() -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.one_of(leaf_ops(), leaf_ops(), OTHER_OPS), min_size=1, max_size=4)


def recase(data: st.DataObject, text: str) -> str:
    """``text`` with each letter's case drawn at random (names are case-insensitive, RFC 7643 §2.1)."""
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
JUNK_PATHS = st.sampled_from(
    [
        None,
        "",
        "active",
        "members",
        'members[value eq "a"]',
        "members[value",
        "userName",
        "emails",
        'emails[type eq "work"].value',
        "emails[value pr]",
        "name",
        "name.givenName",
        "id",
        "meta",
        f"{ENTERPRISE}:manager",
        "urn:x:y:z",
        "displayName",
        "a..b",
        "emails[",
        "]",
        "schemas",
        7,
    ]
)
JUNK_OPS = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "Remove", "REPLACE", "bogus", 1, None]),
            "path": JUNK_PATHS,
            "value": JSON,
        }
    ),
)
JUNK_BODIES = st.one_of(
    JSON,
    st.builds(
        lambda ops: {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops},
        st.lists(JUNK_OPS, max_size=3),
    ),
)
