"""``create_sandbox_app``: every kind's fake under ``/<kind>``, and ``/_sandbox`` control beside them.

``Sandbox`` is the in-process face of the same state the control endpoints use: tests may call
``app.state.sandbox.seed(...)`` / ``.state(...)`` / ``.set_faults(...)`` directly, or go over HTTP.

Fakes are found by convention: for each kind in ``connectors.registry.KIND_PACKAGES``, the module
``connectors.sandbox.<kind>`` (if it exists) defines ``FAKE``, a ``KindFake`` subclass.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Router

from connectors.registry import KIND_PACKAGES
from connectors.sandbox.fake import KindFake
from connectors.sandbox.faults import FaultGate, FaultPlan, Faults
from connectors.sandbox.store import SandboxStore, SeedSpec

__all__ = ["Sandbox", "UnknownFake", "create_sandbox_app", "fake_classes"]


class UnknownFake(KeyError):
    """No fake is served for that kind."""


def fake_classes(kinds: Iterable[str] | None = None) -> dict[str, type[KindFake]]:
    """Kind -> fake class, for every kind (or the given ones) whose sandbox module exists."""
    wanted = list(kinds) if kinds is not None else [p.rsplit(".", 1)[-1] for p in KIND_PACKAGES]
    found: dict[str, type[KindFake]] = {}
    for kind in wanted:
        module_name = f"connectors.sandbox.{kind}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        found[kind] = module.FAKE
    return found


class Sandbox:
    """State, faults and fakes of one sandbox app. Thread-safe (the store and faults lock)."""

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        self.store = SandboxStore()
        self.faults = Faults()
        self.store.removals_take_effect = self._removals_take_effect  # type: ignore[method-assign]
        self.fakes: dict[str, KindFake] = {k: cls(self.store) for k, cls in fake_classes(kinds).items()}

    def _removals_take_effect(self, kind: str) -> bool:
        plan = self.faults.plan(kind)
        return plan is None or not plan.ignore_removals

    @property
    def kinds(self) -> list[str]:
        return list(self.fakes)

    def fake(self, kind: str) -> KindFake:
        try:
            return self.fakes[kind]
        except KeyError:
            raise UnknownFake(kind) from None

    def reset(self, scenario: str = "empty") -> None:
        """Forget all state and faults, then apply ``scenario`` (``"empty"`` or ``"demo"``)."""
        from connectors.sandbox.scenarios import apply_scenario

        self.store.reset()
        self.faults.clear()
        apply_scenario(self, scenario)

    def seed(self, kind: str, spec: SeedSpec) -> list[str]:
        """Add members, assets and a token to ``spec.org``; returns the members' remote ids."""
        fake = self.fake(kind)
        return [fake.remote_id(m) for m in self.store.seed(kind, spec)]

    def state(self, kind: str, org: str) -> dict[str, Any]:
        """``GET /_sandbox/<kind>/state`` as data: members and assets with grants by remote id."""
        fake = self.fake(kind)
        state = self.store.org(kind, org)
        if state is None:
            return {"members": [], "assets": []}
        with self.store.lock:
            members = [
                {"remote_id": fake.remote_id(m), "email": m.email, "name": m.name, "role": m.role,
                 "status": m.status}
                for m in state.listing()
            ]
            assets = [
                {"id": a.id, "name": a.name, "type": a.type,
                 "grants": [{"remote_id": fake.remote_id(state.members[uid]), "permission": p}
                            for uid, p in a.grants.items()]}
                for a in state.assets.values()
            ]
        return {"members": members, "assets": assets}

    def accept(self, kind: str, org: str, email: str) -> str | None:
        """Accept the pending invitation of ``email``; returns the member's new remote id."""
        member = self.store.accept(kind, org, email)
        return self.fake(kind).remote_id(member) if member is not None else None

    def set_faults(self, kind: str, plan: FaultPlan) -> None:
        """Apply ``plan`` to ``kind`` (``"*"``: every kind without its own plan)."""
        if kind != "*":
            self.fake(kind)
        self.faults.set(kind, plan)


def create_sandbox_app(scenario: str = "empty", *, kinds: Iterable[str] | None = None) -> Starlette:
    """The sandbox ASGI app; ``app.state.sandbox`` is its ``Sandbox``."""
    from connectors.sandbox.control import control_routes

    sandbox = Sandbox(kinds)
    sandbox.reset(scenario)
    mounts = [
        Mount(f"/{kind}", app=FaultGate(kind, Router(list(fake.routes())), fake, sandbox.faults))
        for kind, fake in sandbox.fakes.items()
    ]
    from connectors.sandbox.oidc import OidcProvider

    oidc = Mount("/oidc", routes=OidcProvider().routes())  # the console's OpenID Connect sign-in
    app = Starlette(routes=[*control_routes(), *mounts, oidc])
    app.state.sandbox = sandbox
    return app
