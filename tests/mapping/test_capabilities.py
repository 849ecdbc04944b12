"""Capabilities reach the plan (issue 10): ``mapping.capabilities`` agrees with the connector classes,
and a plan never asks a kind for a change it cannot make; each such change is a visible conflict."""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import (
    CAPABILITIES,
    CAPABILITY_PROTOCOLS,
    CapabilityName,
    ReadsMember,
    ReadsPermission,
    UnsupportedCapability,
    require,
)
from connectors.errors import ConnectorError, RetryableError
from connectors.registry import CATALOG, capabilities, get_spec
from mapping import (
    ALL_CAPABILITIES,
    KIND_CAPABILITIES,
    KIND_READS,
    Action,
    Actual,
    Adopt,
    AppPolicy,
    AssignmentRule,
    Capability,
    ChangeRole,
    Conflict,
    Grant,
    Invite,
    Plan,
    Reconciliation,
    Remove,
    ReportEntry,
    Revoke,
    RoleVocabulary,
    apply,
    asset_grants,
    can,
    capabilities_of,
    needed_capability,
    reads_of,
    reconcile,
)
from tests.mapping.strategies import PROPERTY, Scenario, scenarios
from tests.mapping.test_plan import member, run, user

# -- the table agrees with the connector classes -------------------------------------------------


def test_the_capability_names_are_the_same_on_both_sides() -> None:
    assert get_args(Capability) == get_args(CapabilityName)
    assert ALL_CAPABILITIES == frozenset(get_args(Capability))
    assert tuple(CAPABILITY_PROTOCOLS.values()) == CAPABILITIES  # one name per protocol, same order


def test_every_catalog_kind_has_a_row_and_no_row_is_for_an_unknown_kind() -> None:
    assert set(KIND_CAPABILITIES) == set(CATALOG)


@pytest.mark.parametrize("kind", sorted(KIND_CAPABILITIES))
def test_the_table_is_what_the_connector_class_implements(kind: str) -> None:
    implemented = set(capabilities(get_spec(kind).cls))  # derived from the protocols, never declared
    assert {CAPABILITY_PROTOCOLS[c].__name__ for c in KIND_CAPABILITIES[kind]} == implemented


@pytest.mark.parametrize("kind", sorted(KIND_CAPABILITIES))
def test_require_and_can_agree_on_every_capability(kind: str) -> None:
    cls = get_spec(kind).cls
    connector = cls.__new__(cls)  # no client needed: ``require`` only looks at what the class is
    for capability in get_args(CapabilityName):
        if can(kind, capability):
            assert require(connector, capability) is connector
        else:
            with pytest.raises(UnsupportedCapability) as caught:
                require(connector, capability)
            assert caught.value.capability == capability and caught.value.kind == kind
            assert not isinstance(caught.value, RetryableError)


def test_calendly_and_asana_cannot_change_roles_github_can() -> None:
    assert not can("calendly", "change_role") and not can("asana", "change_role")
    assert can("github", "change_role") and can("asana", "grant_assets")
    assert not can("calendly", "grant_assets") and not can("slack", "read_assets")


def test_an_unknown_kind_can_do_nothing() -> None:
    assert capabilities_of("myspace") == frozenset() and not can("myspace", "remove")


def test_the_typed_error_is_a_connector_error_with_a_plain_message() -> None:
    calendly = get_spec("calendly").cls
    with pytest.raises(ConnectorError, match=r"^calendly change_role failed: calendly cannot change role$"):
        require(calendly.__new__(calendly), "change_role")


def test_each_app_action_needs_one_capability_and_bookkeeping_none() -> None:
    assert needed_capability(ChangeRole("m", "r", "a", "b")) == "change_role"
    assert (
        needed_capability(Grant("m", "r", "x", "p"))
        == needed_capability(Revoke("m", "r", "x"))
        == "grant_assets"
    )
    assert needed_capability(Invite("u", "e@x", "member", "collaborator")) == "invite"
    assert needed_capability(Remove("m", "r", "u", (), "admin")) == "remove"
    assert needed_capability(ReportEntry("m", "r", "u", "deactivated")) == "remove"
    assert needed_capability(Adopt("m", "u")) is None


# -- examples --------------------------------------------------------------------------------------

