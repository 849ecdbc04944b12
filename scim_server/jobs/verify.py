"""Verify after remove: re-read what a removal should have taken away, as cheaply as the vendor
allows.

Where the kind's API can read one member (``read_member`` in ``mapping.capabilities.KIND_READS``,
the connector's ``ReadsMember``) and one permission (``read_permission``, ``ReadsPermission``),
each removal costs a request per member and per revoked asset, made a few at a time, instead of a listing of the whole app (100-500 pages at 10,000 members). Where it
cannot, the removals of one job (a report's batch) share one listing of the members and one
listing per revoked asset. Either way the answer is the same: member id -> what is still there.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from connectors.base import Asset, ListsAssets, Member, ReadsMember, ReadsPermission
from mapping import Read, Remove, reads_of

__all__ = ["READS_IN_FLIGHT", "bounded", "still_present"]

READS_IN_FLIGHT = 8  # targeted reads at once for one job: a report's batch, not a burst at the vendor
T = TypeVar("T")


async def bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int = READS_IN_FLIGHT) -> list[T]:
    """The results of ``calls``, in order, with at most ``limit`` running at once."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


async def _members_left(connector: Any, removals: Sequence[Remove], reads: frozenset[Read]) -> set[str]:
    """The remote ids among ``removals`` the app still has."""
    if "read_member" in reads and isinstance(connector, ReadsMember):
        calls: list[Callable[[], Awaitable[Member | None]]] = [
            functools.partial(connector.read_member, r.remote_id) for r in removals
        ]
        found = await bounded(calls)
        return {r.remote_id for r, member in zip(removals, found, strict=True) if member is not None}
    wanted = {r.remote_id for r in removals}
    return {m.remote_id async for m in connector.list_members() if m.remote_id in wanted}


async def _permissions_left(connector: Any, removals: Sequence[Remove], reads: frozenset[Read]) -> set[tuple[str, str]]:
    """The (remote id, asset id) grants among the removals' ``revokes`` the app still has."""
    pairs = [(r.remote_id, asset_id) for r in removals for asset_id in r.revokes]
    if not pairs:
        return set()
    if "read_permission" in reads and isinstance(connector, ReadsPermission):
        checks: list[Callable[[], Awaitable[bool]]] = [
            functools.partial(connector.holds_permission, *pair) for pair in pairs
        ]
        held = await bounded(checks)
        return {pair for pair, yes in zip(pairs, held, strict=True) if yes}
    if not isinstance(connector, ListsAssets):
        return set()
    wanted, left = set(pairs), set()
    for asset_id in sorted({a for _, a in pairs}):
        async for permission in connector.list_permissions(Asset(asset_id, asset_id, "")):
            if (permission.remote_id, asset_id) in wanted:
                left.add((permission.remote_id, asset_id))
    return left


async def still_present(connector: Any, removals: list[Remove], kind: str | None = None) -> dict[str, list[str]]:
    """Member id -> what is still there after its removal ("member", "permission on X"). The
    targeted reads used are the kind's (``mapping.capabilities.KIND_READS``; ``kind`` None: the
    connector's protocols)."""
    reads = reads_of(kind) if kind is not None else frozenset[Read]({"read_member", "read_permission"})
    members = await _members_left(connector, removals, reads)
    permissions = await _permissions_left(connector, removals, reads)
    left: dict[str, list[str]] = {}
    for removal in removals:
        if removal.remote_id in members:
            left.setdefault(removal.member_id, []).append("member")
        for asset_id in removal.revokes:
            if (removal.remote_id, asset_id) in permissions:
                left.setdefault(removal.member_id, []).append(f"permission on {asset_id}")
    return left
