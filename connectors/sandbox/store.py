"""``SandboxStore``: the in-memory state behind every fake, generic across kinds.

Per kind, per org: members (internal ``uid``, email, name, login, role, status active/pending),
assets with grants, and the tokens that may act on the org. Each kind's fake maps its vendor routes
onto these tables and decides how a member's ``remote_id`` is spelled (``KindFake.remote_id``), so the
control endpoints (seed, state, accept) need no per-kind code.

Thread-safe: tests touch the store in-process while uvicorn serves it from another thread;
hold ``store.lock`` (an ``RLock``) to read several tables consistently.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

__all__ = [
    "OrgState",
    "SandboxStore",
    "SeedAsset",
    "SeedMember",
    "SeedSpec",
    "StoredAsset",
    "StoredMember",
]

Status = Literal["active", "pending"]
T = TypeVar("T")


@dataclass(slots=True)
class StoredMember:
    """One member or pending invitation. ``role`` is the vendor's wire value."""

    uid: int
    email: str
    name: str
    role: str
    status: Status
    login: str | None = None
    created_at: float = field(default_factory=time.time)
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class StoredAsset:
    """An asset; ``grants`` maps member uid -> permission (insertion-ordered)."""

    id: str
    name: str
    type: str
    grants: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SeedMember:
    email: str
    name: str = ""
    role: str = ""
    status: Status = "active"


@dataclass(frozen=True, slots=True)
class SeedAsset:
    id: str
    name: str
    type: str
    grants: tuple[tuple[str, str], ...] = ()  # (email, permission)


@dataclass(frozen=True, slots=True)
class SeedSpec:
    """The body of ``POST /_sandbox/<kind>/seed`` as data."""

    org: str
    token: str | None = None
    members: tuple[SeedMember, ...] = ()
    assets: tuple[SeedAsset, ...] = ()


class OrgState:
    """One org of one kind. Members keep insertion order, which is the listing order."""

    def __init__(self, org: str) -> None:
        self.org = org
        self.members: dict[int, StoredMember] = {}
        self.assets: dict[str, StoredAsset] = {}
        self._by_email: dict[str, int] = {}
        self._by_login: dict[str, int] = {}
        self._listing: list[StoredMember] | None = None
        self._views: dict[str, object] = {}

    def listing(self) -> list[StoredMember]:
        """Members in listing order (cached until the next change; cheap paging over 50k)."""
        if self._listing is None:
            self._listing = list(self.members.values())
        return self._listing

    def view(self, key: str, build: Callable[[list[StoredMember]], T]) -> T:
        """``build(listing())``, cached under ``key`` until the members next change (role and
        status included): a fake serving page after page of a filtered listing filters the org
        once, not once per page (which was quadratic in the org's size). Call it under the store's
        lock when another thread may change the org."""
        if key not in self._views:
            self._views[key] = build(self.listing())
        return self._views[key]  # type: ignore[return-value]

    def touch(self) -> None:
        """Forget the cached listing and views: a member's role or status changed in place."""
        self._listing = None
        self._views.clear()

    def by_email(self, email: str) -> StoredMember | None:
        uid = self._by_email.get(email.casefold())
        return self.members.get(uid) if uid is not None else None

    def by_login(self, login: str) -> StoredMember | None:
        uid = self._by_login.get(login.casefold())
        return self.members.get(uid) if uid is not None else None

    def _index(self, member: StoredMember) -> None:
        self._by_email[member.email.casefold()] = member.uid
        if member.login:
            self._by_login[member.login.casefold()] = member.uid
        self.touch()

    def _unindex(self, member: StoredMember) -> None:
        self._by_email.pop(member.email.casefold(), None)
        if member.login:
            self._by_login.pop(member.login.casefold(), None)
        self.touch()