CALENDLY = RoleVocabulary("calendly", ("owner", "admin", "user"), frozenset({"owner", "admin"}))
ADMINS = AssignmentRule("r-admins", "admins", "owner", "admin")


def _calendly(**kw: object) -> AppPolicy:
    return AppPolicy(CALENDLY, capabilities=capabilities_of("calendly"), **kw)  # type: ignore[arg-type]


def test_a_role_calendly_cannot_change_is_a_conflict_naming_the_member_not_a_job() -> None:
    result = run([user("u1")], [member("m1", "u1@example.com", "user")], {"u1": {"admins"}}, (ADMINS,),
                 policy=_calendly())  # fmt: skip
    assert result.plan.actions == (
        Adopt("m1", "u1"),
    )  # the rules manage it; the role is the admin's to change
    (conflict,) = result.plan.conflicts
    assert (conflict.kind, conflict.member_id, conflict.user_id, conflict.capability) == (
        "unsupported", "m1", "u1", "change_role")  # fmt: skip
    assert "calendly cannot change a member's role" in conflict.detail and "'admin'" in conflict.detail
    adopted = Actual((member("m1", "u1@example.com", "user"),), managed={"m1": "u1"})
    again = run([user("u1")], [], {"u1": {"admins"}}, (ADMINS,), policy=_calendly(), actual=adopted)
    assert again.plan.actions == () and again.plan.conflicts == result.plan.conflicts


def test_the_same_change_on_a_kind_that_can_is_a_job() -> None:
    result = run([user("u1")], [member("m1", "u1@example.com", "user")], {"u1": {"admins"}}, (ADMINS,),
                 policy=AppPolicy(CALENDLY))  # fmt: skip
    assert ChangeRole("m1", "r-m1", "user", "admin") in result.plan.actions and result.plan.conflicts == ()


def test_asana_grants_assets_but_its_role_change_is_a_conflict() -> None:
    rule = AssignmentRule("r", "eng", "owner", "admin", asset_grants({"p1": "editor"}))
    vocabulary = RoleVocabulary("asana", ("admin", "member"), frozenset({"admin"}), ("editor", "commenter"))
    policy = AppPolicy(vocabulary, capabilities=capabilities_of("asana"))
    result = run(
        [user("u1")], [member("m1", "u1@example.com", "member")], {"u1": {"eng"}}, (rule,), policy=policy
    )
    assert Grant("m1", "r-m1", "p1", "editor") in result.plan.actions
    assert not any(isinstance(a, ChangeRole) for a in result.plan.actions)
    assert [(c.member_id, c.capability) for c in result.plan.conflicts] == [("m1", "change_role")]


def test_grants_on_a_kind_without_asset_permissions_are_one_conflict_per_member() -> None:
    rule = AssignmentRule("r", "eng", "collaborator", "user", asset_grants({"a1": "view", "a2": "edit"}))
    result = run([user("u1")], [member("m1", "u1@example.com", "user", assets=asset_grants({"a2": "view"}))],
                 {"u1": {"eng"}}, (rule,), policy=_calendly())  # fmt: skip
    assert not any(isinstance(a, Grant | Revoke) for a in result.plan.actions)
    (conflict,) = result.plan.conflicts
    assert conflict.capability == "grant_assets" and "'a1'" in conflict.detail and "'a2'" in conflict.detail


def test_a_kind_that_cannot_remove_or_invite_says_so_instead() -> None:
    vocabulary = RoleVocabulary("readonly", ("member",))
    policy = AppPolicy(vocabulary, "automatic", capabilities=frozenset({"list_members", "change_role"}))
    users = [user("gone", active=False), user("new")]
    result = run(users, [member("m1", "gone@example.com")], {"new": {"eng"}},
                 (AssignmentRule("r", "eng", "collaborator", "member"),), policy=policy)  # fmt: skip
    assert result.plan.actions == () and result.plan.held == ()
    assert [(c.user_id, c.member_id, c.capability) for c in result.plan.conflicts] == [
        ("gone", "m1", "remove"), ("new", None, "invite")]  # fmt: skip
    report = run(users[:1], [member("m1", "gone@example.com")], policy=replace(policy, deprovision="report"))
    assert report.plan.actions == ()  # a report entry would be a removal to confirm: the same conflict
    assert [c.capability for c in report.plan.conflicts] == ["remove"]


