"""The composition root: ``create_app(settings)`` builds everything; nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from scim_server.admin.routes import ROUTES as ADMIN_ROUTES
from scim_server.auth import Authenticator
from scim_server.errors import ERROR_HANDLERS
from scim_server.observability import Metrics, ObservabilityMiddleware
from scim_server.scim.discovery import build_discovery
from scim_server.scim.routes import ROUTES as SCIM_ROUTES
from scim_server.services import Services
from scim_server.settings import Settings
from scim_server.store.db import Database
from scim_server.vault import Vault


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Starlette:
    """Build the ASGI app. The schema must already be migrated (``scim-bridge migrate``)."""
    settings = settings or Settings()
    db = database or Database(settings)
    services = Services(settings=settings, db=db, auth=Authenticator(settings, db), vault=Vault(settings))
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db.start()
        try:
            yield
        finally:
            db.close()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            Mount("/scim/v2", routes=SCIM_ROUTES),
            Mount("/api/v1", routes=ADMIN_ROUTES),
        ],
        middleware=[Middleware(ObservabilityMiddleware, metrics=metrics, access_log=settings.access_log)],
        exception_handlers=ERROR_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.discovery = build_discovery(settings)
    return app