class SandboxStore:
    """All kinds' state. Every method takes the lock; returned objects are live (fakes mutate
    them only through the store's methods)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._orgs: dict[tuple[str, str], OrgState] = {}
        self._tokens: dict[tuple[str, str], set[str]] = {}
        self._next_uid = 1

    # -- orgs and tokens -------------------------------------------------------------------------

    def removals_take_effect(self, kind: str) -> bool:
        """Replaced by the ``Sandbox`` to consult its fault plans."""
        return True

    def reset(self) -> None:
        with self.lock:
            self._orgs.clear()
            self._tokens.clear()
            self._next_uid = 1

    def org(self, kind: str, org: str, *, create: bool = False) -> OrgState | None:
        with self.lock:
            state = self._orgs.get((kind, org))
            if state is None and create:
                state = self._orgs[(kind, org)] = OrgState(org)
            return state

    def orgs(self, kind: str) -> Iterator[OrgState]:
        with self.lock:
            found = [state for (k, _), state in self._orgs.items() if k == kind]
        return iter(found)

    def add_token(self, kind: str, token: str, org: str) -> None:
        with self.lock:
            self._tokens.setdefault((kind, token), set()).add(org)

    def token_orgs(self, kind: str, token: str | None) -> set[str] | None:
        """Orgs ``token`` may act on; ``None`` if the token is unknown to this kind."""
        if not token:
            return None
        with self.lock:
            orgs = self._tokens.get((kind, token))
            return set(orgs) if orgs is not None else None

    # -- members ---------------------------------------------------------------------------------

    def add_member(
        self, kind: str, org: str, *, email: str, name: str = "", role: str, status: Status,
        login: str | None = None,
    ) -> StoredMember:
        """Create a member or pending invitation; ``login`` defaults to one derived from the email
        for active members. An existing email is updated in place instead (seed is additive)."""
        with self.lock:
            state = self.org(kind, org, create=True)
            assert state is not None
            existing = state.by_email(email)
            if existing is not None:
                existing.role, existing.status = role, status
                existing.name = name or existing.name
                if status == "active" and not existing.login:
                    existing.login = login or self._unique_login(state, email)
                state._index(existing)
                return existing
            if status == "active" and not login:
                login = self._unique_login(state, email)
            member = StoredMember(self._next_uid, email, name or _name_from(email), role, status, login)
            self._next_uid += 1
            state.members[member.uid] = member
            state._index(member)
            return member

    def remove_member(self, kind: str, org: str, uid: int) -> bool:
        """Delete the member and its grants; ``False`` if it was not there. Under the
        ``ignore_removals`` fault the removal is acknowledged and nothing changes."""
        if not self.removals_take_effect(kind):
            return True
        with self.lock:
            state = self.org(kind, org)
            member = state.members.pop(uid, None) if state else None
            if state is None or member is None:
                return False
            state._unindex(member)
            for asset in state.assets.values():
                asset.grants.pop(uid, None)
            return True

    def set_role(self, kind: str, org: str, uid: int, role: str) -> None:
        with self.lock:
            state = self.org(kind, org)
            if state is not None and uid in state.members:
                state.members[uid].role = role
                state.touch()

    def accept(self, kind: str, org: str, email: str) -> StoredMember | None:
        """Turn a pending invitation active (assigning a login); ``None`` if no such member."""
        with self.lock:
            state = self.org(kind, org)
            member = state.by_email(email) if state else None
            if state is None or member is None:
                return None
            member.status = "active"
            if not member.login:
                member.login = self._unique_login(state, email)
            state._index(member)
            return member

    @staticmethod
    def _unique_login(state: OrgState, email: str) -> str:
        base = re.sub(r"[^a-z0-9-]+", "-", email.split("@", 1)[0].casefold()).strip("-") or "user"
        login, n = base, 1
        while state.by_login(login) is not None:
            n += 1
            login = f"{base}-{n}"
        return login

    # -- assets ----------------------------------------------------------------------------------

    def add_asset(self, kind: str, org: str, asset_id: str, name: str, type_: str) -> StoredAsset:
        with self.lock:
            state = self.org(kind, org, create=True)
            assert state is not None
            asset = state.assets.get(asset_id)
            if asset is None:
                asset = state.assets[asset_id] = StoredAsset(asset_id, name or asset_id, type_)
            return asset

    def grant(self, kind: str, org: str, asset_id: str, uid: int, permission: str) -> bool:
        """Set the member's permission on the asset; ``False`` if asset or member is unknown."""
        with self.lock:
            state = self.org(kind, org)
            if state is None or asset_id not in state.assets or uid not in state.members:
                return False
            state.assets[asset_id].grants[uid] = permission
            return True

    def revoke(self, kind: str, org: str, asset_id: str, uid: int) -> bool:
        """Drop the grant; ``False`` if there was none."""
        with self.lock:
            state = self.org(kind, org)
            asset = state.assets.get(asset_id) if state else None
            return asset is not None and asset.grants.pop(uid, None) is not None

    # -- seeding ---------------------------------------------------------------------------------

    def seed(self, kind: str, spec: SeedSpec) -> list[StoredMember]:
        """Apply ``spec`` (additive); returns the members it created or updated, in order."""
        with self.lock:
            self.org(kind, spec.org, create=True)
            if spec.token:
                self.add_token(kind, spec.token, spec.org)
            members = [
                self.add_member(kind, spec.org, email=m.email, name=m.name, role=m.role, status=m.status)
                for m in spec.members
            ]
            for a in spec.assets:
                self._seed_asset(kind, spec.org, a)
            return members

    def _seed_asset(self, kind: str, org: str, seed: SeedAsset) -> None:
        asset = self.add_asset(kind, org, seed.id, seed.name, seed.type)
        state = self.org(kind, org)
        assert state is not None
        for email, permission in seed.grants:
            member = state.by_email(email)
            if member is None:
                raise KeyError(f"grant for unknown member {email!r} on asset {seed.id!r}")
            asset.grants[member.uid] = permission


def _name_from(email: str) -> str:
    return " ".join(p.capitalize() for p in re.split(r"[._+-]+", email.split("@", 1)[0]) if p)
