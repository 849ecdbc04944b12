"""Hypothesis strategies for ``mapping`` (one module, attrs ``tests/strategies.py`` style).

Pools are small on purpose (a handful of user ids, emails, groups, assets) so that generated
scenarios collide: shared emails (disputes), members of deactivated users, overlapping rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mapping import (
    Actual,
    AppMember,
    AppPolicy,
    AssignmentRule,
    AutomationIdentity,
    BridgeRole,
    DeprovisionReason,
    Directory,
    DirectoryUser,
    Exemption,
    Governance,
    ManualMatch,
    MemberStatus,
    RemovalGuard,
    RoleVocabulary,
    asset_grants,
)

VOCAB = RoleVocabulary(
    kind="test",
    roles=("admin", "manager", "member", "guest"),
    owner_roles=frozenset({"admin"}),
    permissions=("manage", "edit", "view"),
)
USER_IDS = tuple(f"u{i}" for i in range(8))
MEMBER_IDS = tuple(f"m{i}" for i in range(10))
GROUPS = ("g0", "g1", "g2")
ASSETS = ("a1", "a2", "a3")
EMAILS = tuple(f"p{i}@example.com" for i in range(4)) + ("Jürgen.Straße@example.de",)
APP_ROLES = (*VOCAB.roles, "custom")

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""Settings for the property tests here (explicit, so the folder runs the same with or without the
suite's conftest profile). Each example is a few microseconds of pure work."""

bridge_roles: st.SearchStrategy[BridgeRole] = st.sampled_from(("owner", "collaborator"))
_cases: st.SearchStrategy[Callable[[str], str]] = st.sampled_from(
    (str, str.upper, str.lower, str.title, str.swapcase)
)
_pads = st.sampled_from(("", " ", "\t"))
_reasons: st.SearchStrategy[DeprovisionReason] = st.sampled_from(("deactivated", "deleted"))
_standings = st.sampled_from(("active", "active", "active", "deactivated", "deleted"))
_email_counts = st.sampled_from((0, 1, 1, 1, 2))
_group_sets = st.sets(st.sampled_from(GROUPS), min_size=1).map(frozenset)
_usernames = st.sampled_from((None, "USER-u0", "user-u1", "@user-u2"))
_app_roles = st.sampled_from(APP_ROLES)
_rule_roles = st.sampled_from((None, *APP_ROLES))
_statuses: st.SearchStrategy[MemberStatus] = st.sampled_from(("active", "active", "pending"))
_email_kinds = st.sampled_from(("pool", "pool", "pool", "outsider", "none"))


@st.composite
def email_variants(draw: st.DrawFn, pool: tuple[str, ...] = EMAILS) -> str:
    """An email from ``pool`` in some letter case, maybe padded with whitespace."""
    email = draw(st.sampled_from(pool))
    pad = draw(_pads)
    return pad + draw(_cases)(email) + pad


EMAIL = email_variants()
GRANTS = st.dictionaries(st.sampled_from(ASSETS), st.sampled_from((*VOCAB.permissions, "odd"))).map(
    asset_grants
)


@st.composite
def directory_users(draw: st.DrawFn) -> tuple[DirectoryUser, ...]:
    ids = draw(st.lists(st.sampled_from(USER_IDS), unique=True, max_size=len(USER_IDS)))
    users = []
    for uid in ids:
        emails = tuple(draw(EMAIL) for _ in range(draw(_email_counts)))
        standing = draw(_standings)
        users.append(DirectoryUser(uid, f"user-{uid}", emails, standing == "active", standing == "deleted"))
    return tuple(users)


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    users = draw(directory_users())
    groups = {u.id: draw(_group_sets) for u in users if draw(st.booleans())}
    return Directory(users, groups)


def _member_email(draw: st.DrawFn, mid: str) -> str | None:
    kind = draw(_email_kinds)
    if kind == "pool":
        return draw(EMAIL)
    return f"outsider-{mid}@vendor.test" if kind == "outsider" else None


@st.composite
def app_members(draw: st.DrawFn) -> tuple[AppMember, ...]:
    ids = draw(st.lists(st.sampled_from(MEMBER_IDS), unique=True, max_size=len(MEMBER_IDS)))
    return tuple(
        AppMember(
            id=mid,
            remote_id=f"r-{mid}",
            email=_member_email(draw, mid),
            username=draw(_usernames),
            display_name=None,
            app_role=draw(_app_roles),
            status=draw(_statuses),
            assets=draw(GRANTS),
        )
        for mid in ids
    )


@st.composite
def rules(draw: st.DrawFn) -> tuple[AssignmentRule, ...]:
    count = draw(st.sampled_from((0, 1, 2, 2, 3, 4)))
    return tuple(
        AssignmentRule(
            id=f"r{i}",
            group_id=draw(st.sampled_from(GROUPS)),
            bridge_role=draw(bridge_roles),
            app_role=draw(_rule_roles),
            assets=draw(GRANTS),
        )
        for i in range(count)
    )


@dataclass(frozen=True)
class Scenario:
    """One app's complete reconciliation input."""

    directory: Directory
    governance: Governance
    policy: AppPolicy
    actual: Actual


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    directory = draw(directories())
    members = draw(app_members())
    member_ids = [m.id for m in members] or ["m-none"]
    some_members = st.lists(st.sampled_from(member_ids), unique=True, max_size=4)
    user_pool = (*USER_IDS, "u-gone")
    manual = tuple(
        ManualMatch(mid, draw(st.sampled_from(user_pool)), draw(bridge_roles)) for mid in draw(some_members)
    )
    exemptions = tuple(Exemption(mid, "break-glass") for mid in draw(some_members))
    how = draw(st.sampled_from((None, "remote", "email")))
    automation = AutomationIdentity(
        remote_id=f"r-{draw(st.sampled_from(member_ids))}" if how == "remote" else None,
        email=draw(EMAIL) if how == "email" else None,
    )
    guard = draw(st.sampled_from((RemovalGuard(), RemovalGuard(1, 10.0), RemovalGuard(enabled=False))))
    policy = AppPolicy(
        VOCAB,
        deprovision=draw(st.sampled_from(("report", "automatic"))),
        guard=guard,
        automation=automation,
        match_usernames=draw(st.booleans()),
    )
    reported: dict[str, DeprovisionReason] = {mid: draw(_reasons) for mid in draw(some_members)}
    managed = {mid: draw(st.sampled_from(user_pool)) for mid in draw(some_members)}
    governance = Governance(draw(rules()), manual, exemptions)
    return Scenario(directory, governance, policy, Actual(members, reported, managed))
