"""Schemathesis with every check against openapi/openapi.yaml and the live server (real HTTP).

Every operation of the document (admin API and SCIM) gets generated requests, valid and
invalid, sent with a valid token of the scope the route needs (``admin`` for /api/v1, ``scim``
for /scim/v2), and every answer is judged by **all** of schemathesis' checks (``ALL_CHECKS``:
its whole registry, so an upgrade that adds a check adds it here): no 5xx; status, media type,
headers and body as documented; valid requests accepted and invalid ones refused; 405 with an
``Allow`` header for methods the path does not serve; required headers and authentication
enforced; the resource-lifecycle checks.

Runs on SQLite and PostgreSQL (the ``server`` fixture is parametrised). Bounded and
reproducible: the examples, coverage and fuzzing phases (stateful is left out: links are not
described), ``MAX_EXAMPLES`` fuzzed cases per operation and at most ``COVERAGE_PER_SCENARIO``
coverage cases per operation and scenario (boundary values, wrong types, missing fields, other
methods...), no deadline (latency is not under test), derandomized, no shrinking (a failing
case is reported as generated).

To reach past the 404 of an unknown id, each run seeds one connected GitHub app on the sandbox
(checked, so it has members, assets and jobs), and generated ids (path parameters, ``user_id``
and ``group_id`` in admin bodies) are swapped for seeded ones on half of the cases (chosen by
the generated value itself, so it is reproducible).

Nothing is excluded. Generated values rewritten, with the reason:

* ``api_base_url`` in ``POST /api/v1/apps`` and ``PATCH /api/v1/apps/{app_id}`` is always set to
  the sandbox (loopback): connecting checks the credentials against the app, and the suite
  may only talk to 127.0.0.1 (a generated or null URL would reach the vendor's real host).
* ``DELETE /api/v1/apps/{app_id}`` never gets the seeded app's id, so later cases keep an app to
  act on (deletion itself is covered in test_conformance.py).

Where a check cannot judge a case, it is skipped for that case only, with the reason in code:
``positive_data_acceptance`` for values whose valid set the document can name but not
enumerate (``_unprovable``: server-issued cursors, the SCIM filter and attribute-path
grammars, references to directory objects, credentials the app must accept...), and
``negative_data_rejection`` for cases that send undeclared query parameters or headers (which
the server ignores, as the document says).

``ST_TALLY=/some/prefix pytest tests/openapi/test_schemathesis.py`` runs every case without
failing and writes, per worker, the failures per (database, check, operation, status) to
``/some/prefix.<pid>`` and a few samples to ``/some/prefix.<pid>.samples``: the figures quoted
for issue 9 item 10 come from it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.schemas import OpenApiSchema

from connectors.sandbox import SandboxClient
from tests.openapi.conftest import seed_github
from tests.openapi.spec import load_schema
from tests.servers import RunningServer

MAX_EXAMPLES = 10
COVERAGE_PER_SCENARIO = 4
load_all_checks()
ALL_CHECKS = CHECKS.get_all()
POSITIVE, NEGATIVE = "positive_data_acceptance", "negative_data_rejection"
COUNT_ONLY = bool(os.environ.get("ST_TALLY"))
TALLY: dict[str, int] = {}  # filled only with ST_TALLY
SAMPLES: list[dict[str, Any]] = []
_COVERAGE_SEEN: dict[tuple[str, str, str], int] = {}


@dataclass(frozen=True)
class Seeded:
    """The live server, its tokens, and ids worth aiming generated requests at."""

    sandbox_url: str
    admin_token: str
    scim_token: str
    ids: dict[str, list[str]]


def _seed(server: RunningServer, sandbox_url: str) -> Seeded:
    workspace = f"st-{uuid.uuid4().hex[:8]}"
    admin_token, scim_token = server.token(workspace, "admin"), server.token(workspace, "scim")
    sandbox = SandboxClient(sandbox_url)
    org, vendor_token = f"org-{workspace}", f"ghp-{workspace}"
    seed_github(sandbox, org, vendor_token)
    sandbox.close()
    with httpx.Client(
        base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {admin_token}"}
    ) as admin:
        scim = {"Authorization": f"Bearer {scim_token}"}
        user = admin.post("/scim/v2/Users", headers=scim, json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com",
            "emails": [{"value": "ada@example.com"}]}).json()["id"]  # fmt: skip
        group = admin.post("/scim/v2/Groups", headers=scim, json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "eng"}).json()["id"]  # fmt: skip
        app = admin.post("/api/v1/apps", json={
            "kind": "github", "label": "Eng", "business_id": org, "automation_account": {"api_token": vendor_token},
            "api_base_url": f"{sandbox_url}/github"})  # fmt: skip
        assert app.status_code == 201, app.text
        app_id = app.json()["id"]
        job_id = admin.post(f"/api/v1/apps/{app_id}/check").json()["job_id"]
        deadline = time.monotonic() + 60
        while admin.get(f"/api/v1/jobs/{job_id}", params={"wait": 30}).json()["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline
        members = [m["id"] for m in admin.get(f"/api/v1/apps/{app_id}/members").json()["items"]]
    ids = {"app_id": [app_id], "member_id": members, "job_id": [job_id], "id": [user, group],
           "rule_id": [], "report_id": [], "user_id": [user], "group_id": [group]}  # fmt: skip
    return Seeded(sandbox_url, admin_token, scim_token, ids)


@pytest.fixture(scope="session")
def seeded(server: RunningServer, vendor_sandbox: str) -> Seeded:
    return _seed(server, vendor_sandbox)


def _schema() -> OpenApiSchema:
    loaded = load_schema()
    loaded.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    return loaded


# Loaded eagerly: schemathesis.pytest.from_fixture (lazy) breaks on pytest 9 (it writes
# ``request.node._nodeid``, gone in pytest 9), so the base URL is given per call instead.
schema = _schema()


def _aim(case: Any, seeded: Seeded) -> None:
    """Swap generated path ids for seeded ones on half of the cases (by the generated value)."""
    params = case.path_parameters or {}
    for name, value in params.items():
        choices = seeded.ids.get(name) or []
        if name == "app_id" and case.method == "DELETE" and case.path == "/api/v1/apps/{app_id}":
            continue  # keep the seeded app for the other cases
        if choices and len(str(value)) % 2 == 0:
            params[name] = choices[len(str(value)) % len(choices)]


def _aim_body(case: Any, seeded: Seeded) -> None:
    """Swap generated directory ids in admin bodies (``user_id``, ``group_id``) for seeded ones
    on half of the cases, as ``_aim`` does for path ids."""
    if isinstance(case.body, dict):
        for name in ("user_id", "group_id"):
            value = case.body.get(name)
            if isinstance(value, str) and len(value) % 2 == 0:
                case.body[name] = seeded.ids[name][0]


# Values whose valid set the document can only name, not enumerate: a generated one is a
# well-formed request the server must refuse with a 400, so ``positive_data_acceptance`` says
# nothing about it (every other check still judges the answer). Each with its reason.
def _unprovable(case: Any, seeded: Seeded) -> str | None:
    """Why a positive case's 400 would be right, or None when the server must accept it."""
    query = case.query or {}
    body = case.body if isinstance(case.body, dict) else {}
    if "\\u0000" in json.dumps([case.body if isinstance(case.body, (dict, list, str)) else None, query], default=str):
        return "no text anywhere may hold a NUL (nul_guard.py), a rule the document states once"
    if (case.headers or {}).get("If-Match") not in (None, "*"):
        return "If-Match names the resource's current version; any other is a 412 (RFC 7644 §3.14)"
    if body.get("app_role") and case.path.endswith(("/{member_id}", "/invitations", "/rules")):
        return "app_role must be one of the app kind's roles (GET /api/v1/catalog)"
    if query.get("cursor") or body.get("cursor"):
        return "a cursor is valid only if this server issued it for this list (400 invalid_cursor)"
    if query.get("sortBy") or body.get("sortBy"):
        return "sortBy must be an attribute path of the resource's schema (400 invalidValue)"
    if query.get("filter") or body.get("filter"):
        return "a SCIM filter has a grammar (RFC 7644 §3.4.2.2) no JSON schema states (400 invalidFilter)"
    for name in ("user_id", "group_id"):
        if name in body and body[name] not in seeded.ids[name]:
            return f"{name} must name a directory object of the workspace (400 unknown_...)"
    if body.get("automation_account") and case.method in ("POST", "PATCH"):
        return "the app itself must accept the automation account (422 invalid_credentials)"
    if case.path.startswith("/scim/v2/") and case.method == "PATCH":
        return "a PATCH path is an attribute path the resource's schema must have (RFC 7644 §3.10)"
    if case.path == "/scim/v2/Bulk":
        return "each Bulk operation's path and data are SCIM requests of their own"
    return None


