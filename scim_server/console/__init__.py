"""The web admin console under ``/console``: server-rendered pages (Jinja2, autoescaped), htmx
(vendored at a pinned version, served from ``static/``) for progressive enhancement.

``console_mount()`` is what ``create_app`` mounts; ``GET /`` redirects here (``pages.root``).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from scim_server.console import actions, pages, signin
from scim_server.console.security import SecurityHeaders
from scim_server.console.web import HERE

__all__ = ["console_mount", "root"]

root = pages.root


def console_mount() -> Mount:
    routes = [
        Route("/", pages.root, methods=["GET"]),
        Route("/sign-in", signin.sign_in_form, methods=["GET"]),
        Route("/sign-in", signin.sign_in, methods=["POST"]),
        Route("/sign-out", signin.sign_out, methods=["POST"]),
        Route("/oidc/start", signin.oidc_start, methods=["GET"]),
        Route("/oidc/callback", signin.oidc_callback, methods=["GET"]),
        Route("/apps", pages.apps, methods=["GET"]),
        Route("/apps/{app_id}/settings", pages.app_settings, methods=["GET"]),
        Route("/apps/{app_id}/members", pages.app_members, methods=["GET"]),
        Route("/apps/{app_id}/members.csv", pages.members_csv, methods=["GET"]),
        Route("/automation", pages.automation, methods=["GET"]),
        Route("/automation/{job_id}", pages.job_detail, methods=["GET"]),
        Route("/reports", pages.reports, methods=["GET"]),
        Route("/directory", pages.directory, methods=["GET"]),
        Route("/directory/users/{user_id}", pages.directory_user, methods=["GET"]),
        Route("/audit", pages.audit, methods=["GET"]),
        Route("/settings", pages.settings, methods=["GET"]),
        Route("/settings/tokens", actions.create_token, methods=["POST"]),
        Route("/settings/tokens/{token_id}/revoke", actions.revoke_token, methods=["POST"]),
        Route("/connect/intro", actions.hide_connect_intro, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static")),
    ]
    return Mount("/console", routes=routes, middleware=[Middleware(SecurityHeaders)])
