"""Console faces of the governance operations: each handler parses a form into the service
layer's own schema, calls the one operation (``scim_server.services``), and redirects with a
message box. No business rule lives here: a refusal is the service's ``ServiceError``, shown on
the page (and on the field it names) with nothing saved.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from scim_server.console.web import (
    Admin,
    admin_page,
    form_lists,
    form_of,
    message,
    redirect_with,
    render_dialog,
)
from scim_server.errors import ServiceError
from scim_server.services import apps as app_ops
from scim_server.services import directory as directory_ops
from scim_server.services import jobs as job_ops
from scim_server.services import members as member_ops
from scim_server.services import reports as report_ops
from scim_server.services.paging import PageRequest
from scim_server.services.schemas import (
    ApplyReport,
    ConfigureApp,
    Decision,
    ExemptBody,
    Guard,
    MatchBody,
    ResolveJob,
    RolesBody,
)


def _problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _job_box(text: str, job_id: str | None) -> dict[str, Any]:
    if job_id is None:
        return message("success", text)
    return message("success", text, f"/console/automation/{job_id}", "See the job in Automation")


# -- apps ----------------------------------------------------------------------------------------


@admin_page
async def check(request: Request, admin: Admin) -> Response:
    app_id = request.path_params["app_id"]
    out = await member_ops.check(admin.services, admin.principal, app_id)
    back = request.headers.get("referer", "")
    target = back[back.index("/console/"):] if "/console/" in back else "/console/apps"
    return await redirect_with(request, admin, target, _job_box("Checking for updates.", out.get("job_id")))


@admin_page
async def configure(request: Request, admin: Admin) -> Response:
    app_id = request.path_params["app_id"]
    form = await form_of(request)
    try:
        body = ConfigureApp(label=form.get("label") or None, schedule=form.get("schedule") or None,
                            deprovision_policy=form.get("deprovision_policy") or None,
                            login_method=form.get("login_method") or None,
                            mass_removal_guard=Guard(count=int(form.get("guard_count") or 10),
                                                     percent=int(form.get("guard_percent") or 20)))  # fmt: skip
    except (ValidationError, ValueError) as exc:
        text = _problem(exc) if isinstance(exc, ValidationError) else "The guard needs whole numbers."
        return await redirect_with(request, admin, f"/console/apps/{app_id}/settings", message("error", text))
    await app_ops.configure(admin.services, admin.principal, app_id, body)
    return await redirect_with(request, admin, f"/console/apps/{app_id}/settings", message("success", "Settings saved."))


@admin_page
async def remove_app_form(request: Request, admin: Admin) -> Response:
    app_id = request.path_params["app_id"]
    app = await app_ops.get_app(admin.services, admin.principal, app_id)
    return render_dialog(request, "remove_app.html", {"app": app, "dialog_title": "Remove app"}, admin)


@admin_page
async def remove_app(request: Request, admin: Admin) -> Response:
    app_id = request.path_params["app_id"]
    form = await form_of(request)
    reason = form.get("reason", "").strip()
    if not reason:
        app = await app_ops.get_app(admin.services, admin.principal, app_id)
        return render_dialog(request, "remove_app.html", {"app": app, "dialog_title": "Remove app",
                             "error": "Provide a reason."}, admin, 400)  # fmt: skip
    await app_ops.remove(admin.services, admin.principal, app_id, reason[:2000])
    return await redirect_with(request, admin, "/console/apps", message("success", "App removed."))


# -- members -------------------------------------------------------------------------------------


async def _member(admin: Admin, app_id: str, member_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    app = await app_ops.get_app(admin.services, admin.principal, app_id)
    member = await member_ops.get_member(admin.services, admin.principal, app_id, member_id)
    return app, member


async def _member_or_none(admin: Admin, app_id: str, member_id: str) -> dict[str, Any] | None:
    try:
        return await member_ops.get_member(admin.services, admin.principal, app_id, member_id)
    except ServiceError:
        return None


def _members_url(app_id: str, state: str = "matched") -> str:
    return f"/console/apps/{app_id}/members?state={state}"


@admin_page
async def match_form(request: Request, admin: Admin) -> Response:
    """Match user: step 1 searches directory users ("Match with"), step 2 picks the role."""
    app_id, member_id = request.path_params["app_id"], request.path_params["member_id"]
    app, member = await _member(admin, app_id, member_id)
    query = request.query_params.get("q", "").strip()[:200]
    chosen = request.query_params.get("user_id")
    context: dict[str, Any] = {"app": app, "member": member, "q": query, "step": "search", "users": [],
                               "dialog_title": "Match user"}  # fmt: skip
    if chosen:
        user = await directory_ops.get_user(admin.services, admin.principal, chosen)
        context |= {"step": "role", "user": user}
    else:
        found = await directory_ops.search_users(admin.services, admin.principal, query or None, PageRequest(None, 20))
        context["users"] = found["items"]
    return render_dialog(request, "match.html", context, admin)


@admin_page
async def match(request: Request, admin: Admin) -> Response:
    app_id, member_id = request.path_params["app_id"], request.path_params["member_id"]
    form = await form_of(request)
    try:
        body = MatchBody(user_id=form.get("user_id", ""), bridge_role=form.get("bridge_role", "collaborator"))
    except ValidationError as exc:
        return await redirect_with(request, admin, f"/console/apps/{app_id}/members/{member_id}/match",
                                   message("error", _problem(exc)))  # fmt: skip
    _, member = await _member(admin, app_id, member_id)
    operation = member_ops.reassign if member.get("user_id") else member_ops.match
    out = await operation(admin.services, admin.principal, app_id, member_id, body)
    jobs = out.get("jobs") or []
    return await redirect_with(request, admin, _members_url(app_id, "matched"),
                               _job_box("User matched.", jobs[0] if jobs else None))  # fmt: skip


@admin_page
async def member_form(request: Request, admin: Admin) -> Response:
    """The confirmation dialogs of a member's row actions: remove, exempt, unexempt, change role."""
    app_id, member_id, action = (request.path_params[k] for k in ("app_id", "member_id", "action"))
    if action not in ("remove", "exempt", "unexempt", "role"):
        raise LookupError(action)
    app, member = await _member(admin, app_id, member_id)
    roles = app_ops.catalog_entry(app["kind"]).get("roles", [])
    titles = {"remove": "Remove user", "exempt": "Exempt user", "unexempt": "Unexempt user", "role": "Change role"}
    return render_dialog(request, f"member_{action}.html", {"app": app, "member": member, "roles": roles,
                         "dialog_title": titles[action]}, admin)  # fmt: skip


