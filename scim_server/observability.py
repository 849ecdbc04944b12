"""Request ids, one JSON log line per request, and Prometheus metrics per route.

A pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request). Log lines
carry method, route template, status, duration and request id; never a header, a body, a
query string or a token.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.redaction import install_log_redaction

log = logging.getLogger("scim_bridge.access")
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            line["error"] = repr(record.exc_info[1])
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str) -> None:
    """JSON lines on stderr at ``level``; URL credentials redacted in the lines of the loggers that
    write URLs (httpx, httpcore, uvicorn, connectors) from the start, not only once a connector runs."""
    install_log_redaction()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "scim_bridge_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "scim_bridge_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.bulk_retries = Counter(
            "scim_bridge_bulk_retries",
            "Bulk operations run again in a new transaction after a deadlock or serialization failure",
            registry=self.registry,
        )

        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: str, elapsed: float) -> None:
        """Count a request and its latency. The labelled children are kept (``labels()``
        takes a lock and builds a key on every call); the label set is small and bounded:
        route templates, not paths."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, status), self.latency.labels(method, route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool) -> None:
        self.app, self.metrics, self.access_log = app, metrics, access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or _new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started, request_id)

    def _record(self, scope: Scope, status: int, elapsed: float, request_id: str) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None)
        template = scope.get("root_path", "") + path if path else "unmatched"
        method = scope["method"]
        self.metrics.observe(method, template, str(status), elapsed)
        if self.access_log:
            log.info("request", extra={"request_id": request_id, "method": method, "route": template,
                                       "status": status, "ms": round(elapsed * 1000, 2)})  # fmt: skip


def _new_request_id() -> str:
    """32 hex digits, as ``uuid4().hex``. Not a secret, so no ``os.urandom``: a syscall
    releases the GIL, and getting it back behind busy database threads can take a whole
    switch interval (5 ms)."""
    return f"{random.getrandbits(128):032x}"


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 100 and text.replace("-", "").isalnum():
                return text
    return None
