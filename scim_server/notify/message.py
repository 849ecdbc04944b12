"""What a notification says: the webhook's JSON body and the email's subject and text, from an
event's kind and facts. Pure: no I/O, no clock (the event carries its time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from scim_server.store.db import iso_utc

_TITLES = {
    "report.opened": "New deprovision report",
    "report.updated": "Deprovision report has new entries",
    "guard.held": "Mass-removal guard held removals",
    "job.failed": "Automation job failed",
    "report.reminder": "Reminder: deprovision report not applied",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One event as read back for delivery."""

    id: str
    workspace_id: int
    kind: str
    data: dict[str, Any]
    created: Any

    @classmethod
    def from_row(cls, row: Any) -> Notice:
        return cls(row.id, row.workspace_id, row.kind, orjson.loads(row.data), row.created)


def link(base_url: str, notice: Notice) -> str:
    """Where in the console to act: the report (its card on the reports page) or the job."""
    base = base_url.rstrip("/")
    if notice.data.get("report_id"):
        return f"{base}/console/reports#report-{notice.data['report_id']}"
    if notice.data.get("job_id"):
        return f"{base}/console/automation/{notice.data['job_id']}"
    return f"{base}/console/"


def webhook_body(notice: Notice, base_url: str) -> bytes:
    """The JSON a webhook receives (its signature covers exactly these bytes)."""
    return orjson.dumps({"id": notice.id, "event": notice.kind, "created": iso_utc(notice.created),
                         "workspace_id": notice.workspace_id, "link": link(base_url, notice), "data": notice.data},
                        option=orjson.OPT_SORT_KEYS)  # fmt: skip


def _person(p: dict[str, Any]) -> str:
    name, email = p.get("display_name"), p.get("email")
    who = f"{name} <{email}>" if name and email and name != email else (email or name or p.get("member_id") or "?")
    extra = [x for x in (p.get("app_role") and f"role {p['app_role']}", p.get("reason"),
                         p.get("held") and "held by the guard") if x]  # fmt: skip
    return f"  - {who}" + (f" ({', '.join(extra)})" if extra else "")


def subject(notice: Notice) -> str:
    app = notice.data.get("app_label") or notice.data.get("app_id") or "scim-bridge"
    count = int(notice.data.get("people_total", len(notice.data.get("people", []))))
    tail = f": {count} {'person' if count == 1 else 'people'}" if count else ""
    return f"[scim-bridge] {_TITLES.get(notice.kind, notice.kind)} in {app}{tail}"


def text(notice: Notice, base_url: str) -> str:
    """The plain-text email: what happened, in which app, to whom, and where to act."""
    d = notice.data
    lines = [_TITLES.get(notice.kind, notice.kind) + ".", ""]
    if d.get("app_id"):
        lines.append(f"App: {d.get('app_label') or d['app_id']} ({d.get('app_kind') or 'app'}, id {d['app_id']})")
    if d.get("held_reason"):
        lines.append(f"Held: {d['held_reason']}")
    if notice.kind == "job.failed":
        lines.append(f"Job: {d.get('job_kind')} {d.get('job_id')}")
        lines.append(f"Error: {d.get('error') or 'unknown'}")
    if notice.kind == "report.reminder":
        lines.append(f"Pending since {d.get('pending_since')} with {d.get('open_entries')} open entries.")
    people = d.get("people") or []
    if people:
        lines += ["", "People concerned:", *(_person(p) for p in people)]
        more = int(d.get("people_total", len(people))) - len(people)
        if more > 0:
            lines.append(f"  ... and {more} more (see the report)")
    lines += ["", f"Review and apply: {link(base_url, notice)}", ""]
    return "\n".join(lines)
