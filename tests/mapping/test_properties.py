"""Properties the issue names: plans are idempotent; exempted members and the automation account
are never removed; matching does not depend on input order or email case."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from mapping import (
    Action,
    Actual,
    Directory,
    Held,
    Reconciliation,
    Remove,
    ReportWithdrawal,
    apply,
    entitlement_of,
    match,
    reconcile,
    report_removals,
)
from tests.mapping.strategies import PROPERTY, VOCAB, Scenario, rules, scenarios


def _run(s: Scenario, actual: Actual | None = None, in_flight: tuple[Action, ...] = ()) -> Reconciliation:
    return reconcile(s.directory, s.governance, s.policy, actual or s.actual, in_flight)


def _touched(result) -> set[str]:  # type: ignore[no-untyped-def]
    """Member ids any action (other than taking them off the report) or held removal names."""
    ids = {
        a.member_id
        for a in result.plan.actions
        if hasattr(a, "member_id") and not isinstance(a, ReportWithdrawal)
    }
    return ids | {h.action.member_id for h in result.plan.held}


@PROPERTY
@given(scenarios())
def test_applying_a_plan_then_planning_again_yields_no_actions(s: Scenario) -> None:
    first = _run(s)
    after = apply(s.actual, first.plan.actions)
    second = _run(s, after)
    assert second.plan.actions == ()
    assert second.plan.held == first.plan.held or not first.plan.held


@PROPERTY
@given(scenarios())
def test_a_plan_whose_actions_are_in_flight_plans_nothing_new(s: Scenario) -> None:
    first = _run(s)
    assert _run(s, in_flight=first.plan.actions).plan.actions == ()


@PROPERTY
@given(scenarios())
def test_exempted_and_automation_members_are_never_touched(s: Scenario) -> None:
    result = _run(s)
    protected = set(result.sets.exempted) | (result.matches.automation & {m.id for m in s.actual.members})
    assert {e.member_id for e in s.governance.exemptions} & {m.id for m in s.actual.members} <= set(
        result.sets.exempted
    )
    assert result.matches.automation - set(result.sets.exempted) <= result.sets.matched
    assert not (_touched(result) & protected)
    removed = {a.member_id for a in result.plan.actions if isinstance(a, Remove)}
    assert not removed & protected


@PROPERTY
@given(scenarios())
def test_unmatched_and_disputed_members_are_never_removed(s: Scenario) -> None:
    result = _run(s)
    removals = [a for a in result.plan.actions if isinstance(a, Remove)] + [
        h.action for h in result.plan.held
    ]
    assert all(r.member_id in result.sets.matched for r in removals)


@PROPERTY
@given(scenarios())
def test_the_sets_partition_the_members(s: Scenario) -> None:
    sets = _run(s).sets
    parts = [sets.matched, sets.unmatched, sets.disputed, frozenset(sets.exempted)]
    assert sum(len(p) for p in parts) == len(s.actual.members)
    assert frozenset().union(*parts) == {m.id for m in s.actual.members}


@PROPERTY
@given(scenarios())
def test_a_tripped_guard_holds_every_removal(s: Scenario) -> None:
    planned = _run(s).plan
    removals = [a for a in planned.actions if isinstance(a, Remove)]
    assert not (removals and planned.held)
    active = sum(1 for m in s.actual.members if m.status == "active")
    assert not s.policy.guard.trips(len(removals), active)
    assert all(isinstance(h, Held) and h.reason.startswith("mass-removal guard") for h in planned.held)


@PROPERTY
@given(scenarios())
def test_removals_carry_the_members_asset_permissions(s: Scenario) -> None:
    result = _run(s)
    by_id = {m.id: m for m in s.actual.members}
    removals = [a for a in result.plan.actions if isinstance(a, Remove)] + list(report_removals(s.actual))
    for removal in removals:
        assert removal.revokes == tuple(a for a, _ in by_id[removal.member_id].assets)
    gone = apply(s.actual, removals)
    assert not {r.member_id for r in removals} & {m.id for m in gone.members}


def _recase(email: str | None, rnd: random.Random) -> str | None:
    """``email`` with each letter's case drawn at random (``ß`` may become ``SS``: same key)."""
    if email is None:
        return None
    return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in email)


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_matching_is_independent_of_input_order_and_email_case(s: Scenario, rnd: random.Random) -> None:
    users, members = list(s.directory.users), list(s.actual.members)
    args = (s.governance.manual_matches, s.policy.automation, s.policy.match_usernames)
    before = match(users, members, *args)
    rnd.shuffle(users)
    rnd.shuffle(members)
    users = [replace(u, emails=tuple(_recase(e, rnd) or "" for e in u.emails)) for u in users]
    members = [replace(m, email=_recase(m.email, rnd)) for m in members]
    after = match(users, members, *args)
    assert after == before
    assert dict(after.user_of) == dict(before.user_of) and dict(after.disputed) == dict(before.disputed)


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_plan_is_independent_of_input_order(s: Scenario, rnd: random.Random) -> None:
    users, members = list(s.directory.users), list(s.actual.members)
    rnd.shuffle(users)
    rnd.shuffle(members)
    shuffled = Scenario(
        Directory(tuple(users), s.directory.groups),
        s.governance,
        s.policy,
        replace(s.actual, members=tuple(members)),
    )
    assert _run(shuffled).plan == _run(s).plan


@PROPERTY
@given(rules().filter(bool), st.randoms(use_true_random=False))
def test_the_highest_role_wins_whatever_the_rule_order(rule_set, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(rule_set)
    rnd.shuffle(shuffled)
    combined = entitlement_of(tuple(shuffled), VOCAB)
    assert combined == entitlement_of(rule_set, VOCAB)
    roles = [r.app_role or VOCAB.default_app_role(r.bridge_role) for r in rule_set]
    assert combined.app_role == VOCAB.highest_role(roles)
    assert all(VOCAB.highest_role((combined.app_role, r)) == combined.app_role for r in roles)
    assert combined.bridge_role == (
        "owner" if any(r.bridge_role == "owner" for r in rule_set) else "collaborator"
    )