def _undeclared_names(case: Any) -> bool:
    """A negative case that sends query parameters or headers the operation does not declare.

    The server ignores those, as the document's description says (a client may send what it
    likes beside the declared parameters); schemathesis counts them as negation whenever the
    wire form of a mutated value hides which part was negated, so ``negative_data_rejection``
    has nothing to say about such a case (every other check still judges it)."""
    declared = {p.name.lower() for p in case.operation.iter_parameters()} | {"authorization", "content-type"}
    sent = {str(name).lower() for name in [*(case.query or {}), *(case.headers or {})]}
    return bool(sent - declared)


def _loopback_only(case: Any, seeded: Seeded) -> None:
    """Connecting an app calls it: keep every such call on the loopback sandbox."""
    writes_app = case.path in ("/api/v1/apps", "/api/v1/apps/{app_id}") and case.method in ("POST", "PATCH")
    if writes_app and isinstance(case.body, dict):
        kind = case.body.get("kind")
        kind = kind if isinstance(kind, str) and kind.isidentifier() else "github"
        case.body["api_base_url"] = f"{seeded.sandbox_url}/{kind}"


def _beyond_bound(case: Any, server: RunningServer) -> bool:
    """True for a coverage case past ``COVERAGE_PER_SCENARIO`` of its operation and scenario."""
    data = case.meta.phase.data if case.meta is not None else None
    scenario = getattr(data, "scenario", None)
    if scenario is None:
        return False
    key = (server.url, case.operation.label, str(scenario))
    _COVERAGE_SEEN[key] = _COVERAGE_SEEN.get(key, 0) + 1
    return _COVERAGE_SEEN[key] > COVERAGE_PER_SCENARIO