# -- properties: for random states and kinds ------------------------------------------------------

capability_sets = st.one_of(
    st.sampled_from(sorted(KIND_CAPABILITIES.values(), key=sorted)),
    st.frozensets(st.sampled_from(sorted(ALL_CAPABILITIES))),
)


def _with(s: Scenario, able: frozenset[Capability]) -> Reconciliation:
    return reconcile(s.directory, s.governance, replace(s.policy, capabilities=able), s.actual)


def _wanted(plan: Plan) -> list[Action]:
    return [*plan.actions, *(h.action for h in plan.held)]


def _names(action: Action, conflict: Conflict) -> bool:
    if isinstance(action, Invite):
        return conflict.user_id == action.user_id and conflict.member_id is None
    return conflict.member_id == getattr(action, "member_id", None)


@PROPERTY
@given(scenarios(), capability_sets)
def test_no_planned_action_needs_a_capability_the_kind_lacks(
    s: Scenario, able: frozenset[Capability]
) -> None:
    planned = _with(s, able).plan
    for action in _wanted(planned):
        needed = needed_capability(action)
        assert needed is None or needed in able, (action, able)
    for conflict in planned.conflicts:
        assert (conflict.kind == "unsupported") == (conflict.capability is not None)
        assert conflict.capability is None or conflict.capability not in able


@PROPERTY
@given(scenarios(), capability_sets)
def test_each_change_the_kind_cannot_make_appears_as_a_conflict(
    s: Scenario, able: frozenset[Capability]
) -> None:
    everything, limited = _with(s, ALL_CAPABILITIES).plan, _with(s, able).plan
    unsupported = [c for c in limited.conflicts if c.kind == "unsupported"]
    for action in _wanted(everything):
        needed = needed_capability(action)
        if needed is not None and needed not in able:
            assert any(c.capability == needed and _names(action, c) for c in unsupported), (
                action,
                unsupported,
            )
    # and the conflicts are about nothing else: each names a change the capable plan would make, or
    # a removal already on the report (its entry is not planned again); an invitation may be a
    # conflict of its own there (e.g. no email: the capable plan never got that far)
    for conflict in unsupported:
        assert (
            any(
                needed_capability(a) == conflict.capability and _names(a, conflict)
                for a in _wanted(everything)
            )
            or (conflict.capability == "remove" and conflict.member_id in s.actual.reported)
            or conflict.capability == "invite"
        ), conflict


@PROPERTY
@given(scenarios(), capability_sets)
def test_what_a_kind_can_do_it_still_does(s: Scenario, able: frozenset[Capability]) -> None:
    """Capabilities only take actions away (and a kind with every capability plans as before)."""
    everything, limited = _with(s, ALL_CAPABILITIES).plan, _with(s, able).plan
    assert set(limited.actions) <= set(everything.actions)
    if able == ALL_CAPABILITIES:
        assert limited == everything and not any(c.kind == "unsupported" for c in limited.conflicts)


@PROPERTY
@given(scenarios(), capability_sets)
def test_replanning_after_applying_plans_nothing_and_keeps_the_conflicts(
    s: Scenario, able: frozenset[Capability]
) -> None:
    policy = replace(s.policy, capabilities=able)
    first = reconcile(s.directory, s.governance, policy, s.actual)
    second = reconcile(s.directory, s.governance, policy, apply(s.actual, first.plan.actions))
    assert second.plan.actions == ()
    role_conflicts = {c for c in first.plan.conflicts if c.capability == "change_role"}
    assert role_conflicts <= set(second.plan.conflicts)  # the wanted role change is still shown


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_the_targeted_reads_are_what_the_connector_class_implements(kind: str) -> None:
    """``KIND_READS`` (how a removal is verified) agrees with the connector's read protocols."""
    cls = get_spec(kind).cls
    implemented = {name for name, protocol in (("read_member", ReadsMember), ("read_permission", ReadsPermission))
                   if issubclass(cls, protocol)}  # fmt: skip
    assert set(KIND_READS) == set(CATALOG)
    assert set(reads_of(kind)) == implemented
