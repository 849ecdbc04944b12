"""Stateful local fakes of each vendor API, with fault injection, for tests, benchmarks and the demo.

``create_sandbox_app(scenario)`` serves each kind's fake under ``/<kind>`` (the vendor's real paths
after the prefix) and the ``/_sandbox`` control endpoints (see ``connectors.sandbox.control``).
How to add a kind's fake: see the guide in ``connectors/__init__.py``.
"""

from connectors.sandbox.app import Sandbox, UnknownFake, create_sandbox_app, fake_classes
from connectors.sandbox.control import SandboxClient, parse_seed
from connectors.sandbox.fake import KindFake, demo_token
from connectors.sandbox.faults import FaultPlan, Faults
from connectors.sandbox.store import (
    OrgState,
    SandboxStore,
    SeedAsset,
    SeedMember,
    SeedSpec,
    StoredAsset,
    StoredMember,
)

__all__ = [
    "FaultPlan",
    "Faults",
    "KindFake",
    "OrgState",
    "Sandbox",
    "SandboxClient",
    "SandboxStore",
    "SeedAsset",
    "SeedMember",
    "SeedSpec",
    "StoredAsset",
    "StoredMember",
    "UnknownFake",
    "create_sandbox_app",
    "demo_token",
    "fake_classes",
    "parse_seed",
]