def _tally(failed: str, case: Any, server: RunningServer, response: Any) -> None:
    kind = server.settings.database_url.split(":")[0].split("+")[0]
    key = f"{kind} {failed} {case.method} {case.path} {response.status_code}"
    TALLY[key] = TALLY.get(key, 0) + 1
    if TALLY[key] <= 3:
        body = case.body if isinstance(case.body, (dict, list, str)) else None
        SAMPLES.append({"key": key, "query": case.query, "headers": case.headers, "body": body,
                        "answer": response.text[:400]})  # fmt: skip


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_every_check_holds(case: Any, server: RunningServer, seeded: Seeded) -> None:
    if _beyond_bound(case, server):
        return
    _aim(case, seeded)
    _aim_body(case, seeded)
    _loopback_only(case, seeded)
    skipped = {POSITIVE} if _unprovable(case, seeded) else set()
    if _undeclared_names(case):
        skipped.add(NEGATIVE)
    checks = [check for check in ALL_CHECKS if check.__name__ not in skipped]
    token = seeded.scim_token if case.path.startswith("/scim/") else seeded.admin_token
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(base_url=server.url, headers=headers, timeout=60)
    transport = {"base_url": server.url, "headers": headers, "timeout": 60}
    if not COUNT_ONLY:
        case.validate_response(response, checks=checks, headers=headers, transport_kwargs=transport)
        return
    for check in checks:  # one at a time, to count failures per check
        try:
            case.validate_response(response, checks=[check], headers=headers, transport_kwargs=transport)
        except FailureGroup:
            _tally(check.__name__, case, server, response)
