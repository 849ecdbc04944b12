"""Fault injection as data: ``FaultPlan`` per kind, decided per request, applied by ``FaultGate``.

The gate is generic: it decides *whether* a request fails and *how* (rate limit, unavailable,
timeout, expired token); the kind's fake renders the failure the vendor's way
(``KindFake.render_rate_limited`` / ``render_unavailable`` / ``render_auth_expired``).

Determinism: ``rate_limit_every=N`` rate-limits the Nth, 2Nth ... request of the kind (counted from
the moment the plan is set); ``error_rate`` draws from ``random.Random(seed)``, so the same plan and
the same request sequence fail the same way. A ``timeout`` fault lets the request take effect, then
holds the response ``timeout_ms`` (beyond the client's timeout): the hard case for idempotency.
Rate-limit and unavailable faults reject the request before it takes effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from connectors.sandbox.fake import KindFake

__all__ = ["ALL_KINDS", "Decision", "FaultGate", "FaultKind", "FaultPlan", "Faults"]

FaultKind = Literal["rate_limit", "unavailable", "timeout", "auth_expired"]
ALL_KINDS = "*"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to break for one kind (``POST /_sandbox/faults`` body, minus ``kind``).

    :param rate_limit_every: rate-limit every Nth request (0 = never).
    :param error_rate: fraction of requests failing with one of ``errors`` (seeded RNG).
    :param latency_ms: added to every request.
    :param expire_tokens: every request answers as if its token expired.
    :param retry_after: seconds the fake advertises in its rate-limit answers.
    :param timeout_ms: how long a ``timeout`` fault holds the response.
    :param errors: which failures ``error_rate`` draws from.
    :param seed: RNG seed for ``error_rate``.
    :param ignore_removals: removals are acknowledged but the member stays (a stale replica), so
        a caller's verify-after-remove has something to catch.
    """

    rate_limit_every: int = 0
    error_rate: float = 0.0
    latency_ms: int = 0
    expire_tokens: bool = False
    retry_after: float = 0.0
    timeout_ms: int = 2000
    errors: tuple[FaultKind, ...] = ("rate_limit", "unavailable", "timeout")
    seed: int = 0
    ignore_removals: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FaultPlan:
        """Build from a control-endpoint body; unknown keys are rejected with ``ValueError``."""
        names = {f.name for f in fields(cls)}
        unknown = set(body) - names - {"kind"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        values = {k: v for k, v in body.items() if k in names and v is not None}
        if "errors" in values:
            values["errors"] = tuple(values["errors"])
        plan = cls(**values)
        plan._validate()
        return plan

    def _validate(self) -> None:
        numbers = (self.rate_limit_every, self.error_rate, self.latency_ms, self.retry_after,
                   self.timeout_ms, self.seed)
        if any(isinstance(n, bool) or not isinstance(n, int | float) or n < 0 for n in numbers):
            raise ValueError("numeric fault fields must be non-negative numbers")
        if not isinstance(self.expire_tokens, bool):
            raise ValueError("expire_tokens must be a boolean")  # noqa: TRY004 (ValueError: the routes answer 400)
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        if not set(self.errors) <= {"rate_limit", "unavailable", "timeout", "auth_expired"}:
            raise ValueError(f"errors must be among rate_limit, unavailable, timeout: {self.errors}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = list(self.errors)
        return data


@dataclass(frozen=True, slots=True)
class Decision:
    fault: FaultKind | None = None
    latency: float = 0.0
    hold: float = 0.0
    retry_after: float = 0.0


@dataclass(slots=True)
class _KindCounters:
    plan: FaultPlan
    rng: random.Random
    requests: int = 0
    injected: dict[str, int] = field(default_factory=dict)


class Faults:
    """Plans and counters per kind (``"*"`` applies to kinds without their own plan)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, _KindCounters] = {}
        self._seen: dict[str, int] = {}

    def set(self, kind: str, plan: FaultPlan) -> None:
        with self._lock:
            self._kinds[kind] = _KindCounters(plan, random.Random(plan.seed))

    def clear(self, kind: str | None = None) -> None:
        with self._lock:
            if kind is None:
                self._kinds.clear()
                self._seen.clear()
            else:
                self._kinds.pop(kind, None)

    def plan(self, kind: str) -> FaultPlan | None:
        with self._lock:
            counters = self._kinds.get(kind) or self._kinds.get(ALL_KINDS)
            return counters.plan if counters else None

    def requests_seen(self, kind: str) -> int:
        """Vendor requests the kind's fake received since the last reset (faulted ones included)."""
        with self._lock:
            return self._seen.get(kind, 0)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._seen),
                "plans": {k: c.plan.to_json() | {"injected": dict(c.injected)}
                          for k, c in self._kinds.items()},
            }

    def decide(self, kind: str) -> Decision:
        """Count one request of ``kind`` and decide its fate."""
        with self._lock:
            self._seen[kind] = self._seen.get(kind, 0) + 1
            counters = self._kinds.get(kind) or self._kinds.get(ALL_KINDS)
            if counters is None:
                return Decision()
            counters.requests += 1
            fault = self._pick(counters)
            if fault is not None:
                counters.injected[fault] = counters.injected.get(fault, 0) + 1
            plan = counters.plan
            return Decision(fault, plan.latency_ms / 1000, plan.timeout_ms / 1000, plan.retry_after)

    @staticmethod
    def _pick(counters: _KindCounters) -> FaultKind | None:
        plan = counters.plan
        if plan.expire_tokens:
            return "auth_expired"
        if plan.rate_limit_every and counters.requests % plan.rate_limit_every == 0:
            return "rate_limit"
        if plan.error_rate and plan.errors and counters.rng.random() < plan.error_rate:
            return plan.errors[counters.rng.randrange(len(plan.errors))]
        return None


class FaultGate:
    """ASGI wrapper around one kind's fake: applies the kind's ``FaultPlan`` to each request."""

    def __init__(self, kind: str, app: ASGIApp, fake: KindFake, faults: Faults) -> None:
        self.kind, self.app, self.fake, self.faults = kind, app, fake, faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        decision = self.faults.decide(self.kind)
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.fault == "timeout":
            await self._late(scope, receive, send, decision.hold)
            return
        if decision.fault is None:
            await self.app(scope, receive, send)
            return
        renderers: dict[str, Callable[[], Response]] = {
            "auth_expired": self.fake.render_auth_expired,
            "unavailable": self.fake.render_unavailable,
            "rate_limit": lambda: self.fake.render_rate_limited(decision.retry_after),
        }
        await renderers[decision.fault]()(scope, receive, send)

    async def _late(self, scope: Scope, receive: Receive, send: Send, hold: float) -> None:
        """Let the request take effect, then answer after ``hold`` seconds (the client gave up)."""
        buffered: list[Message] = []

        async def keep(message: Message) -> None:
            buffered.append(message)

        await self.app(scope, receive, keep)
        await asyncio.sleep(hold)
        with contextlib.suppress(Exception):  # the client is gone; that is the point of this fault
            for message in buffered:
                await send(message)
