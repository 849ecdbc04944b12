#!/usr/bin/env python3
"""Pure reconciliation speed: 100,000 app members against 100,000 directory users (goal < 1 s).

    .venv/bin/python bench/reconcile.py [--users 100000] [--members 100000] [--repeat 5]

The data are built deterministically (seeded): most members match a user by email (in a different
letter case), some are unmatched outsiders, some belong to deactivated or deleted users, a few emails
are shared (disputed), and five assignment rules over six groups entitle most users (some with asset
grants, some members with drifted roles or assets, some entitled users with no member yet). Times
``match``, ``desired_state``, ``member_sets`` and ``plan`` separately and ``reconcile`` end to end,
and prints the best and median of ``--repeat`` runs. Building the inputs is not timed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapping import (
    Actual,
    AppMember,
    AppPolicy,
    AssignmentRule,
    AutomationIdentity,
    Directory,
    DirectoryUser,
    Exemption,
    Governance,
    ManualMatch,
    RoleVocabulary,
    desired_state,
    match,
    member_sets,
    plan,
    reconcile,
)

VOCAB = RoleVocabulary(
    kind="bench",
    roles=("admin", "manager", "member", "guest"),
    owner_roles=frozenset({"admin"}),
    permissions=("manage", "edit", "view"),
)
RULES = (
    AssignmentRule("r-eng", "g-eng", "collaborator", "member", (("repo-1", "edit"),)),
    AssignmentRule("r-ops", "g-ops", "collaborator", "manager", (("repo-2", "view"),)),
    AssignmentRule("r-sales", "g-sales", "collaborator", "member", ()),
    AssignmentRule("r-misc", "g-misc", "collaborator", None, ()),
    AssignmentRule("r-leads", "g-leads", "collaborator", "manager", (("repo-1", "manage"),)),
    AssignmentRule("r-admins", "g-admins", "owner", "admin", ()),
)
GROUPS = ("g-eng", "g-ops", "g-sales", "g-misc")


def _directory(n: int, rng: random.Random) -> Directory:
    users: list[DirectoryUser] = []
    groups: dict[str, frozenset[str]] = {}
    for i in range(n):
        roll = rng.random()
        emails: tuple[str, ...] = (
            (f"user{i}@example.com",) if roll > 0.1 else (f"user{i}@example.com", f"u{i}@alias.example")
        )
        if rng.random() < 0.001:  # a shared mailbox: members holding it are disputed
            emails += ("shared@example.com",)
        users.append(DirectoryUser(f"u{i}", f"user{i}", emails, active=roll > 0.02, deleted=roll < 0.005))
        mine = {GROUPS[i % len(GROUPS)]}
        if i % 10 == 0:
            mine.add("g-leads")
        if i % 200 == 0:
            mine.add("g-admins")
        groups[f"u{i}"] = frozenset(mine)
    return Directory(tuple(users), groups)


def _wanted(i: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The role and grants the rules give user ``i`` (so most members start in the desired state)."""
    group = GROUPS[i % len(GROUPS)]
    if i % 200 == 0:
        return "admin", (("repo-1", "manage"),) if i % 10 == 0 else ()
    if i % 10 == 0:
        return "manager", (("repo-1", "manage"),) + ((("repo-2", "view"),) if group == "g-ops" else ())
    return {
        "g-eng": ("member", (("repo-1", "edit"),)),
        "g-ops": ("manager", (("repo-2", "view"),)),
        "g-sales": ("member", ()),
        "g-misc": ("guest", ()),
    }[group]


def _member(i: int, rng: random.Random) -> AppMember:
    if i % 50 == 7:  # outsiders (2 %): unmatched; user i has no member yet and gets invited
        return AppMember(f"m{i}", f"r{i}", f"contractor{i}@vendor.test", None, None, "member")
    if i % 1000 == 11:
        return AppMember(f"m{i}", f"r{i}", "SHARED@example.com", None, None, "member")
    role, assets = _wanted(i)
    roll = rng.random()
    if roll < 0.01:  # drift: role changed by hand
        role = "admin"
    elif roll < 0.02:  # drift: an asset granted by hand
        assets = tuple(sorted(dict(assets + (("repo-2", "manage"),)).items()))
    return AppMember(
        f"m{i}", f"r{i}", f"User{i}@EXAMPLE.com", f"user{i}", f"User {i}", role, "active", assets
    )


def build(users: int, members: int, seed: int = 5) -> tuple[Directory, Governance, AppPolicy, Actual]:
    rng = random.Random(seed)
    directory = _directory(users, rng)
    app = tuple(_member(i, rng) for i in range(members))
    governance = Governance(
        rules=RULES,
        manual_matches=tuple(ManualMatch(f"m{i}", f"u{i}", "owner") for i in range(0, members, 997)),
        exemptions=tuple(Exemption(f"m{i}", "break-glass") for i in range(3, members, 1009)),
    )
    policy = AppPolicy(VOCAB, "report", automation=AutomationIdentity(email="user1@example.com"))
    managed = {f"m{i}": f"u{i}" for i in range(members) if i % 100 != 1}  # 1 % not yet adopted
    return directory, governance, policy, Actual(app, {}, managed)


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    runs: list[float] = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    directory, governance, policy, actual = build(args.users, args.members)
    n = len(actual.members)
    print(f"directory users: {len(directory.users):,}   app members: {n:,}   rules: {len(RULES)}")

    matches = match(directory.users, actual.members, governance.manual_matches, policy.automation)
    desired = desired_state(directory, governance, VOCAB)
    phases: dict[str, Callable[[], object]] = {
        "match": lambda: match(directory.users, actual.members, governance.manual_matches, policy.automation),
        "desired_state": lambda: desired_state(directory, governance, VOCAB),
        "member_sets": lambda: member_sets(actual.members, matches, desired),
        "plan": lambda: plan(desired, actual, matches, policy),
        "reconcile (all)": lambda: reconcile(directory, governance, policy, actual),
    }
    for name, fn in phases.items():
        best, median, _ = _time(fn, args.repeat)
        print(f"{name:>16}: best {best:.3f} s   median {median:.3f} s   {n / best:,.0f} members/s")

    best, _, result = _time(lambda: reconcile(directory, governance, policy, actual), 1)
    rec = result
    assert hasattr(rec, "sets") and hasattr(rec, "plan")
    sets, planned = rec.sets, rec.plan
    kinds: dict[str, int] = {}
    for action in planned.actions:
        kinds[type(action).__name__] = kinds.get(type(action).__name__, 0) + 1
    print(
        f"sets: matched {len(sets.matched):,}  unmatched {len(sets.unmatched):,}  "
        f"disputed {len(sets.disputed):,}  exempted {len(sets.exempted):,}"
    )
    print(f"plan: {kinds}  held {len(planned.held):,}  conflicts {len(planned.conflicts):,}")
    verdict = "OK" if best < 1.0 else "OVER GOAL"
    print(
        f"reconcile of {n:,} members against {len(directory.users):,} users: {best:.3f} s (goal < 1 s): {verdict}"
    )


if __name__ == "__main__":
    main()