@admin_page
async def member_action(request: Request, admin: Admin) -> Response:
    app_id, member_id, action = (request.path_params[k] for k in ("app_id", "member_id", "action"))
    form = await form_of(request)
    svc, who = admin.services, admin.principal
    if action == "remove":
        out = await member_ops.remove(svc, who, app_id, member_id)
        box = _job_box("Removing the user.", out.get("job_id"))
        state = "removed"
    elif action == "exempt":
        try:
            body = ExemptBody(reason=form.get("reason", ""))
        except ValidationError:
            app, member = await _member(admin, app_id, member_id)
            return render_dialog(request, "member_exempt.html", {"app": app, "member": member, "dialog_title":
                                 "Exempt user", "error": "Provide a reason."}, admin, 400)  # fmt: skip
        await member_ops.exempt(svc, who, app_id, member_id, body)
        box, state = message("success", "User exempted."), "exempted"
    elif action == "unexempt":
        await member_ops.unexempt(svc, who, app_id, member_id)
        box, state = message("success", "User is no longer exempted."), "matched"
    elif action == "role":
        try:
            roles = RolesBody(app_role=form.get("app_role") or None,
                              bridge_role=form.get("bridge_role") or None)
        except ValidationError as exc:
            return await redirect_with(request, admin, _members_url(app_id), message("error", _problem(exc)))
        out = await member_ops.change_roles(svc, who, app_id, member_id, roles)
        box, state = _job_box("Role changed.", out.get("job_id")), "matched"
    else:
        raise LookupError(action)
    return await redirect_with(request, admin, _members_url(app_id, state), box)


