"""``apply(actual, actions)``: what the app and the bridge's bookkeeping look like once actions are done.

A pure simulation, used by tests (``plan`` after ``apply`` must be empty) and by anyone who wants to
preview a plan's effect. It follows the connector contracts (``connectors.base``): every action is
idempotent, acting on a member that is already gone is a no-op, a grant replaces the member's
permission on that asset, and a removal takes the member's asset permissions and its report entry
with it. An ``Invite`` adds a pending member (id from ``new_member_id``) that the rules manage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from mapping.actions import (
    Action,
    Adopt,
    ChangeRole,
    Grant,
    Invite,
    Remove,
    ReportEntry,
    ReportWithdrawal,
    Revoke,
)
from mapping.model import Actual, AppMember, DeprovisionReason, asset_grants

__all__ = ["apply", "invited_member_id"]


def invited_member_id(invite: Invite) -> str:
    """The member id ``apply`` gives an invitation by default: ``invited:<user id>``.

    The store gives every new member row a fresh id; a caller simulating several rounds in which one
    user may be invited, removed and invited again passes its own ``new_member_id`` to do the same.
    """
    return f"invited:{invite.user_id}"


class _State:
    def __init__(self, actual: Actual, new_member_id: Callable[[Invite], str]) -> None:
        self.new_member_id = new_member_id
        self.members: dict[str, AppMember] = {m.id: m for m in actual.members}
        self.reported: dict[str, DeprovisionReason] = dict(actual.reported)
        self.managed: dict[str, str] = dict(actual.managed)

    def invite(self, a: Invite) -> None:
        mid = self.new_member_id(a)
        self.members[mid] = AppMember(mid, f"inv:{mid}", a.email, app_role=a.app_role, status="pending")
        self.managed[mid] = a.user_id

    def remove(self, a: Remove) -> None:
        self.members.pop(a.member_id, None)
        self.reported.pop(a.member_id, None)
        self.managed.pop(a.member_id, None)

    def change_role(self, a: ChangeRole) -> None:
        member = self.members.get(a.member_id)
        if member is not None:
            self.members[a.member_id] = replace(member, app_role=a.to_role)

    def set_asset(self, member_id: str, asset_id: str, permission: str | None) -> None:
        member = self.members.get(member_id)
        if member is None:
            return
        held = dict(member.assets)
        if permission is None:
            held.pop(asset_id, None)
        else:
            held[asset_id] = permission
        self.members[member_id] = replace(member, assets=asset_grants(held))

    def run(self, a: Action) -> None:
        if isinstance(a, Invite):
            self.invite(a)
        elif isinstance(a, Remove):
            self.remove(a)
        elif isinstance(a, ChangeRole):
            self.change_role(a)
        elif isinstance(a, Grant):
            self.set_asset(a.member_id, a.asset_id, a.permission)
        elif isinstance(a, Revoke):
            self.set_asset(a.member_id, a.asset_id, None)
        elif isinstance(a, ReportEntry):
            if a.member_id in self.members:
                self.reported[a.member_id] = a.reason
        elif isinstance(a, ReportWithdrawal):
            self.reported.pop(a.member_id, None)
        elif isinstance(a, Adopt) and a.member_id in self.members:
            self.managed[a.member_id] = a.user_id


def apply(
    actual: Actual,
    actions: Iterable[Action],
    new_member_id: Callable[[Invite], str] = invited_member_id,
) -> Actual:
    """``actual`` after ``actions``, in order. Pure: ``actual`` is not changed.

    :param new_member_id: the member id an ``Invite`` creates (default ``invited_member_id``).
    """
    state = _State(actual, new_member_id)
    for action in actions:
        state.run(action)
    return Actual(tuple(state.members.values()), state.reported, state.managed)
