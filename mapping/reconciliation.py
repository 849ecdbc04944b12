"""``reconcile``: the one entry point every path calls (IdP push, check for updates, ``GET /plan``).

``desired = f(directory, rules, manual matches, exemptions)``, ``actual = imported app + bookkeeping``,
``plan = diff(desired, actual, in_flight)`` (design.md, "desired state against actual state").
The caller loads the inputs, calls ``reconcile``, and in one transaction stores the sets, records the
bookkeeping actions and enqueues the app actions as jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mapping.actions import Action, Remove
from mapping.desired import Desired, desired_state
from mapping.diff import Membership, Sets, member_sets, membership
from mapping.matching import Matches, match
from mapping.model import Actual, AppMember, Directory, Governance
from mapping.plan import Plan, plan, removal_of
from mapping.policy import AppPolicy

__all__ = ["Reconciliation", "reconcile", "report_removals"]


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Everything one reconciliation computed: links, sets, desired state and the plan."""

    matches: Matches
    sets: Sets
    desired: Desired
    plan: Plan
    policy: AppPolicy

    def membership(self, member: AppMember) -> Membership:
        """The admin API's view of ``member`` (one of the members reconciled)."""
        return membership(member, self.sets, self.matches, self.desired, self.policy.vocabulary)


def reconcile(
    directory: Directory,
    governance: Governance,
    policy: AppPolicy,
    actual: Actual,
    in_flight: Iterable[Action] = (),
) -> Reconciliation:
    """Match, split into sets, and plan, for one app. Pure; O(users + members + memberships)."""
    matches = match(
        directory.users,
        actual.members,
        governance.manual_matches,
        policy.automation,
        policy.match_usernames,
    )
    desired = desired_state(directory, governance, policy.vocabulary)
    sets = member_sets(actual.members, matches, desired)
    return Reconciliation(matches, sets, desired, plan(desired, actual, matches, policy, in_flight), policy)


def report_removals(actual: Actual, member_ids: Iterable[str] | None = None) -> tuple[Remove, ...]:
    """The removals applying the pending deprovision report means (all of it, or ``member_ids``).

    An admin's confirmation, so the mass-removal guard does not apply. Members no longer present are
    skipped (already gone). Each removal carries the member's current asset permissions.
    """
    wanted = set(actual.reported if member_ids is None else member_ids) & set(actual.reported)
    return tuple(
        sorted(
            (removal_of(m, None, "admin") for m in actual.members if m.id in wanted),
            key=lambda r: r.member_id,
        )
    )
