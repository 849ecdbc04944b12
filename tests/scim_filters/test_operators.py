"""Each operator and the tricky cases of RFC 7644 §3.4.2.2, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scim2_models import InvalidFilterException

from scim_server.scim import filters
from tests.scim_filters.store import ENTERPRISE, OTHER_WS, FilterStore, StoredUser, user

BJENSEN = user(
    {
        "userName": "BJensen",
        "externalId": "Ext-1",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "active": True,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        ENTERPRISE: {"department": "Sales", "employeeNumber": "701984", "manager": {"value": "M-1"}},
    },
    datetime(2024, 1, 1, tzinfo=UTC),
    user_id="00000000-0000-4000-8000-00000000000b",
)
JSMITH = user(
    {
        "userName": "jsmith",
        "name": {"givenName": "John", "familyName": "Smith"},
        "active": False,
        "emails": [
            {"value": "john@example.com", "type": "home"},
            {"value": "js@corp.example", "type": "work", "primary": False},
        ],
        ENTERPRISE: {"department": "Eng"},
    },
    datetime(2024, 6, 1, tzinfo=UTC),
    user_id="00000000-0000-4000-8000-00000000000a",
)
NOMAIL = user(
    {"userName": "NoMail", "displayName": "Zed", "active": True},
    datetime(2023, 1, 1, tzinfo=UTC),
    user_id="00000000-0000-4000-8000-00000000000c",
)
ELSEWHERE = user({"userName": "bjensen", "title": "Tour Guide", "active": True}, workspace_id=OTHER_WS)


@pytest.fixture(scope="module")
def people(store: FilterStore) -> dict[str, StoredUser]:
    store.clear()
    store.add(BJENSEN, JSMITH, NOMAIL, ELSEWHERE)
    return {"bjensen": BJENSEN, "jsmith": JSMITH, "nomail": NOMAIL}


def names(store: FilterStore, people: dict[str, StoredUser], text: str, **kw: bool) -> set[str]:
    by_id = {person.id: name for name, person in people.items()}
    return {by_id[i] for i in store.user_ids(text, **kw)}


CASES = [
    # userName is caseExact=false: every operator compares without case
    ('userName eq "bjensen"', {"bjensen"}),
    ('userName eq "BJENSEN"', {"bjensen"}),
    ('USERNAME eq "bjensen"', {"bjensen"}),
    ('userName co "JEN"', {"bjensen"}),
    ('userName sw "j"', {"jsmith"}),
    ('userName ew "MAIL"', {"nomail"}),
    ('userName gt "c"', {"jsmith", "nomail"}),
    ('userName ge "jsmith"', {"jsmith", "nomail"}),
    ('userName lt "jsmith"', {"bjensen"}),
    ('userName le "jsmith"', {"bjensen", "jsmith"}),
    ('userName ne "bjensen"', {"jsmith", "nomail"}),
    ('id eq "' + BJENSEN.id + '"', {"bjensen"}),
    # externalId is caseExact=true
    ('externalId eq "Ext-1"', {"bjensen"}),
    ('externalId eq "ext-1"', set()),
    ('externalId co "xt"', {"bjensen"}),
    ('externalId co "XT"', set()),
    ('externalId ne "Ext-1"', {"jsmith", "nomail"}),
    ('externalId pr', {"bjensen"}),
    # a missing attribute: ne and not(eq) match it, everything else does not
    ('title ne "tour guide"', {"jsmith", "nomail"}),
    ('not (title eq "Tour Guide")', {"jsmith", "nomail"}),
    ('title gt "a"', {"bjensen"}),
    ('title pr', {"bjensen"}),
    ('not (title pr)', {"jsmith", "nomail"}),
    ('title eq null', {"jsmith", "nomail"}),
    ('title ne null', {"bjensen"}),
    ('displayName eq "babs jensen"', {"bjensen"}),
    ('displayName lt "b"', set()),
    # sub-attributes and complex attributes
    ('name.givenName sw "bar"', {"bjensen"}),
    ('name.familyName ew "TH"', {"jsmith"}),
    ('name pr', {"bjensen", "jsmith"}),
    ('emails pr', {"bjensen", "jsmith"}),
    ('emails.value pr', {"bjensen", "jsmith"}),
    ('emails co "jensen.org"', {"bjensen"}),
    ('emails.value eq "JOHN@example.com"', {"jsmith"}),
    ('emails.value ne "john@example.com"', {"bjensen", "nomail"}),
    ('emails.value eq null', {"nomail"}),
    ('emails.primary eq true', {"bjensen"}),
    ('emails.primary eq false', {"jsmith"}),
    ('emails.primary ne true', {"jsmith", "nomail"}),
    # value paths: both conditions on ONE element, versus on any elements
    ('emails[type eq "work" and value co "example.com"]', {"bjensen"}),
    ('emails.type eq "work" and emails.value co "example.com"', {"bjensen", "jsmith"}),
    ('emails[type eq "work"].value eq "js@corp.example"', {"jsmith"}),
    ('emails[type eq "home" and primary eq true]', set()),
    ('emails[not (type eq "work")]', {"bjensen", "jsmith"}),
    ('emails[type ne "work" and value ew ".org"]', {"bjensen"}),
    ('emails[primary pr and not (primary eq true)]', {"jsmith"}),
    ('emails[type eq "work" or value sw "john"]', {"bjensen", "jsmith"}),
    ('not (emails[type eq "work"])', {"nomail"}),
    ('emails[primary eq null]', {"bjensen", "jsmith"}),
    # booleans
    ('active eq true', {"bjensen", "nomail"}),
    ('active ne true', {"jsmith"}),
    ('active eq "false"', {"jsmith"}),
    # and binds tighter than or; parentheses override
    ('userName eq "nomail" or userName eq "bjensen" and active eq false', {"nomail"}),
    ('(userName eq "nomail" or userName eq "bjensen") and active eq false', set()),
    ('userName eq "jsmith" or not (active eq true) and title pr', {"jsmith"}),
    ('not (userName eq "nomail" or userName eq "jsmith")', {"bjensen"}),
    # fully qualified paths, core and enterprise
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "jsmith"', {"jsmith"}),
    ('urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "JOHN"', {"jsmith"}),
    (f'{ENTERPRISE}:department eq "sales"', {"bjensen"}),
    (f'{ENTERPRISE.upper()}:DEPARTMENT co "n"', {"jsmith"}),
    (f'{ENTERPRISE}:employeeNumber pr', {"bjensen"}),
    (f'{ENTERPRISE}:manager.value eq "M-1"', {"bjensen"}),
    (f'{ENTERPRISE}:manager.value eq "m-1"', set()),  # caseExact
    (f'{ENTERPRISE}:manager pr', {"bjensen"}),
    (f'not ({ENTERPRISE}:manager.value pr)', {"jsmith", "nomail"}),
    # meta: dateTime compares by instant, whatever the offset
    ('meta.created gt "2024-03-01T00:00:00Z"', {"jsmith"}),
    ('meta.created eq "2024-06-01T02:00:00+02:00"', {"jsmith"}),
    ('meta.created lt "2024-01-01T00:00:00Z"', {"nomail"}),
    ('meta.created le "2024-01-01T00:00:00Z"', {"bjensen", "nomail"}),
    ('meta.lastModified ge "2024-01-01T00:00:00Z"', {"bjensen", "jsmith"}),
    ('meta.created pr and meta.resourceType eq "User"', {"bjensen", "jsmith", "nomail"}),
    ('meta.resourceType eq "Group"', set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter(store: FilterStore, people: dict[str, StoredUser], text: str, expected: set[str]) -> None:
    assert names(store, people, text) == expected


@pytest.mark.parametrize(
    "text",
    ['userName eq "bjensen"', 'emails[type eq "work" and value co "example"]', "title pr", 'title ne "x"'],
)
def test_without_workspace_id_same_result(
    store: FilterStore, people: dict[str, StoredUser], text: str
) -> None:
    """The correlated-EXISTS form (no workspace id given) agrees with the indexed form."""
    assert names(store, people, text, with_workspace=False) == names(store, people, text)


def test_other_workspace_invisible(store: FilterStore, people: dict[str, StoredUser]) -> None:
    assert store.user_ids('title eq "tour guide"', OTHER_WS) == {ELSEWHERE.id}
    assert store.user_ids('title eq "tour guide"') == {BJENSEN.id}


def test_group_membership_filters(store: FilterStore, people: dict[str, StoredUser]) -> None:
    admins = store.add_group("Admins", [BJENSEN.id, JSMITH.id])
    sales = store.add_group("Sales", [BJENSEN.id])
    assert names(store, people, f'groups.value eq "{sales}"') == {"bjensen"}
    assert names(store, people, f'groups eq "{admins}"') == {"bjensen", "jsmith"}
    assert names(store, people, f'groups.value ne "{sales}"') == {"jsmith", "nomail"}
    assert names(store, people, 'groups[display eq "admins" and type eq "direct"]') == {"bjensen", "jsmith"}
    assert names(store, people, 'groups.display co "ale"') == {"bjensen"}
    assert names(store, people, "not (groups pr)") == {"nomail"}
    assert store.group_ids('displayName eq "ADMINS"') == {admins}
    assert store.group_ids(f'members.value eq "{JSMITH.id}"') == {admins}
    assert store.group_ids(f'members[value eq "{BJENSEN.id}" and type eq "user"]') == {admins, sales}
    assert store.group_ids(f'members ne "{JSMITH.id}"') == {sales}
    assert store.group_ids('displayName sw "s" or members pr') == {admins, sales}
    created = 'meta.created ge "2024-01-01T00:00:00Z" and not (externalId pr)'
    assert store.group_ids(created) == {admins, sales}


MALFORMED = [
    "",
    "userName eq",
    'userName xx "a"',
    '(userName eq "a"',
    'userName eq "a" and',
    'not userName eq "a"',
    'userName eq "a" extra',
    'emails[type eq "work"',
    'userName eq "unterminated',
    "userName eq 'single quotes'",
]
UNKNOWN_OR_UNSUPPORTED = [
    'foo eq "x"',
    "name.middle pr",
    'emails[foo eq "x"]',
    'urn:example:unknown:1.0:User:x eq "y"',
    'password eq "secret"',
    "meta.location pr",
    'meta.version eq "W/\\"1\\""',
    "active gt true",
    'emails.primary co "t"',
    'name eq "x"',
    'title[value eq "x"]',
    'groups.$ref pr',
    'emails[type eq "work" and emails[value pr]]',
    " or ".join(['userName eq "x"'] * (filters.MAX_FILTER_TERMS + 1)),
]


@pytest.mark.parametrize("text", MALFORMED + UNKNOWN_OR_UNSUPPORTED)
def test_invalid_filters_raise(text: str) -> None:
    with pytest.raises(InvalidFilterException):
        filters.user_where(text, 1)


@pytest.mark.parametrize(
    "text", ['title eq "x"', 'members.display eq "x"', "userName pr", "members[display pr]"]
)
def test_invalid_group_filters_raise(text: str) -> None:
    with pytest.raises(InvalidFilterException):
        filters.group_where(text, 1)


def test_plans_are_cached() -> None:
    assert filters.user_filter('userName eq "a"') is filters.user_filter('userName eq "a"')
