"""A stateful test (hypothesis ``RuleBasedStateMachine``, ``docs/stateful.rst``): IdP pushes, app
drift and admin actions interleave with reconciliations, and the invariants hold after every step.

The machine is the whole loop in miniature: the directory (what the IdP pushed), the app (``Actual``,
which people also change by hand), the admin's decisions, and ``sync`` (reconcile, then apply the
plan as the jobs would).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mapping import (
    Action,
    Actual,
    AppMember,
    AppPolicy,
    AssignmentRule,
    AutomationIdentity,
    ChangeRole,
    Directory,
    DirectoryUser,
    Exemption,
    Governance,
    Grant,
    Invite,
    ManualMatch,
    Reconciliation,
    RemovalGuard,
    Remove,
    ReportEntry,
    ReportWithdrawal,
    Revoke,
    apply,
    asset_grants,
    reconcile,
    report_removals,
)
from tests.mapping.strategies import APP_ROLES, ASSETS, GROUPS, VOCAB

POOL = ("ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com", "eve@example.com")
RULES = (
    AssignmentRule("r-members", "g0", "collaborator", "member", asset_grants({"a1": "edit"})),
    AssignmentRule("r-admins", "g1", "owner", "admin", ()),
    AssignmentRule("r-viewers", "g2", "collaborator", "guest", asset_grants({"a1": "view", "a2": "view"})),
)
BOT = AppMember("m-bot", "r-bot", "bot@example.com", app_role="admin")

emails = st.sampled_from(POOL).flatmap(lambda e: st.sampled_from((e, e.upper(), e.title())))


class ReconcileMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, DirectoryUser] = {}
        self.groups: dict[str, set[str]] = {}
        self.actual = Actual((BOT,))
        self.manual: dict[str, ManualMatch] = {}
        self.exempt: dict[str, str] = {}
        self.policy = AppPolicy(VOCAB, "report", RemovalGuard(2, 25.0), AutomationIdentity(remote_id="r-bot"))
        self.counter = 0
        self.fresh = itertools.count()  # the store gives each new member row a fresh id

    # -- helpers ----------------------------------------------------------------------------------

    def _apply(self, actual: Actual, actions: Iterable[Action]) -> Actual:
        return apply(actual, actions, lambda invite: f"inv-{invite.user_id}-{next(self.fresh)}")

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _members(self) -> dict[str, AppMember]:
        return {m.id: m for m in self.actual.members}

    def _set_member(self, member: AppMember) -> None:
        members = self._members()
        members[member.id] = member
        self.actual = replace(self.actual, members=tuple(members.values()))

    def _reconcile(self, actual: Actual | None = None, in_flight: tuple = ()) -> Reconciliation:  # type: ignore[type-arg]
        directory = Directory(tuple(self.users.values()), {u: frozenset(g) for u, g in self.groups.items()})
        governance = Governance(
            RULES,
            tuple(self.manual.values()),
            tuple(Exemption(m, r) for m, r in self.exempt.items()),
        )
        return reconcile(directory, governance, self.policy, actual or self.actual, in_flight)

    def _pick_user(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.users)))

    def _pick_member(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self._members())))

    # -- IdP pushes -------------------------------------------------------------------------------

    @initialize(
        people=st.lists(st.tuples(emails, st.sets(st.sampled_from(GROUPS))), min_size=1, max_size=4),
        hired=st.lists(st.tuples(emails, st.sampled_from(APP_ROLES)), max_size=3),
        policy=st.sampled_from(("report", "automatic")),
    )
    def a_small_company(
        self, people: list[tuple[str, set[str]]], hired: list[tuple[str, str]], policy: str
    ) -> None:
        """Some users in groups, and an app that already has members (some of them those users)."""
        self.admin_sets_policy(policy)
        for email, groups in people:
            self.create_user(email, sync=False)
            self.groups[f"u{self.counter}"] = set(groups)
        for email, role in hired:
            self.added_by_hand(email, role)

    def _maybe_sync(self, sync: bool) -> None:
        """An IdP push reconciles the apps it affects in the same transaction (design.md)."""
        if sync:
            self.sync()

    @rule(email=emails, sync=st.booleans())
    def create_user(self, email: str, sync: bool) -> None:
        uid = self._next("u")
        self.users[uid] = DirectoryUser(uid, f"user-{uid}", (email,))
        self._maybe_sync(sync)

    @precondition(lambda self: self.users)
    @rule(data=st.data(), email=emails)
    def add_email(self, data: st.DataObject, email: str) -> None:
        uid = self._pick_user(data)
        self.users[uid] = replace(self.users[uid], emails=(*self.users[uid].emails, email))

    @precondition(lambda self: self.users)
    @rule(
        data=st.data(), standing=st.sampled_from(("deactivate", "reactivate", "delete")), sync=st.booleans()
    )
    def change_standing(self, data: st.DataObject, standing: str, sync: bool) -> None:
        uid = self._pick_user(data)
        if standing == "delete":
            self.users[uid] = replace(self.users[uid], deleted=True)
        elif not self.users[uid].deleted:
            self.users[uid] = replace(self.users[uid], active=standing == "reactivate")
        self._maybe_sync(sync)

    @precondition(lambda self: self.users)
    @rule(data=st.data(), group=st.sampled_from(GROUPS), join=st.booleans(), sync=st.booleans())
    def join_or_leave(self, data: st.DataObject, group: str, join: bool, sync: bool) -> None:
        mine = self.groups.setdefault(self._pick_user(data), set())
        (mine.add if join else mine.discard)(group)
        self._maybe_sync(sync)

    # -- app drift (someone acted in the app by hand) ---------------------------------------------

    @rule(email=st.one_of(emails, st.just("stranger@vendor.test")), role=st.sampled_from(APP_ROLES))
    def added_by_hand(self, email: str, role: str) -> None:
        mid = self._next("h")
        self._set_member(AppMember(mid, f"r-{mid}", email, app_role=role))

    @precondition(lambda self: self.actual.members)
    @rule(data=st.data())
    def removed_by_hand(self, data: st.DataObject) -> None:
        gone = self._pick_member(data)
        self.actual = replace(self.actual, members=tuple(m for m in self.actual.members if m.id != gone))

    @precondition(lambda self: self.actual.members)
    @rule(data=st.data(), role=st.sampled_from(APP_ROLES))
    def role_changed_by_hand(self, data: st.DataObject, role: str) -> None:
        self._set_member(replace(self._members()[self._pick_member(data)], app_role=role))

    @precondition(lambda self: self.actual.members)
    @rule(data=st.data(), asset=st.sampled_from(ASSETS), permission=st.sampled_from(VOCAB.permissions))
    def granted_by_hand(self, data: st.DataObject, asset: str, permission: str) -> None:
        member = self._members()[self._pick_member(data)]
        self._set_member(replace(member, assets=asset_grants({**dict(member.assets), asset: permission})))

    @rule()
    def invitations_accepted(self) -> None:
        members = tuple(replace(m, status="active") for m in self.actual.members)
        self.actual = replace(self.actual, members=members)

    # -- admin actions ----------------------------------------------------------------------------

    @precondition(lambda self: self.actual.members and self.users)
    @rule(data=st.data(), bridge=st.sampled_from(("owner", "collaborator")))
    def admin_match(self, data: st.DataObject, bridge: str) -> None:
        mid = self._pick_member(data)
        self.manual[mid] = ManualMatch(mid, self._pick_user(data), bridge)  # type: ignore[arg-type]

    @precondition(lambda self: self.actual.members)
    @rule(data=st.data())
    def admin_exempt(self, data: st.DataObject) -> None:
        self.exempt[self._pick_member(data)] = "vendor support account"

    @precondition(lambda self: self.exempt)
    @rule(data=st.data())
    def admin_unexempt(self, data: st.DataObject) -> None:
        del self.exempt[data.draw(st.sampled_from(sorted(self.exempt)))]

    @rule(policy=st.sampled_from(("report", "automatic")))
    def admin_sets_policy(self, policy: str) -> None:
        self.policy = replace(self.policy, deprovision=policy)  # type: ignore[arg-type]

    @rule()
    def admin_applies_report(self) -> None:
        self.actual = self._apply(self.actual, report_removals(self.actual))

    @rule()
    def admin_applies_held_removals(self) -> None:
        self.actual = self._apply(self.actual, [h.action for h in self._reconcile().plan.held])

    # -- reconciliation ---------------------------------------------------------------------------

    @rule()
    def sync(self) -> None:
        """Reconcile and do what the plan says; then every deprovisioned member is handled."""
        result = self._reconcile()
        self.actual = self._apply(self.actual, result.plan.actions)
        held = {h.action.member_id for h in result.plan.held}
        after = self._reconcile()
        for member in self.actual.members:
            user_id = after.matches.user_of.get(member.id)
            if member.id in after.sets.exempted or member.id in after.matches.automation or user_id is None:
                continue  # exempted, or the automation identity: never deprovisioned
            if after.desired.deprovisioned(user_id) is not None:
                assert member.id in self.actual.reported or member.id in held
        for member_id, reason in self.actual.reported.items():  # the report holds nothing stale
            user_id = after.matches.user_of.get(member_id)
            assert member_id not in after.sets.exempted and user_id is not None
            assert after.desired.deprovisioned(user_id) == reason

    # -- invariants, checked after every step ----------------------------------------------------

    @invariant()
    def protected_members_are_never_touched(self) -> None:
        result = self._reconcile()
        protected = set(result.sets.exempted) | {"m-bot"}
        touched = {
            a.member_id
            for a in result.plan.actions
            if hasattr(a, "member_id") and not isinstance(a, ReportWithdrawal)
        }
        assert not touched & protected
        assert not {h.action.member_id for h in result.plan.held} & protected

    @invariant()
    def applying_the_plan_then_planning_again_is_empty(self) -> None:
        result = self._reconcile()
        for kind in {type(a).__name__ for a in result.plan.actions} | (
            {"Held"} if result.plan.held else set()
        ):
            event(f"planned {kind}")
        assert self._reconcile(self._apply(self.actual, result.plan.actions)).plan.actions == ()
        assert self._reconcile(in_flight=result.plan.actions).plan.actions == ()

    @invariant()
    def plans_are_coherent(self) -> None:
        result = self._reconcile()
        members = self._members()
        invited = [a.user_id for a in result.plan.actions if isinstance(a, Invite)]
        assert len(invited) == len(set(invited))
        for action in result.plan.actions:
            if isinstance(action, Invite):
                assert action.user_id in result.desired.entitlements
                assert action.user_id not in result.matches.user_of.values()
                continue
            if isinstance(action, ReportWithdrawal) and action.cause == "gone":
                assert action.member_id not in members and action.member_id in self.actual.reported
                continue
            assert action.member_id in members
            entitlement = result.desired.entitlements.get(result.matches.user_of.get(action.member_id, ""))
            if isinstance(action, ChangeRole | Grant | Revoke):
                assert entitlement is not None  # only the rules change roles and assets
            if isinstance(action, ChangeRole):
                assert action.to_role == entitlement.app_role  # type: ignore[union-attr]
            if isinstance(action, Grant):
                assert (action.asset_id, action.permission) in entitlement.assets  # type: ignore[union-attr]
            if isinstance(action, Revoke):
                assert action.asset_id in result.desired.managed_assets
            if isinstance(action, ReportEntry):
                assert result.desired.deprovisioned(action.user_id) == action.reason
            if isinstance(action, Remove):
                assert result.sets.state_of(action.member_id) == "matched"

    @invariant()
    def the_sets_partition_the_members(self) -> None:
        sets = self._reconcile().sets
        ids = set(self._members())
        assert len(sets.matched) + len(sets.unmatched) + len(sets.disputed) + len(sets.exempted) == len(ids)
        assert sets.matched | sets.unmatched | sets.disputed | set(sets.exempted) == ids


ReconcileMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_reconcile_machine = ReconcileMachine.TestCase
