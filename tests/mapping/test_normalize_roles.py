"""Normalisation keys and the role vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapping import AssignmentRule, RoleVocabulary, entitlement_of, normalize_email, normalize_username
from tests.mapping.strategies import PROPERTY, VOCAB


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Ann.Lee@Example.COM", "ann.lee@example.com"),
        ("  ann@example.com\t", "ann@example.com"),
        ("MAILTO:ann@example.com", "ann@example.com"),
        ("ann@example.com.", "ann@example.com"),
        ("JÜRGEN.STRASSE@example.de", "jürgen.strasse@example.de"),
        ("Jürgen.Straße@Example.de", "jürgen.strasse@example.de"),
        ("ａｎｎ@example.com", "ann@example.com"),  # fullwidth letters: NFKC
        ("ann+tag@example.com", "ann+tag@example.com"),  # sub-addresses are not folded
    ],
)
def test_email_keys(raw: str, key: str) -> None:
    assert normalize_email(raw) == key


@pytest.mark.parametrize("raw", [None, "", "   ", "ann", "@example.com", "ann@", "mailto:"])
def test_what_is_not_an_address_has_no_key(raw: str | None) -> None:
    assert normalize_email(raw) is None


def test_username_keys() -> None:
    assert normalize_username(" @Ann.Lee ") == "ann.lee"
    assert normalize_username("@") is None and normalize_username(None) is None


@PROPERTY
@given(st.one_of(st.none(), st.text()))
def test_normalisation_is_total_and_idempotent(raw: str | None) -> None:
    key = normalize_email(raw)
    assert key is None or normalize_email(key) == key
    name = normalize_username(raw)
    assert name is None or normalize_username(name) == name


@dataclass(frozen=True)
class CatalogRole:  # the shape of connectors.base.Role
    key: str
    owner_level: bool = False


def test_vocabulary_from_catalog_roles() -> None:
    vocab = RoleVocabulary.from_roles("github", [CatalogRole("admin", True), CatalogRole("member")])
    assert vocab.highest_role(["member", "admin"]) == "admin"
    assert vocab.default_app_role("owner") == "admin" and vocab.default_app_role("collaborator") == "member"
    assert vocab.bridge_role_of("admin") == "owner" and vocab.bridge_role_of("member") == "collaborator"


def test_unknown_roles_rank_below_known_ones() -> None:
    assert VOCAB.highest_role(["zzz-custom", "guest"]) == "guest"
    assert VOCAB.highest_role(["b-custom", "a-custom"]) == "b-custom"  # ties by name: deterministic
    assert VOCAB.highest_permission(["odd", "view", "manage"]) == "manage"


def test_a_vocabulary_needs_roles_and_known_defaults() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        RoleVocabulary("x", ())
    with pytest.raises(ValueError, match="not in"):
        RoleVocabulary("x", ("a",), default_owner_role="b")


def test_overlapping_grants_keep_the_highest_permission() -> None:
    rules = (
        AssignmentRule("r1", "g1", "collaborator", "guest", (("a1", "view"), ("a2", "edit"))),
        AssignmentRule("r2", "g2", "collaborator", None, (("a1", "manage"),)),
    )
    entitlement = entitlement_of(rules, VOCAB)
    assert entitlement.assets == (("a1", "manage"), ("a2", "edit"))
    assert entitlement.app_role == "guest"  # r2 names none: the default collaborator role, the lowest
