"""Notifications (email, webhooks, reminders) and SIEM streaming of the audit trail.

Only the outbox hooks are exported here: the report, guard and job code call them inside their
transactions. Delivery, the API and the SIEM streamer live in the submodules and are imported by
the composition root (``scim_server/app.py``), so importing this package stays cheap and free of
cycles (``store.models`` registers ``notify.tables``).
"""

from scim_server.notify.outbox import enqueue, guard_held, job_failed, report_entry

__all__ = ["enqueue", "guard_held", "job_failed", "report_entry"]
