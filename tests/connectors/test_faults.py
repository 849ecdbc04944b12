"""Fault plans: deterministic decisions, validation, and the gate's effects over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.sandbox import FaultPlan, Faults, SandboxClient


def decisions(plan: FaultPlan, n: int) -> list[str | None]:
    faults = Faults()
    faults.set("k", plan)
    return [faults.decide("k").fault for _ in range(n)]


@given(every=st.integers(1, 10), n=st.integers(0, 60))
def test_rate_limit_every_nth_request(every: int, n: int) -> None:
    got = decisions(FaultPlan(rate_limit_every=every), n)
    assert [i + 1 for i, f in enumerate(got) if f == "rate_limit"] == list(range(every, n + 1, every))


@given(seed=st.integers(0, 2**31), rate=st.floats(0, 1))
def test_error_rate_is_repeatable_for_a_seed(seed: int, rate: float) -> None:
    plan = FaultPlan(error_rate=rate, seed=seed)
    first = decisions(plan, 50)
    assert first == decisions(plan, 50)
    assert set(first) <= {None, "rate_limit", "unavailable", "timeout"}


def test_error_rate_roughly_holds() -> None:
    got = decisions(FaultPlan(error_rate=0.3, seed=1), 2000)
    assert 0.25 < sum(f is not None for f in got) / 2000 < 0.35
    assert {f for f in got if f} == {"rate_limit", "unavailable", "timeout"}


def test_expired_tokens_fail_every_request() -> None:
    assert set(decisions(FaultPlan(expire_tokens=True, error_rate=0.5), 20)) == {"auth_expired"}


def test_wildcard_plan_applies_to_kinds_without_their_own() -> None:
    faults = Faults()
    faults.set("*", FaultPlan(rate_limit_every=1))
    faults.set("quiet", FaultPlan())
    assert faults.decide("any").fault == "rate_limit"
    assert faults.decide("quiet").fault is None


@pytest.mark.parametrize("body", [{"error_rate": 2}, {"bogus": 1}, {"errors": ["rate_limit"], "seed": "x"}])
def test_bad_plans_are_rejected(sandbox: SandboxClient, body: dict[str, object]) -> None:
    response = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"kind": "github", **body})
    assert response.status_code == 400


def test_faults_endpoint_round_trip(sandbox: SandboxClient) -> None:
    answer = sandbox.faults("github", rate_limit_every=3, error_rate=0.1, latency_ms=5, expire_tokens=False)
    assert (answer["kind"], answer["rate_limit_every"], answer["error_rate"]) == ("github", 3, 0.1)
    assert sandbox.fault_stats()["plans"]["github"]["latency_ms"] == 5
    sandbox.clear_faults()
    assert sandbox.fault_stats()["plans"] == {}


def test_unknown_kind_is_404(sandbox: SandboxClient) -> None:
    response = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"kind": "nope", "error_rate": 0.1})
    assert response.status_code == 404


def test_a_timeout_fault_takes_effect_but_answers_too_late(sandbox: SandboxClient) -> None:
    """The hard case for idempotency: the client gives up, the invitation exists anyway."""
    sandbox.seed("github", {"org": "o", "token": "t"})
    sandbox.faults("github", error_rate=1.0, errors=["timeout"], timeout_ms=600)
    with pytest.raises(httpx.TimeoutException):
        httpx.post(f"{sandbox.kind_url('github')}/orgs/o/invitations", json={"email": "late@example.com"},
                   headers={"Authorization": "Bearer t"}, timeout=0.2)
    sandbox.clear_faults()
    assert [m["email"] for m in sandbox.state("github", "o")["members"]] == ["late@example.com"]


def test_rejecting_faults_have_no_effect(sandbox: SandboxClient) -> None:
    sandbox.seed("github", {"org": "o", "token": "t"})
    sandbox.faults("github", error_rate=1.0, errors=["rate_limit", "unavailable"])
    for _ in range(4):
        response = httpx.post(f"{sandbox.kind_url('github')}/orgs/o/invitations",
                              json={"email": "no@example.com"}, headers={"Authorization": "Bearer t"})
        assert response.status_code in (403, 429, 503)
    assert sandbox.state("github", "o")["members"] == []


def test_latency_is_added(sandbox: SandboxClient) -> None:
    sandbox.seed("github", {"org": "o", "token": "t"})
    sandbox.faults("github", latency_ms=400)
    with pytest.raises(httpx.TimeoutException):
        httpx.get(f"{sandbox.kind_url('github')}/orgs/o", headers={"Authorization": "Bearer t"}, timeout=0.1)
