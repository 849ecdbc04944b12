"""The console's read pages: Apps, App details (Settings and Members), Automation, Reports,
Directory, Audit, Settings. Each parses the query, reads in one snapshot and renders."""

from __future__ import annotations

import csv
import io
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scim_server.console import oidc, reads
from scim_server.console.web import Admin, admin_page, render, take_flash
from scim_server.store import console as session_store
from scim_server.store import tenancy

PAGE_SIZE = 50


def _int(value: str | None, default: int = 0, maximum: int = 10_000_000) -> int:
    try:
        return max(0, min(int(value or default), maximum))
    except ValueError:
        return default


async def root(request: Request) -> Response:
    return RedirectResponse("/console/apps" if request.url.path.startswith("/console") else "/console", 307)


@admin_page
async def apps(request: Request, admin: Admin) -> Response:
    cards = await admin.services.db.read(lambda conn: reads.app_cards(conn, admin.ws))
    hide_intro = await admin.services.db.read(
        lambda conn: session_store.get_preference(conn, admin.ws, admin.actor, "hide_connect_intro"))
    return render(request, "apps.html", {"cards": cards, "hide_intro": hide_intro == "1"}, admin=admin,
                  flash=await take_flash(admin))  # fmt: skip


@admin_page
async def app_settings(request: Request, admin: Admin) -> Response:
    app_id = request.path_params["app_id"]
    card = await admin.services.db.read(lambda conn: reads.app_detail(conn, admin.ws, app_id))
    return render(request, "app_settings.html", {"card": card, "tab": "settings"}, admin=admin,
                  flash=await take_flash(admin))  # fmt: skip


def _members_query(request: Request) -> tuple[str, str, str, int]:
    state = request.query_params.get("state", "matched")
    if state not in reads.STATES:
        state = "matched"
    return state, request.query_params.get("q", "").strip()[:200], request.query_params.get("sort", "email"), \
        _int(request.query_params.get("offset"))


@admin_page
async def app_members(request: Request, admin: Admin) -> Response:
    app_id = request.path_params["app_id"]
    state, query, sort, offset = _members_query(request)

    def unit(conn: Any) -> tuple[reads.AppCard, dict[str, Any]]:
        card = reads.app_detail(conn, admin.ws, app_id)
        return card, reads.members_page(conn, admin.ws, app_id, state, query, sort, offset, PAGE_SIZE)

    card, found = await admin.services.db.read(unit)
    context = {"card": card, "tab": "members", "state": state, "q": query, "sort": sort, "offset": offset,
               "page": found, "page_size": PAGE_SIZE, "tabs": reads.TAB_NAMES}  # fmt: skip
    return render(request, "app_members.html", context, admin=admin, flash=await take_flash(admin))


@admin_page
async def members_csv(request: Request, admin: Admin) -> Response:
    """Download CSV: the whole tab (searched as shown), streamed in pages of the same query."""
    app_id = request.path_params["app_id"]
    state, query, sort, _ = _members_query(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "username", "app_role", "assets", "directory_user", "bridge_role",
                     "matched_by", "state"])  # fmt: skip
    offset = 0
    while True:
        found = await admin.services.db.read(partial(reads.members_page, ws=admin.ws, app_id=app_id, state=state,
                                                     query=query, sort=sort, offset=offset, limit=1000))
        for item in found["items"]:
            row = item["row"]
            writer.writerow([_cell(row.display_name), _cell(row.email), _cell(row.username), _cell(row.app_role),
                             len(item["assets"]), _cell(item["user_name"]), _cell(row.bridge_role),
                             _cell(row.match_source), row.state])  # fmt: skip
        if not found["more"]:
            break
        offset += 1000
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="members-{state}.csv"'})


def _cell(value: str | None) -> str:
    """No spreadsheet formula injection: a cell starting with = + - @ is quoted with '."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@admin_page
async def automation(request: Request, admin: Admin) -> Response:
    def unit(conn: Any) -> tuple[list[Any], dict[str, str]]:
        return reads.jobs(conn, admin.ws), reads.app_labels(conn, admin.ws)

    jobs, labels = await admin.services.db.read(unit)
    live = any(j.status in ("queued", "running") for j in jobs)
    context = {"jobs": jobs, "labels": labels, "statuses": reads.JOB_STATUS, "live": live}
    name = "_jobs.html" if request.query_params.get("fragment") == "jobs" else "automation.html"
    return render(request, name, context, admin=admin, flash=await take_flash(admin) if name != "_jobs.html" else None)


@admin_page
async def job_detail(request: Request, admin: Admin) -> Response:
    job_id = request.path_params["job_id"]
    from scim_server.jobs import queue

    def unit(conn: Any) -> tuple[Any, dict[str, str]]:
        return queue.get(conn, admin.ws, job_id), reads.app_labels(conn, admin.ws)

    job, labels = await admin.services.db.read(unit)
    return render(request, "job.html", {"job": job, "labels": labels, "statuses": reads.JOB_STATUS}, admin=admin,
                  flash=await take_flash(admin))  # fmt: skip


@admin_page
async def reports(request: Request, admin: Admin) -> Response:
    found = await admin.services.db.read(lambda conn: reads.reports(conn, admin.ws))
    return render(request, "reports.html", {"reports": found}, admin=admin, flash=await take_flash(admin))


@admin_page
async def directory(request: Request, admin: Admin) -> Response:
    query, offset = request.query_params.get("q", "").strip()[:200], _int(request.query_params.get("offset"))

    def unit(conn: Any) -> tuple[dict[str, Any], list[Any]]:
        return reads.directory_users(conn, admin.ws, query, offset, PAGE_SIZE), reads.directory_groups(conn, admin.ws)

    users, groups = await admin.services.db.read(unit)
    return render(request, "directory.html", {"users": users, "groups": groups, "q": query, "offset": offset,
                                              "page_size": PAGE_SIZE}, admin=admin)  # fmt: skip


@admin_page
async def directory_user(request: Request, admin: Admin) -> Response:
    user_id = request.path_params["user_id"]
    found = await admin.services.db.read(lambda conn: reads.directory_user(conn, admin.ws, user_id))
    return render(request, "directory_user.html", found, admin=admin)


@admin_page
async def audit(request: Request, admin: Admin) -> Response:
    events = await admin.services.db.read(lambda conn: reads.audit_events(conn, admin.ws))
    return render(request, "audit.html", {"events": events}, admin=admin)


def settings_context(request: Request, admin: Admin, tokens: list[tenancy.TokenRecord]) -> dict[str, Any]:
    config = admin.services.settings
    base = (config.public_base_url or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")
    return {"tokens": tokens, "scim_url": f"{base}/scim/v2", "oidc": oidc.configured(config),
            "oidc_issuer": config.console_oidc_issuer, "created": None}  # fmt: skip


@admin_page
async def settings(request: Request, admin: Admin) -> Response:
    tokens = await admin.services.db.read(lambda conn: tenancy.list_tokens(conn, admin.session.workspace))
    return render(request, "settings.html", settings_context(request, admin, tokens), admin=admin,
                  flash=await take_flash(admin))  # fmt: skip
