"""sortBy/sortOrder (RFC 7644 §3.4.2.3) and index paging over a stable total order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scim2_models import InvalidValueException

from scim_server.scim import filters
from scim_server.store.values import comparison_key
from tests.scim_filters.store import ENTERPRISE, FilterStore, StoredUser, user

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _people() -> list[StoredUser]:
    out = []
    user_names = ["delta", "Alpha", "charlie", "Bravo", "echo", "ALPHA2", "foxtrot", "Golf", "hotel"]
    for i, name in enumerate(user_names):
        emails = [{"value": f"{name.lower()}@home.org", "type": "home"}]
        if i % 3 == 0:
            emails.append({"value": f"{chr(122 - i)}@work.org", "type": "work", "primary": True})
        body = {"userName": name, "active": i % 2 == 0, "emails": emails if i != 4 else []}
        if i % 2:
            body["title"] = ["Zoo", "apple", "Mango", "apple"][i // 2 % 4]
            body[ENTERPRISE] = {"employeeNumber": str(100 - i)}
        out.append(user(body, T0 + timedelta(days=i // 3)))  # equal created times: ties broken by id
    return out


PEOPLE = _people()


@pytest.fixture(scope="module")
def people(store: FilterStore) -> list[StoredUser]:
    store.clear()
    store.add(*PEOPLE)
    return PEOPLE


def _title(p: StoredUser) -> str | None:
    return comparison_key(p.doc["title"]) if "title" in p.doc else None


def _email(p: StoredUser) -> str | None:
    emails = p.doc.get("emails") or []
    chosen = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
    return comparison_key(chosen["value"]) if chosen else None


def expected(people: list[StoredUser], key: object, descending: bool) -> list[str]:
    """Python's order: values by code point, missing last ascending / first descending,
    ties by id ascending."""
    present = [p for p in people if key(p) is not None]  # type: ignore[operator]
    missing = sorted(p.id for p in people if key(p) is None)  # type: ignore[operator]
    by_id = sorted(present, key=lambda p: p.id)
    ordered = [p.id for p in sorted(by_id, key=key, reverse=descending)]  # type: ignore[arg-type]
    return missing + ordered if descending else ordered + missing


KEYS = {
    "userName": lambda p: comparison_key(p.doc["userName"]),
    "title": _title,
    "emails": _email,
    "emails.value": _email,
    "meta.created": lambda p: p.created,
    "active": lambda p: p.doc["active"],
    f"{ENTERPRISE}:employeeNumber": lambda p: p.doc.get(ENTERPRISE, {}).get("employeeNumber"),
}


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort_by", sorted(KEYS))
def test_sort_matches_python(
    store: FilterStore, people: list[StoredUser], sort_by: str, descending: bool
) -> None:
    order = "descending" if descending else "ascending"
    assert store.sorted_ids(sort_by, order) == expected(people, KEYS[sort_by], descending)


def test_default_order_is_creation_then_id(store: FilterStore, people: list[StoredUser]) -> None:
    assert store.sorted_ids(None, None) == [p.id for p in sorted(people, key=lambda p: (p.created, p.id))]
    assert store.sorted_ids("USERNAME", None) == store.sorted_ids("userName", "Ascending")


@settings(max_examples=25)
@given(sort_by=st.sampled_from([None, *sorted(KEYS)]), order=st.sampled_from([None, "descending"]),
       page=st.integers(min_value=1, max_value=4))  # fmt: skip
def test_pages_partition_the_sorted_list(store: FilterStore, people: list[StoredUser], sort_by: str | None,
                                         order: str | None, page: int) -> None:  # fmt: skip
    """Index paging: consecutive pages concatenate to the full order, no duplicates, no gaps."""
    full = store.sorted_ids(sort_by, order)
    pages: list[str] = []
    for offset in range(0, len(people), page):
        pages += store.sorted_ids(sort_by, order, offset=offset, limit=page)
    assert pages == full
    assert sorted(full) == sorted(p.id for p in people)


@pytest.mark.parametrize(
    ("sort_by", "order"),
    [("nope", None), ("name", None), ("userName pr", None), ("userName", "up"), ("password", None),
     ("groups.value", None), ("x509Certificates.value", None), ("emails[type eq \"work\"]", None)],
)  # fmt: skip
def test_invalid_sort_raises(sort_by: str, order: str | None) -> None:
    with pytest.raises(InvalidValueException):
        filters.user_order_by(sort_by, order)


def test_group_sort_columns() -> None:
    assert len(filters.group_order_by("displayName", "descending")) == 2
    with pytest.raises(InvalidValueException):
        filters.group_order_by("members.value", None)
