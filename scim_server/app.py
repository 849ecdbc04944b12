"""The composition root: ``create_app(settings)`` builds everything; nothing at import time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from scim_server.admin.routes import ROUTES as ADMIN_ROUTES
from scim_server.audit import retention as audit_retention
from scim_server.audit.routes import ROUTES as AUDIT_ROUTES
from scim_server.audit.service import background as audit_background
from scim_server.audit.service import signer_for as audit_signer
from scim_server.auth import Authenticator
from scim_server.console import console_mount
from scim_server.console import root as console_root
from scim_server.errors import ERROR_HANDLERS
from scim_server.lifecycle import Readiness, readyz
from scim_server.notify.loop import background as notify_background
from scim_server.notify.routes import ROUTES as NOTIFY_ROUTES
from scim_server.nul_guard import NulGuard
from scim_server.observability import ObservabilityMiddleware
from scim_server.scim.discovery import build_discovery
from scim_server.scim.routes import ROUTES as SCIM_ROUTES
from scim_server.services import Services
from scim_server.settings import Settings
from scim_server.store.db import Database
from scim_server.vault import Vault


async def healthz(request: Request) -> Response:
    """Alive (a liveness probe); whether to send it traffic is ``/readyz`` (``lifecycle.py``)."""
    return JSONResponse({"status": "ok"})


def start_background(services: Services, stop: asyncio.Event, *, scheduler: bool = True) -> list[asyncio.Task[None]]:
    """The embedded default: a job worker and the scheduler in the serving process."""
    from scim_server.jobs.handlers import HANDLERS
    from scim_server.jobs.scheduler import Scheduler
    from scim_server.jobs.worker import Worker

    settings = services.settings
    worker = Worker(services.db, HANDLERS, lease_seconds=settings.worker_lease_seconds,
                    poll_seconds=settings.worker_poll_seconds, retry_base=settings.retry_base_seconds,
                    services=services, concurrency=settings.worker_concurrency,
                    per_app=settings.worker_per_app)  # fmt: skip
    services.worker = worker
    tasks = [asyncio.create_task(worker.run(stop))]
    tasks.append(asyncio.create_task(audit_background(services.db, settings, stop)))  # seals and checkpoints
    tasks.append(asyncio.create_task(audit_retention.loop(services.db, audit_signer(settings), stop)))  # expiry
    tasks.append(asyncio.create_task(notify_background(services, stop)))  # notifications, SIEM streaming
    if scheduler:
        leader = Scheduler(services.db, tick_seconds=settings.scheduler_tick_seconds,
                           retention_seconds=settings.job_retention_seconds)
        tasks.append(asyncio.create_task(leader.run(stop, worker.wake)))
    return tasks


def build_services(settings: Settings, database: Database | None = None) -> Services:
    db = database or Database(settings)
    return Services(settings=settings, db=db, auth=Authenticator(settings, db), vault=Vault(settings))


def create_app(settings: Settings | None = None, *, database: Database | None = None,
               extra_routes: Sequence[BaseRoute] | None = None) -> Starlette:  # fmt: skip
    """Build the ASGI app. The schema must already be migrated (``scim-bridge migrate``)."""
    settings = settings or Settings()
    services = build_services(settings, database)
    db = services.db
    metrics = services.metrics

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db.start()
        stop = asyncio.Event()
        tasks = start_background(services, stop) if settings.run_worker else []
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            db.close()

    app = Starlette(
        routes=[
            Route("/", console_root, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            Mount("/scim/v2", routes=SCIM_ROUTES),
            *AUDIT_ROUTES,  # before /api/v1's mount, which would take /api/v1/audit
            Mount("/api/v1", routes=[*ADMIN_ROUTES, *NOTIFY_ROUTES]),
            console_mount(),
            *(extra_routes or []),
        ],
        middleware=[
            Middleware(ObservabilityMiddleware, metrics=metrics, access_log=settings.access_log),
            Middleware(NulGuard),
        ],
        exception_handlers=ERROR_HANDLERS,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.readiness = Readiness()
    app.state.discovery = build_discovery(settings)
    return app
