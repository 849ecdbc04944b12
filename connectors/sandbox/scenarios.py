"""Deterministic starting states, shared by tests and the demo.

- ``empty``: no orgs, no tokens, no faults.
- ``demo``: for every kind with a fake, the org ``KindFake.demo_org`` (GitHub: ``acme``) holding
  four active members (``ada.lovelace@example.com`` has the kind's owner role; ``grace.hopper``,
  ``alan.turing``, ``edsger.dijkstra`` are plain members), two pending invitations
  (``barbara.liskov``, ``ken.thompson``), two assets (``website``, ``mobile-app`` unless the fake says
  otherwise) granted to Ada and Grace, and the token ``demo-token-<kind>`` (e.g.
  ``demo-token-github``). ``python -m connectors.sandbox --scenario demo`` prints the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.sandbox.app import Sandbox

__all__ = ["SCENARIOS", "UnknownScenario", "apply_scenario", "describe_demo"]

SCENARIOS: tuple[str, ...] = ("empty", "demo")


class UnknownScenario(ValueError):
    """Scenario names are ``SCENARIOS``."""


def apply_scenario(sandbox: Sandbox, name: str) -> None:
    """Load scenario ``name`` into a freshly reset ``sandbox``."""
    if name not in SCENARIOS:
        raise UnknownScenario(f"unknown scenario {name!r}; expected one of {SCENARIOS}")
    if name == "demo":
        for kind, fake in sandbox.fakes.items():
            sandbox.seed(kind, fake.demo_seed())


def describe_demo(sandbox: Sandbox) -> list[tuple[str, str, str]]:
    """``(kind, org, token)`` of the demo scenario, for printing."""
    rows = []
    for kind, fake in sandbox.fakes.items():
        spec = fake.demo_seed()
        rows.append((kind, spec.org, spec.token or ""))
    return rows
