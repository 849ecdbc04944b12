"""The /api/v1 route table (the admin API; see openapi/openapi.yaml)."""

from __future__ import annotations

from starlette.routing import Route

from scim_server.admin import apps, directory, governance, jobs, members

ROUTES = [
    Route("/catalog", apps.catalog, methods=["GET"]),
    Route("/catalog/{kind}/automation-accounts", apps.automation_accounts, methods=["GET"]),
    Route("/apps", apps.list_apps, methods=["GET"]),
    Route("/apps", apps.connect, methods=["POST"]),
    Route("/apps/{app_id}", apps.get_app, methods=["GET"]),
    Route("/apps/{app_id}", apps.configure, methods=["PATCH"]),
    Route("/apps/{app_id}", apps.remove, methods=["DELETE"]),
    Route("/apps/{app_id}/check", members.check, methods=["POST"]),
    Route("/apps/{app_id}/members", members.list_members, methods=["GET"]),
    Route("/apps/{app_id}/members/{member_id}", members.get_member, methods=["GET"]),
    Route("/apps/{app_id}/members/{member_id}", members.change_roles, methods=["PATCH"]),
    Route("/apps/{app_id}/members/{member_id}/reassign", members.reassign, methods=["POST"]),
    Route("/apps/{app_id}/members/{member_id}/match", members.match, methods=["POST"]),
    Route("/apps/{app_id}/members/{member_id}/remove", members.remove, methods=["POST"]),
    Route("/apps/{app_id}/members/{member_id}/exempt", members.exempt, methods=["POST"]),
    Route("/apps/{app_id}/members/{member_id}/unexempt", members.unexempt, methods=["POST"]),
    Route("/apps/{app_id}/invitations", members.invite, methods=["POST"]),
    Route("/apps/{app_id}/plan", members.plan, methods=["GET"]),
    Route("/apps/{app_id}/assets", members.assets, methods=["GET"]),
    Route("/apps/{app_id}/rules", governance.list_rules, methods=["GET"]),
    Route("/apps/{app_id}/rules", governance.create_rule, methods=["POST"]),
    Route("/apps/{app_id}/rules/{rule_id}", governance.delete_rule, methods=["DELETE"]),
    Route("/reports", governance.list_reports, methods=["GET"]),
    Route("/reports/{report_id}", governance.get_report, methods=["GET"]),
    Route("/reports/{report_id}/apply", governance.apply_report, methods=["POST"]),
    Route("/jobs", jobs.list_jobs, methods=["GET"]),
    Route("/jobs/{job_id}", jobs.get_job, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", jobs.cancel_job, methods=["POST"]),
    Route("/jobs/{job_id}/retry", jobs.retry_job, methods=["POST"]),
    Route("/jobs/{job_id}/resolve", jobs.resolve_job, methods=["POST"]),
    Route("/directory/users", directory.search_users, methods=["GET"]),
    Route("/directory/users/{user_id}", directory.get_user, methods=["GET"]),
]
