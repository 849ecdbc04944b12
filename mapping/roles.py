"""An app kind's role vocabulary: which app roles are owner-level, and which wins when rules overlap.

The connector catalog (``connectors.registry.ConnectorSpec.roles``) lists each kind's roles highest
first with ``owner_level`` marked; ``RoleVocabulary.from_roles`` takes that list as is (duck-typed, so
``mapping`` never imports ``connectors``). Precedence is the list order. Roles (or asset permissions)
the vocabulary does not know rank below every known one, and ties are broken by name, so "the highest
role wins" is a total, deterministic order whatever the input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mapping.model import AssetGrants, BridgeRole

__all__ = ["RoleLike", "RoleVocabulary", "highest_bridge_role"]


class RoleLike(Protocol):
    """Anything with a role ``key`` and an ``owner_level`` flag (``connectors.base.Role``)."""

    @property
    def key(self) -> str: ...

    @property
    def owner_level(self) -> bool: ...


def highest_bridge_role(roles: Iterable[BridgeRole]) -> BridgeRole:
    """``owner`` if any role is ``owner``, else ``collaborator``."""
    return "owner" if "owner" in roles else "collaborator"


def _ranks(ordered: tuple[str, ...]) -> dict[str, int]:
    size = len(ordered)
    return {name: size - index for index, name in enumerate(ordered)}


@dataclass(frozen=True, slots=True)
class RoleVocabulary:
    """One app kind's roles and asset permissions, each highest precedence first.

    :param roles: the app roles, highest first (GitHub: ``("admin", "member")``). Must not be empty.
    :param owner_roles: the owner-level roles (may share access or manage the app's settings).
    :param permissions: asset permissions, highest first (GitHub repos: ``("admin", "maintain",
        "push", "triage", "pull")``); used when several rules grant the same asset.
    :param default_owner_role: app role for an ``owner`` rule or invitation that names none;
        defaults to the highest owner-level role (or the highest role).
    :param default_collaborator_role: likewise for ``collaborator``; defaults to the lowest role that
        is not owner-level (or the lowest role).
    :raises ValueError: ``roles`` is empty or a default names an unknown role (caller bugs).
    """

    kind: str
    roles: tuple[str, ...]
    owner_roles: frozenset[str] = frozenset()
    permissions: tuple[str, ...] = ()
    default_owner_role: str | None = None
    default_collaborator_role: str | None = None
    _role_rank: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _permission_rank: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.roles:
            raise ValueError(f"{self.kind}: a role vocabulary needs at least one role")
        object.__setattr__(self, "_role_rank", _ranks(self.roles))
        object.__setattr__(self, "_permission_rank", _ranks(self.permissions))
        for default in (self.default_owner_role, self.default_collaborator_role):
            if default is not None and default not in self._role_rank:
                raise ValueError(f"{self.kind}: default role {default!r} is not in {self.roles}")

    @classmethod
    def from_roles(
        cls, kind: str, roles: Iterable[RoleLike], permissions: Iterable[str] = ()
    ) -> RoleVocabulary:
        """Build from catalog roles (highest first), e.g. ``ConnectorSpec.roles``."""
        listed = tuple(roles)
        return cls(
            kind=kind,
            roles=tuple(r.key for r in listed),
            owner_roles=frozenset(r.key for r in listed if r.owner_level),
            permissions=tuple(permissions),
        )

    def is_owner_level(self, app_role: str) -> bool:
        """Whether ``app_role`` may share access or manage the app."""
        return app_role in self.owner_roles

    def bridge_role_of(self, app_role: str) -> BridgeRole:
        """The bridge role an app role amounts to, for members no admin or rule gave one."""
        return "owner" if app_role in self.owner_roles else "collaborator"

    def default_app_role(self, bridge_role: BridgeRole) -> str:
        """The app role used when a rule or invitation names only a bridge role."""
        if bridge_role == "owner":
            chosen = self.default_owner_role or next(
                (r for r in self.roles if r in self.owner_roles), self.roles[0]
            )
        else:
            chosen = self.default_collaborator_role or next(
                (r for r in reversed(self.roles) if r not in self.owner_roles), self.roles[-1]
            )
        return chosen

    def highest_role(self, app_roles: Iterable[str]) -> str:
        """The winning app role among ``app_roles`` (non-empty); unknown roles rank lowest."""
        rank = self._role_rank
        return max(app_roles, key=lambda r: (rank.get(r, 0), r))

    def highest_permission(self, permissions: Iterable[str]) -> str:
        """The winning asset permission among ``permissions`` (non-empty)."""
        rank = self._permission_rank
        return max(permissions, key=lambda p: (rank.get(p, 0), p))

    def merge_grants(self, grants: Iterable[AssetGrants]) -> AssetGrants:
        """Union of several rules' grants; where two grant one asset, the highest permission wins."""
        merged: dict[str, str] = {}
        for pairs in grants:
            for asset_id, permission in pairs:
                held = merged.get(asset_id)
                merged[asset_id] = permission if held is None else self.highest_permission((held, permission))
        return tuple(sorted(merged.items()))
