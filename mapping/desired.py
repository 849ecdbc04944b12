"""Desired state: who should be in the app, with which roles and asset grants, and what is off-limits.

``desired = f(directory, assignment rules, manual matches, exemptions)`` (design.md, "desired state
against actual state"). Manual matches enter through ``matching.match``; this module turns the
directory and the rules into per-user ``Entitlement`` values and collects the exemptions.

Only *active* directory users are entitled; a deactivated or deleted user's access is what
deprovisioning takes away. When several rules apply to one user (several of its groups have rules),
the highest bridge role wins, the highest app role wins (``RoleVocabulary`` precedence), and the
asset grants are united with the highest permission winning per asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mapping.model import (
    AssetGrants,
    AssignmentRule,
    BridgeRole,
    DeprovisionReason,
    Directory,
    DirectoryUser,
    Governance,
)
from mapping.roles import RoleVocabulary, highest_bridge_role

__all__ = ["Desired", "Entitlement", "Standing", "desired_state", "entitlement_of"]

Standing = Literal["active", "deactivated", "deleted"]


@dataclass(frozen=True, slots=True)
class Entitlement:
    """What the rules give one user in the app; users with the same rules share one value.

    ``rule_ids`` (sorted) says why: the rules whose groups the user belongs to.
    """

    bridge_role: BridgeRole
    app_role: str
    assets: AssetGrants
    rule_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Desired:
    """The desired state of one app.

    :param users: every directory user (tombstones included), by id.
    :param entitlements: active user id -> what the rules give it (users under no rule are absent).
    :param exempt: member id -> exemption reason; plans never touch these members.
    :param managed_assets: asset ids named by some rule. Only these are revoked when a rule-managed
        member holds them without a rule granting them; other assets are the admin's business.
    """

    users: Mapping[str, DirectoryUser]
    entitlements: Mapping[str, Entitlement]
    exempt: Mapping[str, str]
    managed_assets: frozenset[str]

    def standing(self, user_id: str) -> Standing:
        """``active``, ``deactivated`` or ``deleted`` (a user the directory no longer holds is deleted)."""
        user = self.users.get(user_id)
        if user is None or user.deleted:
            return "deleted"
        return "active" if user.active else "deactivated"

    def deprovisioned(self, user_id: str) -> DeprovisionReason | None:
        """Why ``user_id`` no longer grants access, or ``None`` while it is active."""
        standing = self.standing(user_id)
        return None if standing == "active" else standing


def entitlement_of(rules: tuple[AssignmentRule, ...], vocabulary: RoleVocabulary) -> Entitlement:
    """Combine the rules that apply to one user (non-empty): the highest roles win."""
    app_roles = (r.app_role or vocabulary.default_app_role(r.bridge_role) for r in rules)
    return Entitlement(
        bridge_role=highest_bridge_role(r.bridge_role for r in rules),
        app_role=vocabulary.highest_role(app_roles),
        assets=vocabulary.merge_grants(r.assets for r in rules),
        rule_ids=tuple(sorted({r.id for r in rules})),
    )


class _Entitlements:
    """group set -> Entitlement, memoised: a directory has few distinct group sets under rules."""

    def __init__(self, rules: tuple[AssignmentRule, ...], vocabulary: RoleVocabulary) -> None:
        self.by_group: dict[str, list[AssignmentRule]] = {}
        for rule in rules:
            self.by_group.setdefault(rule.group_id, []).append(rule)
        self.vocabulary = vocabulary
        self.by_groups: dict[frozenset[str], Entitlement | None] = {}
        self.by_rules: dict[tuple[str, ...], Entitlement] = {}

    def of(self, groups: frozenset[str]) -> Entitlement | None:
        try:
            return self.by_groups[groups]
        except KeyError:
            pass
        applying = tuple(r for g in sorted(groups) for r in self.by_group.get(g, ()))
        found: Entitlement | None = None
        if applying:
            key = tuple(sorted(r.id for r in applying))
            found = self.by_rules.get(key)
            if found is None:
                found = self.by_rules[key] = entitlement_of(applying, self.vocabulary)
        self.by_groups[groups] = found
        return found


def desired_state(directory: Directory, governance: Governance, vocabulary: RoleVocabulary) -> Desired:
    """The desired state of one app. Pure; linear in users plus group memberships."""
    users = {user.id: user for user in directory.users}
    table = _Entitlements(governance.rules, vocabulary)
    entitlements: dict[str, Entitlement] = {}
    if governance.rules:
        for user_id, groups in directory.groups.items():
            user = users.get(user_id)
            if user is None or not user.active or user.deleted or not groups:
                continue
            found = table.of(groups if type(groups) is frozenset else frozenset(groups))
            if found is not None:
                entitlements[user_id] = found
    exempt = {e.member_id: e.reason for e in governance.exemptions}
    managed_assets = frozenset(asset for r in governance.rules for asset, _ in r.assets)
    return Desired(users, entitlements, exempt, managed_assets)
