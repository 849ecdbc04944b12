"""The web admin console under ``/console``: server-rendered pages (Jinja2, autoescaped), htmx
(vendored at a pinned version, served from ``static/``) for progressive enhancement.

``console_mount()`` is what ``create_app`` mounts; ``GET /`` redirects here (``pages.root``).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from scim_server.console import actions, audit, connect, operations, pages, signin
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
        Route("/audit", audit.audit, methods=["GET"]),
        Route("/audit/chain", audit.chain_status, methods=["GET"]),
        Route("/audit/export", audit.export, methods=["GET"]),
        Route("/settings", pages.settings, methods=["GET"]),
        Route("/settings/tokens", actions.create_token, methods=["POST"]),
        Route("/settings/tokens/{token_id}/revoke", actions.revoke_token, methods=["POST"]),
        Route("/settings/notifications", actions.save_notifications, methods=["POST"]),
        Route("/connect/intro", actions.hide_connect_intro, methods=["POST"]),
        Route("/connect", connect.intro, methods=["GET"]),
        Route("/connect/select", connect.select, methods=["GET"]),
        Route("/connect/{kind}/grant", connect.grant, methods=["GET"]),
        Route("/connect/{kind}/callback", connect.callback, methods=["GET"]),
        Route("/connect/{kind}/details", connect.details, methods=["GET"]),
        Route("/connect/{kind}/account", connect.account, methods=["GET"]),
        Route("/connect/{kind}", connect.connect, methods=["POST"]),
        Route("/apps/{app_id}/check", operations.check, methods=["POST"]),
        Route("/apps/{app_id}/settings", operations.configure, methods=["POST"]),
        Route("/apps/{app_id}/remove", operations.remove_app_form, methods=["GET"]),
        Route("/apps/{app_id}/remove", operations.remove_app, methods=["POST"]),
        Route("/apps/{app_id}/members/bulk", operations.bulk, methods=["POST"]),
        Route("/apps/{app_id}/members/{member_id}/match", operations.match_form, methods=["GET"]),
        Route("/apps/{app_id}/members/{member_id}/match", operations.match, methods=["POST"]),
        Route("/apps/{app_id}/members/{member_id}/{action}", operations.member_form, methods=["GET"]),
        Route("/apps/{app_id}/members/{member_id}/{action}", operations.member_action, methods=["POST"]),
        Route("/automation/{job_id}/{action}", operations.job_action, methods=["POST"]),
        Route("/reports/{report_id}/apply", operations.apply_report, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static")),
    ]
    return Mount("/console", routes=routes, middleware=[Middleware(SecurityHeaders)])