@admin_page
async def bulk(request: Request, admin: Admin) -> Response:
    """Remove or exempt the selected members: one operation each (each its own transaction and
    audit event); the message says how many were done and the first refusal, if any."""
    app_id = request.path_params["app_id"]
    form = await form_lists(request)
    action = (form.get("action") or [""])[0]
    state = (form.get("state") or ["matched"])[0]
    selected = form.get("member", [])[:500]
    reason = (form.get("reason") or [""])[0].strip()
    if not selected or action not in ("remove", "exempt"):
        return await redirect_with(request, admin, _members_url(app_id, state), message("error", "Select members first."))
    if action == "exempt" and not reason:
        return await redirect_with(request, admin, _members_url(app_id, state),
                                   message("error", "Provide a reason to exempt the selected members."))  # fmt: skip
    if action == "remove" and (form.get("confirmed") or [""])[0] != "yes":  # Remove users? first
        found = [await _member_or_none(admin, app_id, m) for m in selected]
        context = {"app": await app_ops.get_app(admin.services, admin.principal, app_id), "state": state,
                   "members": [m for m in found if m is not None], "dialog_title": "Remove users"}  # fmt: skip
        return render_dialog(request, "bulk_remove.html", context, admin)
    done, refused = 0, []
    for member_id in selected:
        try:
            if action == "remove":
                await member_ops.remove(admin.services, admin.principal, app_id, member_id)
            else:
                await member_ops.exempt(admin.services, admin.principal, app_id, member_id, ExemptBody(reason=reason))
            done += 1
        except ServiceError as exc:
            refused.append(exc.message)
    verb = "Removing" if action == "remove" else "Exempted"
    text = f"{verb} {done} of {len(selected)} members." + (f" Not done: {refused[0]}" if refused else "")
    return await redirect_with(request, admin, _members_url(app_id, state), message("error" if refused else "success", text))


# -- jobs and reports ----------------------------------------------------------------------------


@admin_page
async def job_action(request: Request, admin: Admin) -> Response:
    job_id, action = request.path_params["job_id"], request.path_params["action"]
    if action == "cancel":
        await job_ops.cancel(admin.services, admin.principal, job_id)
        box = message("success", "Job cancelled.")
    elif action == "retry":
        out = await job_ops.retry(admin.services, admin.principal, job_id)
        box = _job_box("Job queued again.", out.get("id") or out.get("job_id"))
    elif action == "resolve":
        note = (await form_of(request)).get("note", "").strip() or "Done in the app by an admin."
        await job_ops.resolve(admin.services, admin.principal, job_id, ResolveJob(note=note[:2000]))
        box = message("success", "Job marked as done.")
    else:
        raise LookupError(action)
    return await redirect_with(request, admin, f"/console/automation/{job_id}", box)


@admin_page
async def apply_report(request: Request, admin: Admin) -> Response:
    report_id = request.path_params["report_id"]
    form = await form_of(request)
    decisions = []
    for key, value in form.items():
        if key.startswith("decision-"):
            entry_id = key.removeprefix("decision-")
            reason = form.get(f"reason-{entry_id}", "").strip() or None
            try:
                decisions.append(Decision(entry_id=entry_id, decision=value, reason=reason))
            except ValidationError as exc:
                return await redirect_with(request, admin, "/console/reports", message("error", _problem(exc)))
    out = await report_ops.apply_report(admin.services, admin.principal, report_id, ApplyReport(decisions=decisions))
    return await redirect_with(request, admin, f"/console/reports#report-{report_id}",
                               _job_box("Report applied.", out.get("job_id")))  # fmt: skip
