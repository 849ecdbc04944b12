"""The /api/v1 route table (the admin API; see openapi/openapi.yaml)."""

from __future__ import annotations

from starlette.routing import Route

from scim_server.admin import apps, jobs

ROUTES = [
    Route("/catalog", apps.catalog, methods=["GET"]),
    Route("/apps", apps.list_apps, methods=["GET"]),
    Route("/apps", apps.connect, methods=["POST"]),
    Route("/apps/{app_id}", apps.get_app, methods=["GET"]),
    Route("/apps/{app_id}", apps.configure, methods=["PATCH"]),
    Route("/apps/{app_id}", apps.remove, methods=["DELETE"]),
    Route("/jobs", jobs.list_jobs, methods=["GET"]),
    Route("/jobs/{job_id}", jobs.get_job, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", jobs.cancel_job, methods=["POST"]),
]
