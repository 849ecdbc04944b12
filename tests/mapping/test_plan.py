"""The tricky cases, one by one: deprovisioning, reactivation, overlapping rules, the guard, in-flight
jobs, drift, conflicts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mapping import (
    Actual,
    Adopt,
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
    Match,
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
from tests.mapping.strategies import VOCAB

MEMBERS_RULE = AssignmentRule("r-members", "eng", "collaborator", "member", asset_grants({"repo": "edit"}))
ADMINS_RULE = AssignmentRule("r-admins", "admins", "owner", "admin", asset_grants({"repo": "manage"}))
VIEWERS_RULE = AssignmentRule("r-viewers", "all", "collaborator", "guest", asset_grants({"wiki": "view"}))


def user(uid: str, *emails: str, active: bool = True, deleted: bool = False) -> DirectoryUser:
    return DirectoryUser(uid, uid, emails or (f"{uid}@example.com",), active, deleted)


def member(mid: str, email: str | None, role: str = "member", **kw: object) -> AppMember:
    return AppMember(mid, f"r-{mid}", email, app_role=role, **kw)  # type: ignore[arg-type]


def run(
    users: list[DirectoryUser],
    members: list[AppMember],
    groups: dict[str, set[str]] | None = None,
    rules: tuple[AssignmentRule, ...] = (),
    policy: AppPolicy | None = None,
    in_flight: tuple = (),  # type: ignore[type-arg]
    manual: tuple[ManualMatch, ...] = (),
    exempt: tuple[Exemption, ...] = (),
    actual: Actual | None = None,
) -> Reconciliation:
    directory = Directory(tuple(users), {u: frozenset(g) for u, g in (groups or {}).items()})
    return reconcile(
        directory,
        Governance(rules, manual, exempt),
        policy or AppPolicy(VOCAB),
        actual or Actual(tuple(members)),
        in_flight,
    )


# -- matching and the sets -------------------------------------------------------------------------


def test_an_email_shared_by_two_active_users_is_disputed_never_matched() -> None:
    users = [user("ann", "ann@x.com", "team@x.com"), user("bob", "bob@x.com", "TEAM@x.com")]
    result = run(users, [member("m1", " Team@X.com ")], {"ann": {"eng"}}, (MEMBERS_RULE,))
    assert result.sets.disputed == {"m1"}
    assert "m1" not in result.matches.user_of
    assert result.matches.disputed["m1"] == ("ann", "bob")
    # ann's other address is free, but a disputed member may be ann: the admin decides, no invite
    assert not [a for a in result.plan.actions if isinstance(a, Invite)]
    assert [(c.user_id, c.kind) for c in result.plan.conflicts] == [("ann", "disputed")]


def test_a_rehired_person_matches_the_active_account_not_the_old_one() -> None:
    users = [user("old", "kim@x.com", deleted=True), user("new", "kim@x.com")]
    result = run(users, [member("m1", "KIM@x.com")])
    assert result.matches.user_of == {"m1": "new"}
    assert result.plan.actions == ()


def test_two_deactivated_owners_are_still_disputed() -> None:
    users = [user("a", "x@x.com", active=False), user("b", "x@x.com", active=False)]
    assert run(users, [member("m1", "x@x.com")]).sets.disputed == {"m1"}


def test_manual_match_wins_over_email() -> None:
    users = [user("ann"), user("bob")]
    manual = (ManualMatch("m1", "bob", "owner"),)
    result = run(users, [member("m1", "ann@example.com")], manual=manual)
    assert result.matches.get("m1") == Match("m1", "bob", "manual", "owner")
    view = result.membership(member("m1", "ann@example.com"))
    assert (view.state, view.user_id, view.bridge_role, view.match_reason) == (
        "matched",
        "bob",
        "owner",
        "manual",
    )


def test_username_matching_is_optional() -> None:
    users = [DirectoryUser("u1", "Ann.Lee", ())]
    members = [AppMember("m1", "r1", None, username="@ann.lee", app_role="member")]
    assert run(users, members).sets.unmatched == {"m1"}
    by_name = run(users, members, policy=AppPolicy(VOCAB, match_usernames=True))
    assert by_name.matches.user_of == {"m1": "u1"} and by_name.matches.reason_of("m1") == "username"


def test_the_automation_account_is_matched_as_the_automation_identity_and_never_removed() -> None:
    policy = AppPolicy(VOCAB, "automatic", automation=AutomationIdentity(email="Bot@Example.com"))
    users = [user("bot", "bot@example.com", active=False)]
    result = run(users, [member("m-bot", "bot@example.com", "admin")], policy=policy)
    assert result.sets.matched == {"m-bot"} and result.sets.exempted == {}
    assert result.plan.actions == () and result.plan.held == ()
    assert result.membership(member("m-bot", "bot@example.com", "admin")).automation


def test_unmatched_members_are_left_to_the_admin() -> None:
    policy = AppPolicy(VOCAB, "automatic")
    result = run(
        [user("ann")],
        [member("m1", "stranger@vendor.test", "admin")],
        {"ann": {"eng"}},
        (MEMBERS_RULE,),
        policy,
    )
    assert result.sets.unmatched == {"m1"}
    assert [type(a) for a in result.plan.actions] == [Invite]


# -- deprovisioning ----------------------------------------------------------------------------------


def test_policy_report_reports_deactivated_and_deleted_users() -> None:
    users = [user("ann", active=False), user("bob", deleted=True)]
    members = [member("m1", "ann@example.com"), member("m2", "bob@example.com"), member("m3", "gone@x.com")]
    manual = (ManualMatch("m3", "vanished-user"),)  # a user the directory no longer holds: gone
    result = run(users, members, manual=manual)
    entries = result.plan.actions
    assert entries == (
        ReportEntry("m1", "r-m1", "ann", "deactivated"),
        ReportEntry("m2", "r-m2", "bob", "deleted"),
        ReportEntry("m3", "r-m3", "vanished-user", "deleted"),
    )


def test_policy_automatic_removes_with_the_asset_permissions() -> None:
    assets = asset_grants({"repo": "edit", "wiki": "view"})
    result = run([user("ann", active=False)], [member("m1", "ann@example.com", assets=assets)],
                 policy=AppPolicy(VOCAB, "automatic"))  # fmt: skip
    assert result.plan.actions == (Remove("m1", "r-m1", "ann", ("repo", "wiki"), "deactivated"),)


def test_reactivation_before_the_plan_is_applied_drops_the_entry() -> None:
    members = [member("m1", "ann@example.com")]
    assert run([user("ann", active=False)], members).plan.actions  # would report
    assert run([user("ann")], members).plan.actions == ()  # reactivated first: nothing to report


def test_reactivation_before_the_report_is_applied_takes_the_entry_out() -> None:
    members = [member("m1", "ann@example.com")]
    first = run([user("ann", active=False)], members)
    reported = apply(Actual(tuple(members)), first.plan.actions)
    assert reported.reported == {"m1": "deactivated"}
    assert run([user("ann", active=False)], [], actual=reported).plan.actions == ()  # stays reported
    back = run([user("ann")], [], actual=reported)
    assert back.plan.actions == (ReportWithdrawal("m1", "reactivated"),)
    cleared = apply(reported, back.plan.actions)
    assert cleared.reported == {} and report_removals(cleared) == ()
    assert run([user("ann")], [], actual=cleared).plan.actions == ()


def test_applying_the_report_removes_the_members_and_their_assets() -> None:
    members = (member("m1", "ann@example.com", assets=asset_grants({"repo": "edit"})),)
    actual = Actual(members, reported={"m1": "deactivated"})
    assert report_removals(actual) == (Remove("m1", "r-m1", None, ("repo",), "admin"),)
    assert apply(actual, report_removals(actual)).members == ()


def test_exempting_a_reported_member_withdraws_it() -> None:
    actual = Actual((member("m1", "ann@example.com"),), reported={"m1": "deactivated"})
    result = run([user("ann", active=False)], [], exempt=(Exemption("m1", "legal hold"),), actual=actual)
    assert result.plan.actions == (ReportWithdrawal("m1", "exempted"),)


def test_a_user_deleted_after_being_reported_deactivated_is_reported_again() -> None:
    actual = Actual((member("m1", "ann@example.com"),), reported={"m1": "deactivated"})
    result = run([user("ann", deleted=True)], [], actual=actual)
    assert result.plan.actions == (ReportEntry("m1", "r-m1", "ann", "deleted"),)


# -- rules: invite, upgrade, downgrade, remove --------------------------------------------------------


def test_the_highest_role_wins_when_several_rules_apply() -> None:
    users = [user("ann")]
    groups = {"ann": {"eng", "admins", "all"}}
    result = run(users, [], groups, (VIEWERS_RULE, MEMBERS_RULE, ADMINS_RULE))
    assert result.plan.actions == (Invite("ann", "ann@example.com", "admin", "owner"),)
    entitlement = result.desired.entitlements["ann"]
    assert entitlement.assets == (("repo", "manage"), ("wiki", "view"))
    assert entitlement.rule_ids == ("r-admins", "r-members", "r-viewers")


def test_joining_a_higher_group_upgrades_and_leaving_it_downgrades() -> None:
    members = [member("m1", "ann@example.com", "member", assets=asset_grants({"repo": "edit"}))]
    managed = Actual(tuple(members), managed={"m1": "ann"})
    up = run([user("ann")], [], {"ann": {"eng", "admins"}}, (MEMBERS_RULE, ADMINS_RULE), actual=managed)
    assert up.plan.actions == (
        ChangeRole("m1", "r-m1", "member", "admin"),
        Grant("m1", "r-m1", "repo", "manage"),
    )
    upgraded = apply(managed, up.plan.actions)
    down = run([user("ann")], [], {"ann": {"eng"}}, (MEMBERS_RULE, ADMINS_RULE), actual=upgraded)
    assert down.plan.actions == (
        ChangeRole("m1", "r-m1", "admin", "member"),
        Grant("m1", "r-m1", "repo", "edit"),
    )


def test_leaving_every_group_removes_a_managed_member_only() -> None:
    members = (member("m1", "ann@example.com"), member("m2", "bob@example.com"))
    actual = Actual(members, managed={"m1": "ann"})
    result = run([user("ann"), user("bob")], [], {}, (MEMBERS_RULE,), actual=actual)
    assert result.plan.actions == (Remove("m1", "r-m1", "ann", (), "unassigned"),)


def test_existing_members_are_adopted_then_kept_in_line() -> None:
    drifted = member("m1", "ann@example.com", "admin", assets=asset_grants({"repo": "view", "other": "x"}))
    result = run([user("ann")], [drifted], {"ann": {"eng"}}, (MEMBERS_RULE,))
    assert result.plan.actions == (
        ChangeRole("m1", "r-m1", "admin", "member"),
        Grant("m1", "r-m1", "repo", "edit"),
        Adopt("m1", "ann"),
    )  # "other" is named by no rule: left alone


def test_assets_named_by_a_rule_but_not_granted_are_revoked() -> None:
    held = member("m1", "ann@example.com", assets=asset_grants({"repo": "edit", "wiki": "view"}))
    actual = Actual((held,), managed={"m1": "ann"})
    result = run([user("ann")], [], {"ann": {"eng"}}, (MEMBERS_RULE, VIEWERS_RULE), actual=actual)
    assert result.plan.actions == (Revoke("m1", "r-m1", "wiki"),)


def test_pending_invitations_get_roles_and_assets_once_accepted() -> None:
    pending = member("m1", "ann@example.com", "guest", status="pending")
    actual = Actual((pending,), managed={"m1": "ann"})
    assert run([user("ann")], [], {"ann": {"eng"}}, (MEMBERS_RULE,), actual=actual).plan.actions == ()
    accepted = replace(actual, members=(replace(pending, status="active"),))
    result = run([user("ann")], [], {"ann": {"eng"}}, (MEMBERS_RULE,), actual=accepted)
    assert [type(a) for a in result.plan.actions] == [ChangeRole, Grant]


def test_an_invited_user_matches_its_invitation_back() -> None:
    users = [user("ann", "  Ann@Example.com", "shared@x.com"), user("bob", "shared@x.com")]
    result = run(users, [], {"ann": {"eng"}}, (MEMBERS_RULE,))
    assert result.plan.actions == (Invite("ann", "Ann@Example.com", "member", "collaborator"),)
    after = apply(Actual(()), result.plan.actions)
    again = run(users, [], {"ann": {"eng"}}, (MEMBERS_RULE,), actual=after)
    assert again.matches.user_of == {"invited:ann": "ann"} and again.plan.actions == ()


def test_a_user_with_no_email_of_its_own_is_a_conflict_not_an_invite() -> None:
    users = [user("ann", "shared@x.com"), user("bob", "shared@x.com")]
    result = run(users, [], {"ann": {"eng"}}, (MEMBERS_RULE,))
    assert result.plan.actions == ()
    assert [(c.user_id, c.kind) for c in result.plan.conflicts] == [("ann", "no_email")]


def test_an_email_held_by_a_member_matched_to_someone_else_is_a_conflict() -> None:
    users = [user("ann"), user("bob")]
    manual = (ManualMatch("m1", "bob"),)
    result = run(users, [member("m1", "ann@example.com")], {"ann": {"eng"}}, (MEMBERS_RULE,), manual=manual)
    assert [(c.user_id, c.kind) for c in result.plan.conflicts] == [("ann", "email_taken")]
    assert not [a for a in result.plan.actions if isinstance(a, Invite)]


# -- in-flight jobs ----------------------------------------------------------------------------------


def test_in_flight_actions_are_not_planned_again() -> None:
    users, groups = [user("ann"), user("bob", active=False)], {"ann": {"eng"}}
    members = [member("m2", "bob@example.com")]
    policy = AppPolicy(VOCAB, "automatic")
    planned = run(users, members, groups, (MEMBERS_RULE,), policy)
    assert {type(a) for a in planned.plan.actions} == {Invite, Remove}
    assert run(users, members, groups, (MEMBERS_RULE,), policy, planned.plan.actions).plan.actions == ()


def test_a_member_being_removed_gets_no_other_action() -> None:
    drifted = member("m1", "ann@example.com", "admin")
    in_flight = (Remove("m1", "r-m1", None, (), "admin"),)
    result = run([user("ann")], [drifted], {"ann": {"eng"}}, (MEMBERS_RULE,), in_flight=in_flight)
    assert result.plan.actions == ()


# -- mass-removal guard ------------------------------------------------------------------------------


def _deactivations(total: int, deactivated: int, guard: RemovalGuard | None = None) -> Reconciliation:
    users = [user(f"u{i}", active=i >= deactivated) for i in range(total)]
    members = [member(f"m{i}", f"u{i}@example.com") for i in range(total)]
    return run(users, members, policy=AppPolicy(VOCAB, "automatic", guard or RemovalGuard()))


def test_the_guard_holds_removals_over_both_thresholds() -> None:
    result = _deactivations(50, 11)  # 11 > 10 and 22 % > 20 %
    assert result.plan.actions == ()
    assert len(result.plan.held) == 11
    assert "11 removals (22.0% of 50 active members)" in result.plan.held[0].reason


@pytest.mark.parametrize(("total", "deactivated"), [(20, 10), (1000, 11)])
def test_the_guard_lets_removals_under_either_threshold_through(total: int, deactivated: int) -> None:
    result = _deactivations(total, deactivated)
    assert len(result.plan.actions) == deactivated and result.plan.held == ()


def test_the_guard_can_be_turned_off() -> None:
    assert len(_deactivations(12, 12, RemovalGuard(enabled=False)).plan.actions) == 12


def test_invitations_in_the_same_plan_do_not_release_held_removals() -> None:
    users = [user(f"u{i}", active=i >= 11) for i in range(50)] + [user(f"n{i}") for i in range(10)]
    members = [member(f"m{i}", f"u{i}@example.com") for i in range(50)]
    groups = {f"n{i}": {"eng"} for i in range(10)}
    policy = AppPolicy(VOCAB, "automatic")
    first = run(users, members, groups, (MEMBERS_RULE,), policy)
    assert len(first.plan.held) == 11 and len(first.plan.actions) == 10  # ten invitations
    after = apply(Actual(tuple(members)), first.plan.actions)
    again = run(users, [], groups, (MEMBERS_RULE,), policy, actual=after)
    assert again.plan.actions == () and len(again.plan.held) == 11


def test_removing_a_member_that_holds_an_email_frees_it_for_the_invitation_in_the_same_plan() -> None:
    # cy's address is held by a member an admin matched to ann; ann is deactivated (automatic)
    users, groups = [user("ann", active=False), user("cy")], {"cy": {"eng"}}
    members = [member("m1", "cy@example.com")]
    manual, policy = (ManualMatch("m1", "ann"),), AppPolicy(VOCAB, "automatic")
    result = run(users, members, groups, (MEMBERS_RULE,), policy, manual=manual)
    assert [type(a) for a in result.plan.actions] == [Remove, Invite]  # removal first, then the invite
    after = apply(Actual(tuple(members)), result.plan.actions)
    assert run(users, [], groups, (MEMBERS_RULE,), policy, manual=manual, actual=after).plan.actions == ()
    # while the removal is held (or only reported), the address is still taken: a conflict, no invite
    reported = run(users, members, groups, (MEMBERS_RULE,), AppPolicy(VOCAB), manual=manual)
    assert [type(a) for a in reported.plan.actions] == [ReportEntry]
    assert [c.kind for c in reported.plan.conflicts] == ["email_taken"]


def test_the_entry_of_a_member_removed_by_hand_is_withdrawn() -> None:
    actual = Actual((), reported={"m1": "deactivated"})
    result = run([user("ann", active=False)], [], actual=actual)
    assert result.plan.actions == (ReportWithdrawal("m1", "gone"),)
    assert run([user("ann", active=False)], [], actual=apply(actual, result.plan.actions)).plan.actions == ()


def test_under_automatic_a_left_over_entry_is_kept_current() -> None:
    actual = Actual((member("m1", "ann@example.com"),), reported={"m1": "deactivated"})
    result = run([user("ann", deleted=True)], [], policy=AppPolicy(VOCAB, "automatic"), actual=actual)
    assert result.plan.actions == (
        ReportEntry("m1", "r-m1", "ann", "deleted"),
        Remove("m1", "r-m1", "ann", (), "deleted"),
    )
