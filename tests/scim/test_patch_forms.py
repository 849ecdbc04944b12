"""Property: the shapes in which IdPs send a PATCH do not change what is stored.

RFC 7644 §3.5.2 and RFC 7643 §2.1 make ``op`` values and attribute names case-insensitive; Entra
sends ``Replace``/``Add``/``Remove`` and ``"False"`` for ``active`` (Entra "known issues" page);
Okta and Entra send path-less operations whose value keys are attribute paths (``name.givenName``).
For any mix of those forms, over HTTP, the stored user must equal the one the canonical request
(lower-case ``op``, canonical names, each operation with its ``path``, JSON booleans) produces.
"""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scim.conftest import user_body

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# (op, path, kind of value): what the IdPs' documented requests touch.
OPERATIONS = [
    ("replace", "active", "bool"),
    ("replace", "name.givenName", "text"),
    ("replace", "name.familyName", "text"),
    ("add", "nickName", "text"),
    ("replace", "title", "text"),
    ("remove", "title", None),
    ("replace", 'emails[type eq "work"].value', "email"),
    ("add", f"{ENTERPRISE}:department", "text"),
    ("replace", "displayName", "text"),
]
BOOL_FORMS = {
    True: [True, "true", "True", "TRUE", "tRuE"],
    False: [False, "false", "False", "FALSE", "fAlSe"],
}
text_values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ", min_size=1, max_size=12).map(
    lambda s: s.strip() or "x"
)


def _recase(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(word, flips))


def _recase_path(draw: st.DrawFn, path: str) -> str:
    """Any casing of the attribute names (and of the filter's ``eq``), never of the URN or the
    compared value."""
    if path.startswith(ENTERPRISE):
        return ENTERPRISE + ":" + _recase(draw, path[len(ENTERPRISE) + 1 :])
    if "[" in path:
        return (
            _recase(draw, "emails")
            + "["
            + _recase(draw, "type")
            + " "
            + _recase(draw, "eq")
            + ' "work"].'
            + _recase(draw, "value")
        )
    return _recase(draw, path)


@st.composite
def patch_pairs(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:
    """(canonical operations, the same operations in IdP forms)."""
    chosen = draw(st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=4))
    canonical: list[dict] = []
    variant: list[dict] = []
    for op, path, kind in chosen:
        if kind is None:
            canonical.append({"op": op, "path": path})
            variant.append({"op": _recase(draw, op), "path": _recase_path(draw, path)})
            continue
        if kind == "bool":
            value: Any = draw(st.booleans())
            sent: Any = draw(st.sampled_from(BOOL_FORMS[value]))
        elif kind == "email":
            value = sent = f"{draw(text_values).replace(' ', '')}@example.com"
        else:
            value = sent = draw(text_values)
        canonical.append({"op": op, "path": path, "value": value})
        name = _recase_path(draw, path)
        if "[" not in path and op != "remove" and draw(st.booleans()):
            variant.append({"op": _recase(draw, op), "value": {name: sent}})  # path-less form
        else:
            variant.append({"op": _recase(draw, op), "path": name, "value": sent})
    return canonical, variant


def _stored_after(scim: httpx.Client, operations: list[dict]) -> tuple[int, dict]:
    """Create a fresh user (same attributes on both sides), PATCH it, return (status, stored
    user without the attributes that differ between the two sides by construction)."""
    user = user_body(
        emails=[{"value": "same@example.com", "type": "work", "primary": True}], title="Engineer"
    )
    created = scim.post("/Users", json=user)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    response = scim.patch(f"/Users/{user_id}", json={"schemas": [PATCH_OP], "Operations": operations})
    stored = scim.get(f"/Users/{user_id}").json()
    return response.status_code, {k: v for k, v in stored.items() if k not in ("id", "userName", "meta")}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=patch_pairs())
def test_idp_forms_store_what_the_canonical_request_stores(scim: httpx.Client, pair: tuple) -> None:
    canonical, variant = pair
    canonical_status, expected = _stored_after(scim, canonical)
    assert 200 <= canonical_status < 300, (canonical, expected)
    variant_status, actual = _stored_after(scim, variant)
    assert variant_status == canonical_status, variant
    assert actual == expected, variant
