"""Incremental reconciliation equals the full one (issue 13).

A history: an app reconciled and its plan applied (the stored state), then a random batch of SCIM
changes (users deactivated, reactivated, deleted, created, their emails, userName and groups
changed) and admin decisions (manual matches, exemptions). Reconciling only the slice that
``closure`` reaches from what changed, and keeping every other member's previous outcome, must
give what reconciling the whole app gives: each member's view, the plan, and its conflicts.

Group writes are also drawn as the store records them (``store/groups.py``, ``feed.Changes``):
members joining or leaving, a group replaced (PUT) or deleted, each reaching only the users who
moved, and only when a rule names the group.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from mapping import (
    Actual,
    AppMember,
    AppPolicy,
    Conflict,
    Directory,
    DirectoryUser,
    Exemption,
    Governance,
    ManualMatch,
    MemorySource,
    Reconciliation,
    RemovalGuard,
    Slice,
    apply,
    closure,
    reconcile,
    restrict,
    unsettled,
)
from tests.mapping.strategies import (
    EMAIL,
    GROUPS,
    PROPERTY,
    USER_IDS,
    VOCAB,
    Scenario,
    bridge_roles,
    scenarios,
)


@st.composite
def user_changes(draw: st.DrawFn, directory: Directory) -> Directory:
    """``directory`` after a few SCIM writes to its users (and their groups)."""
    users = {u.id: u for u in directory.users}
    groups = dict(directory.groups)
    for uid in draw(st.lists(st.sampled_from(USER_IDS), max_size=4)):
        user = users.get(uid)
        what = draw(st.sampled_from(("create", "active", "emails", "userName", "groups", "delete", "gone")))
        if user is None or what == "create":
            emails = tuple(draw(st.lists(EMAIL, max_size=2)))
            users[uid] = DirectoryUser(uid, f"user-{uid}", emails, draw(st.booleans()))
        elif what == "active":
            users[uid] = replace(user, active=not user.active, deleted=False)
        elif what == "emails":
            users[uid] = replace(user, emails=tuple(draw(st.lists(EMAIL, max_size=2))))
        elif what == "userName":
            users[uid] = replace(
                user, user_name=draw(st.sampled_from(("USER-u0", "user-u3", "@user-u2", "")))
            )
        elif what == "groups":
            groups[uid] = frozenset(draw(st.sets(st.sampled_from(GROUPS))))
        elif what == "delete":  # a deleted user some member is linked to: the tombstone
            users[uid] = replace(user, active=False, deleted=True)
        else:
            del users[uid]
            groups.pop(uid, None)
    return Directory(tuple(users.values()), groups)


def _changed_users(before: Directory, after: Directory) -> set[str]:
    old, new = {u.id: u for u in before.users}, {u.id: u for u in after.users}
    return {uid for uid in old.keys() | new.keys() if old.get(uid) != new.get(uid)} | {
        uid
        for uid in before.groups.keys() | after.groups.keys()
        if before.groups.get(uid, frozenset()) != after.groups.get(uid, frozenset())
    }


@st.composite
def group_writes(draw: st.DrawFn, directory: Directory, named: frozenset[str]) -> tuple[Directory, set[str]]:
    """``directory`` after a few SCIM group writes (join, leave, PUT replace, delete), and the
    users the feed reaches for an app whose rules name ``named``: those who moved in one of
    those groups (the store records every move; ``feed.Changes.reaching`` keeps these)."""
    present = sorted(u.id for u in directory.users)
    groups = {uid: set(g) for uid, g in directory.groups.items()}
    reached: set[str] = set()
    for _ in range(draw(st.integers(1, 4))):
        ruled = sorted(named & set(GROUPS))
        group = draw(st.sampled_from(ruled if ruled and draw(st.booleans()) else GROUPS))  # mostly a ruled one
        before = {uid for uid, g in groups.items() if group in g}
        what = draw(st.sampled_from(("join", "leave", "leave", "replace", "delete")))
        if what in ("join", "leave") and present:
            uid = draw(st.sampled_from(present))
            after = before | {uid} if what == "join" else before - {uid}
        elif what == "replace":
            after = set(draw(st.sets(st.sampled_from(present)))) if present else set()
        else:
            after = set()
        for uid in before - after:
            groups[uid].discard(group)
        for uid in after - before:
            groups.setdefault(uid, set()).add(group)
        if group in named:
            reached |= before ^ after
    return Directory(directory.users, {uid: frozenset(g) for uid, g in groups.items() if g}), reached


@st.composite
def admin_changes(draw: st.DrawFn, governance: Governance, members: tuple[AppMember, ...]) -> tuple[
    Governance, set[str]
]:  # fmt: skip
    """Manual matches and exemptions made or undone for a few members: (governance, member ids)."""
    if not members:
        return governance, set()
    manual = {m.member_id: m for m in governance.manual_matches}
    exempt = {e.member_id: e for e in governance.exemptions}
    touched = set(draw(st.lists(st.sampled_from([m.id for m in members]), max_size=3)))
    for mid in touched:
        what = draw(st.sampled_from(("match", "unmatch", "exempt", "unexempt")))
        if what == "match":
            manual[mid] = ManualMatch(mid, draw(st.sampled_from((*USER_IDS, "u-gone"))), draw(bridge_roles))
        elif what == "unmatch":
            manual.pop(mid, None)
        elif what == "exempt":
            exempt[mid] = Exemption(mid, "contractor")
        else:
            exempt.pop(mid, None)
    return Governance(governance.rules, tuple(manual.values()), tuple(exempt.values())), touched


def _about(c: Conflict, users: set[str], members: set[str]) -> bool:
    return c.member_id in members if c.member_id is not None else c.user_id in users


@dataclass(frozen=True)
class History:
    before: Reconciliation  # what the store holds: the settled app, reconciled
    full: Reconciliation  # the whole app reconciled after the changes
    part: Reconciliation  # the slice reconciled after the changes
    members: tuple[AppMember, ...]
    slice: Slice


def _history(s: Scenario, data: st.DataObject, by_group: bool = False) -> History:
    """``by_group``: the directory changes are group writes, reaching the users the feed records."""
    policy = replace(s.policy, guard=RemovalGuard(enabled=False))  # the guard is windowed in the service
    settled = apply(s.actual, reconcile(s.directory, s.governance, policy, s.actual).plan.actions)
    before = reconcile(s.directory, s.governance, policy, settled)
    if by_group:
        named = frozenset(r.group_id for r in s.governance.rules)
        directory, moved = data.draw(group_writes(s.directory, named))
    else:
        directory = data.draw(user_changes(s.directory))
        moved = _changed_users(s.directory, directory)
    governance, touched = data.draw(admin_changes(s.governance, settled.members))
    full = reconcile(directory, governance, policy, settled)
    source = MemorySource(directory, settled, before.matches.user_of, governance.manual_matches,
                          policy.match_usernames)  # fmt: skip
    users, members = unsettled(before)
    changed = moved | users
    found = closure(source, changed, touched | members, by_username=policy.match_usernames)
    assert found is not None
    sliced, sgov, sactual = restrict(found, directory, governance, settled)
    part = reconcile(sliced, sgov, policy, sactual)
    return History(before, full, part, settled.members, found)


@PROPERTY
@given(scenarios(), st.data())
def test_the_slice_reconciled_with_the_rest_kept_equals_the_full_reconciliation(
    s: Scenario, data: st.DataObject
) -> None:
    _check(_history(s, data))


@settings(PROPERTY, max_examples=200)  # a move that matters needs a rule on its group: rarer
@given(scenarios(), st.data())
def test_group_writes_reaching_only_the_users_who_moved_equal_the_full_reconciliation(
    s: Scenario, data: st.DataObject
) -> None:
    _check(_history(s, data, by_group=True))


def _check(h: History) -> None:
    """Each member outside the slice keeps its outcome, inside it gets the full one; same plan;
    the conflicts are the slice's and those of the records it did not reach."""
    for member in h.members:
        kept = h.part if member.id in h.slice.members else h.before
        assert h.full.membership(member) == kept.membership(member), member.id
    assert set(h.full.plan.actions) == set(h.part.plan.actions)
    users, members = set(h.slice.reached), set(h.slice.members)
    outside = {c for c in h.before.plan.conflicts if not _about(c, users, members)}
    assert set(h.full.plan.conflicts) == set(h.part.plan.conflicts) | outside


