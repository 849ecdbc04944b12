"""``/_sandbox`` control endpoints, and ``SandboxClient`` to drive them over HTTP.

Exact shapes (other components rely on them):

- ``POST /_sandbox/reset`` ``{"scenario": "empty" | "demo"}`` (default ``empty``) -> ``{"kinds": [...]}``
- ``POST /_sandbox/<kind>/seed`` ``{"org", "token", "members": [{"email", "name", "role", "status"}],
  "assets": [{"id", "name", "type", "grants": [{"email", "permission"}]}]}`` -> 200
  ``{"org", "remote_ids": [...], "members": [{"email", "remote_id"}]}``
- ``GET /_sandbox/<kind>/state?org=`` -> ``{"members": [{"remote_id", "email", "name", "role",
  "status"}], "assets": [{"id", "name", "type", "grants": [{"remote_id", "permission"}]}]}``
- ``POST /_sandbox/<kind>/accept`` ``{"org", "email"}`` -> ``{"remote_id"}`` (404 if not invited)
- ``POST /_sandbox/faults`` ``{"kind", "rate_limit_every", "error_rate", "latency_ms",
  "expire_tokens"}`` (+ optional ``retry_after``, ``timeout_ms``, ``errors``, ``seed``; ``kind`` ``"*"``
  = all kinds); ``DELETE /_sandbox/faults`` clears; ``GET /_sandbox/faults`` shows plans and request
  counts.

Errors are ``{"error": "..."}`` with 400 (bad body) or 404 (unknown kind / member).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.sandbox.app import Sandbox, UnknownFake
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.scenarios import UnknownScenario
from connectors.sandbox.store import SeedAsset, SeedMember, SeedSpec

__all__ = ["SandboxClient", "control_routes", "parse_seed"]


def parse_seed(body: Mapping[str, Any]) -> SeedSpec:
    """The seed body as a ``SeedSpec``; ``ValueError``/``KeyError``/``TypeError`` if malformed."""
    members = tuple(
        SeedMember(str(m["email"]), str(m.get("name") or ""), str(m.get("role") or ""),
                   _status(m.get("status", "active")))
        for m in body.get("members") or ()
    )
    assets = tuple(
        SeedAsset(str(a["id"]), str(a.get("name") or a["id"]), str(a.get("type") or "asset"),
                  tuple((str(g["email"]), str(g["permission"])) for g in a.get("grants") or ()))
        for a in body.get("assets") or ()
    )
    return SeedSpec(str(body["org"]), body.get("token"), members, assets)


def _status(value: Any) -> Any:
    if value not in ("active", "pending"):
        raise ValueError(f"status must be 'active' or 'pending', not {value!r}")
    return value


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")  # noqa: TRY004 (ValueError is what the routes answer with 400)
    return data


async def reset(request: Request) -> JSONResponse:
    try:
        body = await _json(request)
        _sandbox(request).reset(str(body.get("scenario") or "empty"))
    except (ValueError, UnknownScenario) as exc:
        return _error(400, str(exc))
    return JSONResponse({"kinds": _sandbox(request).kinds})


async def seed(request: Request) -> JSONResponse:
    kind = request.path_params["kind"]
    try:
        spec = parse_seed(await _json(request))
        remote_ids = _sandbox(request).seed(kind, spec)
    except UnknownFake:
        return _error(404, f"no fake for kind {kind!r}")
    except (ValueError, KeyError, TypeError) as exc:
        return _error(400, f"bad seed: {exc}")
    members = [{"email": m.email, "remote_id": rid} for m, rid in zip(spec.members, remote_ids)]
    return JSONResponse({"org": spec.org, "remote_ids": remote_ids, "members": members})


async def state(request: Request) -> JSONResponse:
    kind, org = request.path_params["kind"], request.query_params.get("org")
    if not org:
        return _error(400, "query parameter 'org' is required")
    try:
        return JSONResponse(_sandbox(request).state(kind, org))
    except UnknownFake:
        return _error(404, f"no fake for kind {kind!r}")


async def accept(request: Request) -> JSONResponse:
    kind = request.path_params["kind"]
    try:
        body = await _json(request)
        remote_id = _sandbox(request).accept(kind, str(body["org"]), str(body["email"]))
    except UnknownFake:
        return _error(404, f"no fake for kind {kind!r}")
    except (ValueError, KeyError) as exc:
        return _error(400, f"bad accept: {exc}")
    if remote_id is None:
        return _error(404, "no such invitation")
    return JSONResponse({"remote_id": remote_id})


async def faults(request: Request) -> JSONResponse:
    sandbox = _sandbox(request)
    if request.method == "GET":
        return JSONResponse(sandbox.faults.stats())
    if request.method == "DELETE":
        sandbox.faults.clear()
        return JSONResponse({"cleared": True})
    try:
        body = await _json(request)
        kind = str(body.get("kind") or "*")
        plan = FaultPlan.from_json(body)
        sandbox.set_faults(kind, plan)
    except UnknownFake:
        return _error(404, "no fake for that kind")
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    return JSONResponse({"kind": kind, **plan.to_json()})


def control_routes() -> list[Route]:
    return [
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/{kind}/seed", seed, methods=["POST"]),
        Route("/_sandbox/{kind}/state", state, methods=["GET"]),
        Route("/_sandbox/{kind}/accept", accept, methods=["POST"]),
    ]


class SandboxClient:
    """A small synchronous client of the control endpoints (tests, demo scripts).

    :param base_url: the sandbox root, e.g. ``http://127.0.0.1:8081``.
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def kind_url(self, kind: str) -> str:
        """The base URL a connector of ``kind`` uses against this sandbox."""
        return f"{self.base_url}/{kind}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self, scenario: str = "empty") -> None:
        self._call("POST", "/_sandbox/reset", json={"scenario": scenario})

    def seed(self, kind: str, body: Mapping[str, Any]) -> list[str]:
        """Seed ``kind``; returns the created members' remote ids, in order."""
        return list(self._call("POST", f"/_sandbox/{kind}/seed", json=dict(body))["remote_ids"])

    def state(self, kind: str, org: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/_sandbox/{kind}/state", params={"org": org}))

    def accept(self, kind: str, org: str, email: str) -> str:
        return str(self._call("POST", f"/_sandbox/{kind}/accept", json={"org": org, "email": email})["remote_id"])

    def faults(self, kind: str = "*", **plan: Any) -> dict[str, Any]:
        """Set a fault plan (``FaultPlan`` fields as keywords)."""
        return dict(self._call("POST", "/_sandbox/faults", json={"kind": kind, **plan}))

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sandbox/faults")

    def fault_stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_sandbox/faults"))
