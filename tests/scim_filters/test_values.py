"""The value index rows of a user document (``user_value_rows``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from scim2_models import InvalidFilterException

from scim_server.store.values import (
    BOOL,
    DATETIME,
    Col,
    comparison_key,
    iso_utc,
    operand_form,
    user_value_rows,
)
from tests.scim_filters.store import ENTERPRISE, canonical

OKTA_USER = canonical(
    {
        "userName": "Isaac.Brock@example.com",
        "externalId": "00u1",
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "displayName": "Isaac Brock",
        "password": "t1meMa$heen",
        "active": True,
        "emails": [
            {"primary": True, "value": "isaac.brock@example.com", "type": "work"},
            {"value": "ib@Home.example", "type": "home"},
        ],
        "locale": "en-US",
        ENTERPRISE: {"department": "R&D", "manager": {"value": "Mgr-7", "displayName": "The Boss"}},
    }
)


def _triples(rows: list[dict]) -> set[tuple[str, int, str, str]]:
    return {(r["path"], r["elem"], r["value"], r["value_ci"]) for r in rows}


def test_okta_user_rows() -> None:
    rows = user_value_rows("u1", 7, OKTA_USER)
    ent = ENTERPRISE.lower()
    assert _triples(rows) == {
        ("name.givenname", 0, "Isaac", "isaac"),
        ("name.familyname", 0, "Brock", "brock"),
        ("displayname", 0, "Isaac Brock", "isaac brock"),
        ("locale", 0, "en-US", "en-us"),
        ("emails.primary", 0, "true", "true"),
        ("emails.value", 0, "isaac.brock@example.com", "isaac.brock@example.com"),
        ("emails.type", 0, "work", "work"),
        ("emails.value", 1, "ib@Home.example", "ib@home.example"),  # stored as sent (RFC 7643 §4.1.2)
        ("emails.type", 1, "home", "home"),
        (f"{ent}:department", 0, "R&D", "r&d"),
        (f"{ent}:manager.value", 0, "Mgr-7", "Mgr-7"),  # caseExact: kept as is
        (f"{ent}:manager.displayname", 0, "The Boss", "the boss"),
    }
    assert all(r["user_id"] == "u1" and r["workspace_id"] == 7 and r["value_num"] is None for r in rows)
    assert {tuple(sorted(r)) for r in rows} == {
        ("elem", "path", "user_id", "value", "value_ci", "value_num", "workspace_id")
    }


def test_columns_secrets_and_read_only_attributes_get_no_rows() -> None:
    doc = {
        "id": "x", "userName": "a", "externalId": "e", "active": False, "password": "secret",
        "meta": {"created": "2024-01-01T00:00:00Z"}, "groups": [{"value": "g1"}],
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "unknownThing": "z",
        "title": None, "nickName": "",
    }  # fmt: skip
    assert _triples(user_value_rows("u", 1, doc)) == {("nickname", 0, "", "")}
    assert not any("secret" in str(r) for r in user_value_rows("u", 1, OKTA_USER))


def test_keys_are_matched_without_case_and_elements_numbered() -> None:
    doc = {
        "EMAILS": [{"VALUE": "a@x.org"}, {"type": "home"}, {"value": "c@x.org", "primary": False}],
        ENTERPRISE.upper(): {"Department": "X"},
    }
    assert _triples(user_value_rows("u", 1, doc)) == {
        ("emails.value", 0, "a@x.org", "a@x.org"),
        ("emails.type", 1, "home", "home"),
        ("emails.value", 2, "c@x.org", "c@x.org"),
        ("emails.primary", 2, "false", "false"),
        (f"{ENTERPRISE.lower()}:department", 0, "X", "x"),
    }


def test_comparison_key_is_scim2_models_default() -> None:
    assert comparison_key("ÉCOLE") == "école"
    assert comparison_key("Cafe\u0301") == "caf\u00e9"  # NFC
    assert comparison_key("Cafe\u0301", case_exact=True) == "Caf\u00e9"
    assert comparison_key("ABC", case_exact=True) == "ABC"


def test_datetimes_are_fixed_width_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2024, 5, 1, 2, 0, tzinfo=plus2)) == "2024-05-01T00:00:00.000000Z"
    assert iso_utc(datetime(999, 1, 1, tzinfo=UTC)) < iso_utc(datetime(2024, 1, 1, tzinfo=UTC))
    col = Col(None, DATETIME, False, native=False)
    assert operand_form(col, datetime(2024, 5, 1)) == "2024-05-01T00:00:00.000000Z"  # naive: UTC


def test_operand_form_refuses_mismatched_types() -> None:
    assert operand_form(Col(None, BOOL, False, native=False), True) == "true"
    with pytest.raises(InvalidFilterException):
        operand_form(Col(None, BOOL, False, native=False), "yes")
