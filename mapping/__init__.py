"""Pure reconciliation: matching, role mapping, desired state, the sets, and plans.

No I/O, no database, no clock, no logging, no import of ``scim_server`` or ``connectors``: plain
frozen data in, plain frozen data out (design.md, "desired state against actual state"). Expected
outcomes (a disputed match, a user that cannot be invited, removals held by the guard) are values in
the result; exceptions are raised only for caller bugs (``ValueError``).

Typical use (``scim_server/reconcile.py``)::

    result = reconcile(directory, governance, policy, actual, in_flight)
    result.sets.matched, result.plan.actions, result.plan.held, result.plan.conflicts

What a kind can do is ``mapping.capabilities`` (``can("calendly", "change_role")`` is false); pass
``capabilities_of(kind)`` in ``AppPolicy`` and the plan returns what the kind cannot do as conflicts.
"""

from mapping.actions import (
    Action,
    ActionKey,
    Adopt,
    ChangeRole,
    Conflict,
    ConflictKind,
    Grant,
    Held,
    Invite,
    RemovalCause,
    Remove,
    ReportEntry,
    ReportWithdrawal,
    Revoke,
    WithdrawalCause,
)
from mapping.capabilities import (
    ALL_CAPABILITIES,
    KIND_CAPABILITIES,
    KIND_READS,
    Capability,
    Read,
    can,
    capabilities_of,
    needed_capability,
    reads_of,
)
from mapping.desired import Desired, Entitlement, Standing, desired_state, entitlement_of
from mapping.diff import (
    AUTOMATION_REASON,
    Membership,
    MembershipState,
    Sets,
    bridge_role_of,
    member_sets,
    membership,
)
from mapping.incremental import (
    MemorySource,
    Slice,
    SliceSource,
    closure,
    member_keys,
    restrict,
    unsettled,
    user_keys,
)
from mapping.matching import Match, Matches, MatchReason, match
from mapping.model import (
    Actual,
    AppMember,
    AssetGrants,
    AssignmentRule,
    AutomationIdentity,
    BridgeRole,
    DeprovisionPolicy,
    DeprovisionReason,
    Directory,
    DirectoryUser,
    Exemption,
    Governance,
    ManualMatch,
    MemberStatus,
    RemovalGuard,
    asset_grants,
)
from mapping.normalize import normalize_email, normalize_username
from mapping.plan import Plan, plan, removal_of
from mapping.policy import AppPolicy
from mapping.reconciliation import Reconciliation, reconcile, report_removals
from mapping.roles import RoleLike, RoleVocabulary, highest_bridge_role
from mapping.simulate import apply, invited_member_id

__all__ = [
    "ALL_CAPABILITIES",
    "AUTOMATION_REASON",
    "KIND_CAPABILITIES",
    "KIND_READS",
    "Action",
    "ActionKey",
    "Actual",
    "Adopt",
    "AppMember",
    "AppPolicy",
    "AssetGrants",
    "AssignmentRule",
    "AutomationIdentity",
    "BridgeRole",
    "Capability",
    "ChangeRole",
    "Conflict",
    "ConflictKind",
    "DeprovisionPolicy",
    "DeprovisionReason",
    "Desired",
    "Directory",
    "DirectoryUser",
    "Entitlement",
    "Exemption",
    "Governance",
    "Grant",
    "Held",
    "Invite",
    "ManualMatch",
    "Match",
    "MatchReason",
    "Matches",
    "MemberStatus",
    "Membership",
    "MembershipState",
    "MemorySource",
    "Plan",
    "Read",
    "Reconciliation",
    "RemovalCause",
    "RemovalGuard",
    "Remove",
    "ReportEntry",
    "ReportWithdrawal",
    "Revoke",
    "RoleLike",
    "RoleVocabulary",
    "Sets",
    "Slice",
    "SliceSource",
    "Standing",
    "WithdrawalCause",
    "apply",
    "asset_grants",
    "bridge_role_of",
    "can",
    "capabilities_of",
    "closure",
    "desired_state",
    "entitlement_of",
    "highest_bridge_role",
    "invited_member_id",
    "match",
    "member_keys",
    "member_sets",
    "membership",
    "needed_capability",
    "normalize_email",
    "normalize_username",
    "plan",
    "reads_of",
    "reconcile",
    "removal_of",
    "report_removals",
    "restrict",
    "unsettled",
    "user_keys",
]
