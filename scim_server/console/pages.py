"""The console's read pages: Apps, App details (Settings and Members), Automation, Reports,
Directory, Audit, Settings. Each parses the query, reads in one snapshot and renders."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from scim_server.console import oidc, reads
from scim_server.console.web import Admin, admin_page, render, take_flash
from scim_server.cursor import InvalidCursor
from scim_server.notify import service as notify_ops
from scim_server.services import directory as directory_ops
from scim_server.services import jobs as job_ops
from scim_server.services import members as member_ops
from scim_server.services import reports as report_ops
from scim_server.services.paging import PageRequest
from scim_server.store import console as session_store
from scim_server.store import tenancy

PAGE_SIZE = 50
CSV_PAGE = 500  # rows per service read while streaming a CSV download


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


def _members_query(request: Request) -> tuple[str, str, str, str | None, int]:
    """state, search text, sort, cursor and page number (for the caption only) of a Members page."""
    params = request.query_params
    state = params.get("state", "matched")
    state = state if state in reads.STATES else "matched"
    sort = params.get("sort", "email")
    sort = sort if sort in member_ops.SORTS else "email"
    return state, params.get("q", "").strip()[:200], sort, params.get("cursor") or None, _int(params.get("page"), 1) or 1


@admin_page
async def app_members(request: Request, admin: Admin) -> Response:
    """User overview: one tab, searched and sorted, paged by cursor through the service's read."""
    app_id = request.path_params["app_id"]
    state, query, sort, position, number = _members_query(request)
    try:
        found = await member_ops.search_members(admin.services, admin.principal, app_id, state, query or None, sort,
                                                PageRequest(position, PAGE_SIZE))  # fmt: skip
    except InvalidCursor:
        return RedirectResponse(f"/console/apps/{app_id}/members?state={state}", 303)  # a stale link: page 1
    card = await admin.services.db.read(lambda conn: reads.app_detail(conn, admin.ws, app_id))
    total = found["total"] if found["total"] is not None else card.counts.get(state, 0)
    context = {"card": card, "tab": "members", "state": state, "q": query, "sort": sort, "page": found,
               "total": total, "first": (number - 1) * PAGE_SIZE, "number": number, "tabs": reads.TAB_NAMES}  # fmt: skip
    return render(request, "app_members.html", context, admin=admin, flash=await take_flash(admin))


CSV_COLUMNS = ["name", "email", "username", "app_role", "assets", "directory_user", "bridge_role", "matched_by", "state"]


@admin_page
async def members_csv(request: Request, admin: Admin) -> Response:
    """Download CSV: the whole tab (searched and sorted as shown), read page by page through the
    service and streamed, so a 50,000-member tab never sits in memory at once."""
    app_id = request.path_params["app_id"]
    state, query, sort, _, _ = _members_query(request)
    first = await member_ops.search_members(admin.services, admin.principal, app_id, state, query or None, sort,
                                            PageRequest(None, CSV_PAGE))  # fmt: skip

    async def rows() -> AsyncIterator[str]:
        yield _csv_line(CSV_COLUMNS)
        found = first
        while True:
            for m in found["items"]:
                yield _csv_line([m["display_name"], m["email"], m["username"], m["app_role"], str(len(m["assets"])),
                                 found["user_names"].get(m["user_id"] or ""), m["bridge_role"], m["match_source"],
                                 m["state"]])  # fmt: skip
            if found["next_cursor"] is None:
                return
            found = await member_ops.search_members(admin.services, admin.principal, app_id, state, query or None,
                                                    sort, PageRequest(found["next_cursor"], CSV_PAGE))  # fmt: skip

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="members-{state}.csv"'})


def _csv_line(values: Sequence[str | None]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_cell(v) for v in values])
    return out.getvalue()


def _cell(value: str | None) -> str:
    """No spreadsheet formula injection: a cell starting with = + - @ is quoted with '."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@admin_page
async def automation(request: Request, admin: Admin) -> Response:
    found = await job_ops.list_jobs(admin.services, admin.principal, None, None, PageRequest(None, 100))
    labels = await admin.services.db.read(lambda conn: reads.app_labels(conn, admin.ws))
    jobs = found["items"]
    live = any(j["status"] in ("queued", "running") for j in jobs)
    context = {"jobs": jobs, "labels": labels, "statuses": reads.JOB_STATUS, "live": live}
    if request.query_params.get("fragment") == "jobs":  # the live refresh while jobs run
        return render(request, "_jobs.html", context, admin=admin)
    return render(request, "automation.html", context, admin=admin, flash=await take_flash(admin))


@admin_page
async def job_detail(request: Request, admin: Admin) -> Response:
    job = await job_ops.get_job(admin.services, admin.principal, request.path_params["job_id"])
    labels = await admin.services.db.read(lambda conn: reads.app_labels(conn, admin.ws))
    live = job["status"] in ("queued", "running")
    return render(request, "job.html", {"job": job, "labels": labels, "statuses": reads.JOB_STATUS, "live": live},
                  admin=admin, flash=await take_flash(admin))  # fmt: skip


@admin_page
async def reports(request: Request, admin: Admin) -> Response:
    page = await report_ops.list_reports(admin.services, admin.principal, None, None, PageRequest(None, 200))
    labels = await admin.services.db.read(lambda conn: reads.app_labels(conn, admin.ws))
    found = [{"report": r, "app_label": labels.get(r["app_id"], r["app_id"])} for r in reversed(page["items"])]
    any_open = any(r["report"]["status"] == "pending" for r in found)
    if request.query_params.get("fragment") == "list":  # the live refresh while no report waits
        return render(request, "_reports.html", {"reports": found, "any_open": any_open}, admin=admin)
    return render(request, "reports.html", {"reports": found, "any_open": any_open}, admin=admin,
                  flash=await take_flash(admin))  # fmt: skip


@admin_page
async def directory(request: Request, admin: Admin) -> Response:
    """Directory users (search by name or email, cursor paging: the service's own), and groups."""
    query = request.query_params.get("q", "").strip()[:200]
    found = await directory_ops.search_users(admin.services, admin.principal, query or None,
                                             PageRequest(request.query_params.get("cursor") or None, PAGE_SIZE))  # fmt: skip
    groups = await admin.services.db.read(lambda conn: reads.directory_groups(conn, admin.ws))
    return render(request, "directory.html", {"users": found, "groups": groups, "q": query}, admin=admin)


@admin_page
async def directory_user(request: Request, admin: Admin) -> Response:
    user = await directory_ops.get_user(admin.services, admin.principal, request.path_params["user_id"])
    return render(request, "directory_user.html", {"user": user}, admin=admin)


async def settings_context(request: Request, admin: Admin) -> dict[str, Any]:
    """What the Settings page shows: the SCIM URL, the workspace's tokens, notification addresses
    and the sign-in configuration (also rendered after a token is created, with that token)."""
    config = admin.services.settings
    base = (config.public_base_url or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")
    tokens = await admin.services.db.read(lambda conn: tenancy.list_tokens(conn, admin.session.workspace))
    return {"tokens": tokens, "scim_url": f"{base}/scim/v2", "oidc": oidc.configured(config),
            "oidc_issuer": config.console_oidc_issuer, "created": None,
            "notify": await notify_ops.get_settings(admin.services, admin.principal)}  # fmt: skip


@admin_page
async def settings(request: Request, admin: Admin) -> Response:
    return render(request, "settings.html", await settings_context(request, admin), admin=admin,
                  flash=await take_flash(admin))  # fmt: skip
