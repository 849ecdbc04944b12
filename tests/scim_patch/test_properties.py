"""Properties of the PATCH engine, checked on generated documents and requests (hypothesis)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from scim2_models import SCIMException

from scim_server.scim.patch import (
    _USER_LEAVES,
    GroupPatchResult,
    _fast_patch,
    _user_op,
    apply_group_patch,
    apply_user_patch,
    normalize_patch,
)
from tests.scim_patch.helpers import ENTERPRISE, bjensen, body, canonical_group
from tests.scim_patch.strategies import (
    ACTIVE_FORMS,
    JUNK_BODIES,
    plain_ops,
    recase,
    stored_users,
    user_ops,
)


def outcome(doc: dict[str, Any], ops: list[dict[str, Any]], fast: bool) -> tuple[str, Any]:
    try:
        return "ok", apply_user_patch(doc, normalize_patch(body(*ops)), fast=fast)
    except SCIMException as exc:
        return "error", type(exc)


@given(st.data())
def test_fast_path_takes_plain_operations_and_agrees_with_the_model(data: st.DataObject) -> None:
    doc = data.draw(stored_users())
    raw = data.draw(plain_ops(doc))
    ops = normalize_patch(body(*raw))
    # Private on purpose: this proves the fast path ran, not that it fell back to the model.
    assert _fast_patch(doc, [_user_op(op) for op in ops], _USER_LEAVES) is not None
    # Both paths may refuse a value the storage rules refuse (scim/value_rules.py): alike.
    assert outcome(doc, raw, fast=True) == outcome(doc, raw, fast=False)


@given(stored_users(), user_ops())
def test_fast_path_gives_what_the_model_path_gives(doc: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    assert outcome(doc, ops, fast=True) == outcome(doc, ops, fast=False)


CANONICAL = [
    ("replace", "active", None),
    ("replace", "name.givenName", "Gina"),
    ("add", "title", "CTO"),
    ("replace", f"{ENTERPRISE}:department", "R&D"),
    ("add", 'emails[type eq "work"].value', "gina@example.com"),
    ("add", 'phoneNumbers[type eq "mobile"].value', "+1 555 0100"),
    ("remove", "nickName", None),
    ("replace", "displayName", "Gina"),
]


def _recase_path(data: st.DataObject, path: str) -> str:
    """Re-case a path's names and operator, never the filter's compared value."""
    if "[" not in path:
        return recase(data, path)
    head, rest = path.split("[", 1)
    filt, tail = rest.split("]", 1)
    attr, operator, value = filt.split(" ", 2)
    return f"{recase(data, head)}[{recase(data, attr)} {recase(data, operator)} {value}]{recase(data, tail)}"


@given(stored_users(), st.data(), st.booleans(), st.lists(st.sampled_from(CANONICAL), min_size=1, max_size=4))
def test_any_casing_and_any_form_of_active_gives_the_canonical_result(
    doc: dict[str, Any], data: st.DataObject, active: bool, chosen: list[tuple[str, str, Any]]
) -> None:
    canonical, varied = [], []
    for op, path, value in chosen:
        if path == "active":
            value, variant = active, data.draw(st.sampled_from(ACTIVE_FORMS[active]))
        else:
            variant = value
        canonical.append({"op": op, "path": path} | ({} if op == "remove" else {"value": value}))
        pathless = op != "remove" and "[" not in path and data.draw(st.booleans())
        name = _recase_path(data, path)
        entry: dict[str, Any] = {"op": recase(data, op)}
        entry |= (
            {"value": {name: variant}}
            if pathless
            else {"path": name} | ({} if op == "remove" else {"value": variant})
        )
        varied.append(entry)
    assert outcome(doc, varied, fast=True) == outcome(doc, canonical, fast=True)


@given(stored_users(), JUNK_BODIES)
def test_user_patch_never_crashes_nor_mutates_its_input(doc: dict[str, Any], request_body: Any) -> None:
    before = copy.deepcopy(doc)
    try:
        apply_user_patch(doc, normalize_patch(request_body))
    except SCIMException as exc:
        assert 400 <= exc.status < 500
    assert doc == before


@given(JUNK_BODIES)
def test_group_patch_never_crashes_nor_mutates_its_input(request_body: Any) -> None:
    doc = canonical_group(displayName="Eng", externalId="e")
    before = copy.deepcopy(doc)
    try:
        apply_group_patch(doc, normalize_patch(request_body))
    except SCIMException as exc:
        assert 400 <= exc.status < 500
    assert doc == before


@given(user_ops())
def test_user_patch_never_mutates_its_input_even_when_it_succeeds(ops: list[dict[str, Any]]) -> None:
    doc = bjensen()
    before = copy.deepcopy(doc)
    for fast in (True, False):
        outcome(doc, ops, fast)
        assert doc == before


# --- Group members, modelled as a Python set ------------------------------------------------

IDS = st.sampled_from(["a", "b", "c", "d", "e"])
MEMBER_OPS = st.one_of(
    st.lists(IDS, min_size=1, max_size=3).map(lambda ids: ("add", ids)),
    st.lists(IDS, min_size=1, max_size=3).map(lambda ids: ("remove_value", ids)),
    st.lists(IDS, min_size=1, max_size=3).map(lambda ids: ("remove_filter", ids)),
    st.lists(IDS, max_size=3).map(lambda ids: ("replace", ids)),
    st.just(("remove_all", [])),
)


def _request(kind: str, ids: list[str]) -> dict[str, Any]:
    values = [{"value": i} for i in ids]
    if kind == "add":
        return {"op": "add", "path": "members", "value": values}
    if kind == "remove_value":
        return {"op": "Remove", "path": "members", "value": values}
    if kind == "remove_filter":
        return {"op": "remove", "path": "members[" + " or ".join(f'value eq "{i}"' for i in ids) + "]"}
    if kind == "replace":
        return {"op": "replace", "path": "members", "value": values}
    return {"op": "remove", "path": "members"}


def _sequential(members: set[str], kind: str, ids: list[str]) -> set[str]:
    """The reference semantics: each operation applied to the full member set."""
    if kind == "add":
        return members | set(ids)
    if kind in ("remove_value", "remove_filter"):
        return members - set(ids)
    return set(ids) if kind == "replace" else set()


def _store(members: set[str], result: GroupPatchResult) -> set[str]:
    """What the store does with a result, in the documented order, without the member list."""
    if result.remove_all_members or result.replace_members is not None:
        members = set()
    members = (members | set(result.replace_members or [])) - set(result.remove_members)
    return members | set(result.add_members)


@given(st.sets(IDS), st.lists(MEMBER_OPS, min_size=1, max_size=6))
def test_member_changes_equal_applying_each_operation_to_the_set(
    initial: set[str], sequence: list[tuple[str, list[str]]]
) -> None:
    expected = set(initial)
    for kind, ids in sequence:
        expected = _sequential(expected, kind, ids)
    result = apply_group_patch(
        canonical_group(displayName="g"), normalize_patch(body(*(_request(*s) for s in sequence)))
    )
    assert _store(set(initial), result) == expected
    assert not set(result.add_members) & set(result.remove_members)


@given(st.sets(IDS), st.lists(IDS, min_size=1, max_size=4, unique=True), st.booleans())
def test_adding_then_removing_new_ids_is_a_no_op(initial: set[str], ids: list[str], by_filter: bool) -> None:
    fresh = [i for i in ids if i not in initial]
    if not fresh:
        return
    remove = _request("remove_filter" if by_filter else "remove_value", fresh)
    result = apply_group_patch(
        canonical_group(displayName="g"), normalize_patch(body(_request("add", fresh), remove))
    )
    assert _store(set(initial), result) == initial
