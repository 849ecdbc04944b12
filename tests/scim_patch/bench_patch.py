"""Micro-benchmark of the PATCH engine (a script, not a test): µs per call, CPU time.

Run: .venv/bin/python -m tests.scim_patch.bench_patch
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from scim_server.scim.patch import apply_group_patch, apply_user_patch, normalize_patch
from tests.scim_patch.helpers import bjensen, body, canonical_group, sample

CASES: dict[str, dict[str, Any]] = {
    "Okta  replace value {active: true}": sample("okta-user-reactivate"),
    'Entra Replace active "False"': sample("entra-ki-disable-default"),
    "Entra replace multiple (filter path)": sample("entra-ki-replace-multiple-flag"),
    "Entra Add manager (bare id)": sample("entra-user-manager"),
    "RFC   add displayName": body({"op": "add", "path": "displayName", "value": "Babs"}),
}

_FIFTY = [{"value": f"user-{i:04d}"} for i in range(50)]
GROUP_CASES: dict[str, dict[str, Any]] = {
    "Entra Add members x50": body({"op": "Add", "path": "members", "value": _FIFTY}),
    "Entra Remove members x50 (value)": body({"op": "Remove", "path": "members", "value": _FIFTY}),
    "Okta  rename + remove filter + add": sample("okta-group-membership")
    | {
        "Operations": sample("okta-group-rename")["Operations"]
        + sample("okta-group-membership")["Operations"]
    },
}


def per_call_us(fn: Callable[[], object], seconds: float = 0.5) -> float:
    """Mean CPU µs per call over about ``seconds`` of CPU time (after a warm-up)."""
    for _ in range(50):
        fn()
    calls, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for _ in range(50):
            fn()
        calls += 50
    return (time.process_time() - start) / calls * 1e6


def main() -> None:
    doc = bjensen()
    print(f"{'request':40} {'normalize+apply':>16} {'model path only':>16}")
    for label, request in CASES.items():
        fast = per_call_us(lambda r=request: apply_user_patch(doc, normalize_patch(r)))
        model = per_call_us(lambda r=request: apply_user_patch(doc, normalize_patch(r), fast=False))
        print(f"{label:40} {fast:13.1f} µs {model:13.1f} µs")
    group = canonical_group(displayName="Eng", externalId="e-1")
    for label, request in GROUP_CASES.items():
        fast = per_call_us(lambda r=request: apply_group_patch(group, normalize_patch(r)))
        model = per_call_us(lambda r=request: apply_group_patch(group, normalize_patch(r), fast=False))
        print(f"{label:40} {fast:13.1f} µs {model:13.1f} µs")


if __name__ == "__main__":
    main()