@PROPERTY
@given(scenarios())
def test_no_change_reaches_nothing(s: Scenario) -> None:
    source = MemorySource(s.directory, s.actual, {}, s.governance.manual_matches)
    found = closure(source, (), ())
    assert found is not None and len(found) == 0


def test_a_deactivation_reaches_its_member_not_the_app() -> None:
    users = tuple(DirectoryUser(f"u{i}", f"user{i}", (f"p{i}@x.io",)) for i in range(50))
    members = tuple(AppMember(f"m{i}", f"r{i}", f"P{i}@x.io") for i in range(50))
    directory = Directory(tuple(replace(u, active=u.id != "u7") for u in users))
    links = {f"m{i}": f"u{i}" for i in range(50)}
    found = closure(MemorySource(directory, Actual(members), links), ["u7"], ())
    assert found is not None
    assert set(found.users) == {"u7"} and set(found.members) == {"m7"}
    assert closure(MemorySource(directory, Actual(members), links), ["u7"], (), limit=1) is None


def test_an_exempted_disputed_member_is_reached_when_a_candidate_drops_the_address() -> None:
    """Found by the property above: m0, exempted, shares p0 between u0 and u7 (disputed, no user
    shown); u0 drops it, and m0 now shows u7. Nothing links m0 to u0 any more, so only the
    unsettled members of the last reconciliation bring it into the slice."""
    shared = (DirectoryUser("u0", "user-u0", ("p0@x.io",)), DirectoryUser("u7", "user-u7", ("p0@x.io",)))
    members = Actual((AppMember("m0", "r0", "p0@x.io"),))
    governance = Governance((), (), (Exemption("m0", "break-glass"),))
    policy = AppPolicy(VOCAB, guard=RemovalGuard(enabled=False))
    before = reconcile(Directory(shared), governance, policy, members)
    assert before.membership(members.members[0]).user_id is None
    after = Directory((replace(shared[0], emails=()), shared[1]))
    users, disputed = unsettled(before)
    found = closure(MemorySource(after, members, {}), {"u0"} | users, disputed)
    assert found is not None and "m0" in found.members
    assert reconcile(after, governance, policy, members).membership(members.members[0]).user_id == "u7"
