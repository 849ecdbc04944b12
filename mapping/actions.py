"""The actions a plan is made of, and the other values a plan returns (held removals, conflicts).

App actions (each one a job, each idempotent at the connector: inviting someone already invited,
removing someone already gone, granting a permission already held all succeed with no second effect):
``Invite``, ``Remove``, ``ChangeRole``, ``Grant``, ``Revoke``.

Bookkeeping actions (no app call; the store records them in the same transaction as the plan):
``ReportEntry`` (put a member on the app's pending deprovision report), ``ReportWithdrawal`` (take it
back off: the user was reactivated, the member exempted or unlinked) and ``Adopt`` (the assignment
rules now manage this member, so leaving every rule's group removes it).

Every action has a ``key``: two actions with the same key have the same effect. Plans skip actions
whose key is in flight (already queued), so re-planning never duplicates a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mapping.model import BridgeRole, DeprovisionReason

if TYPE_CHECKING:  # capabilities imports the action classes; annotations only here
    from mapping.capabilities import Capability

__all__ = [
    "Action",
    "ActionKey",
    "Adopt",
    "ChangeRole",
    "Conflict",
    "ConflictKind",
    "Grant",
    "Held",
    "Invite",
    "RemovalCause",
    "Remove",
    "ReportEntry",
    "ReportWithdrawal",
    "Revoke",
    "WithdrawalCause",
]

ActionKey = tuple[str, ...]

RemovalCause = Literal["deactivated", "deleted", "unassigned", "admin"]
"""Why a member is removed: its user was deactivated or deleted in the IdP, it left every rule's
group (``unassigned``), or an admin asked (a report applied, a remove from the console)."""

WithdrawalCause = Literal["reactivated", "exempted", "unlinked", "automation", "gone"]
"""Why a report entry is taken back: the user was reactivated, the member exempted, unmatched or
recognised as the automation account, or the member is no longer in the app (removed by hand)."""


@dataclass(frozen=True, slots=True)
class Invite:
    """Invite directory user ``user_id`` at ``email`` with ``app_role``; ``bridge_role`` is ours."""

    user_id: str
    email: str
    app_role: str
    bridge_role: BridgeRole

    @property
    def key(self) -> ActionKey:
        return ("invite", self.user_id)


@dataclass(frozen=True, slots=True)
class Remove:
    """Remove the member (or revoke its pending invitation) and its permissions on ``revokes``.

    ``revokes`` lists the asset ids the member holds permissions on, as last imported: the job
    revokes them (where the vendor does not cascade) and verifies they are gone.
    """

    member_id: str
    remote_id: str
    user_id: str | None
    revokes: tuple[str, ...]
    cause: RemovalCause

    @property
    def key(self) -> ActionKey:
        return ("remove", self.member_id)


@dataclass(frozen=True, slots=True)
class ChangeRole:
    """Set the member's app role from ``from_role`` to ``to_role``."""

    member_id: str
    remote_id: str
    from_role: str
    to_role: str

    @property
    def key(self) -> ActionKey:
        return ("change_role", self.member_id, self.to_role)


@dataclass(frozen=True, slots=True)
class Grant:
    """Give the member ``permission`` on ``asset_id`` (replacing any other permission it holds there)."""

    member_id: str
    remote_id: str
    asset_id: str
    permission: str

    @property
    def key(self) -> ActionKey:
        return ("grant", self.member_id, self.asset_id, self.permission)


@dataclass(frozen=True, slots=True)
class Revoke:
    """Take the member's permission on ``asset_id`` away."""

    member_id: str
    remote_id: str
    asset_id: str

    @property
    def key(self) -> ActionKey:
        return ("revoke", self.member_id, self.asset_id)


@dataclass(frozen=True, slots=True)
class ReportEntry:
    """Put the member on the app's pending deprovision report (policy ``report``).

    Applying the report (an admin's confirmation) removes the member: ``Remove(cause="admin")``.
    """

    member_id: str
    remote_id: str
    user_id: str
    reason: DeprovisionReason

    @property
    def key(self) -> ActionKey:
        return ("report", self.member_id, self.reason)


@dataclass(frozen=True, slots=True)
class ReportWithdrawal:
    """Take the member back off the pending deprovision report (e.g. its user was reactivated)."""

    member_id: str
    cause: WithdrawalCause

    @property
    def key(self) -> ActionKey:
        return ("withdraw", self.member_id)


@dataclass(frozen=True, slots=True)
class Adopt:
    """From now on the assignment rules manage this member for ``user_id``."""

    member_id: str
    user_id: str

    @property
    def key(self) -> ActionKey:
        return ("adopt", self.member_id, self.user_id)


Action = Invite | Remove | ChangeRole | Grant | Revoke | ReportEntry | ReportWithdrawal | Adopt


@dataclass(frozen=True, slots=True)
class Held:
    """A removal the mass-removal guard held back; ``reason`` says why, for the report."""

    action: Remove
    reason: str


ConflictKind = Literal["no_email", "disputed", "email_taken", "unsupported"]


@dataclass(frozen=True, slots=True)
class Conflict:
    """Something the plan cannot decide or do alone; shown to the admin, never raised.

    - ``no_email``: a user the rules want in the app has no email that is its alone to invite with;
    - ``disputed``: that user is a candidate of a disputed member (match it first);
    - ``email_taken``: every email of its own is held by a member an admin matched to someone else;
    - ``unsupported``: the change is wanted but the app kind cannot make it (``capability`` names
      what is missing, e.g. a role change on Calendly); an admin makes it in the app by hand.

    ``member_id`` names the member the change is about (``None`` for a user still to be invited).
    """

    user_id: str
    kind: ConflictKind
    detail: str
    member_id: str | None = None
    capability: Capability | None = None
