"""One app's reconciliation settings: its vocabulary, capabilities, deprovision policy, guard and
automation account."""

from __future__ import annotations

from dataclasses import dataclass, field

from mapping.capabilities import ALL_CAPABILITIES, Capability
from mapping.model import AutomationIdentity, DeprovisionPolicy, RemovalGuard
from mapping.roles import RoleVocabulary

__all__ = ["AppPolicy"]


@dataclass(frozen=True, slots=True)
class AppPolicy:
    """How reconciliation treats one app.

    :param vocabulary: the app kind's roles (``RoleVocabulary``).
    :param deprovision: ``report`` (deprovisioned members go on a report an admin applies) or
        ``automatic`` (their removal is planned at once).
    :param guard: the mass-removal guard (defaults: more than 10 members AND more than 20 %).
    :param automation: how to recognise the automation account's own member.
    :param match_usernames: also match on username when an email finds no candidate.
    :param capabilities: what the app kind can do (``capabilities.capabilities_of(kind)``); a change
        needing a capability outside it is planned as an ``unsupported`` conflict, never an action.
        Defaults to every capability (pure tests); the service always passes the kind's.
    """

    vocabulary: RoleVocabulary
    deprovision: DeprovisionPolicy = "report"
    guard: RemovalGuard = field(default_factory=RemovalGuard)
    automation: AutomationIdentity = field(default_factory=AutomationIdentity)
    match_usernames: bool = False
    capabilities: frozenset[Capability] = ALL_CAPABILITIES
