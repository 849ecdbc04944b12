"""Tables for connected apps, their imported members and assets, assignment rules,
deprovision reports and durable jobs. Every row belongs to one workspace."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from scim_server.store.db import Base


class App(Base):
    """One connection to one collaboration space of an app. ``account_secret`` is the
    automation account, Fernet-encrypted; it is never returned or logged."""

    __tablename__ = "apps"
    __table_args__ = (
        Index("ix_apps_workspace", "workspace_id", "created"),
        # one connection per business/org: connecting it twice is a 409, also under a race
        Index("uq_apps_business", "workspace_id", "kind", "business_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    business_id: Mapped[str | None] = mapped_column(String(200))
    login_method: Mapped[str] = mapped_column(String(20))
    account_secret: Mapped[str] = mapped_column(Text)
    account_fields: Mapped[str] = mapped_column(Text)  # JSON list of the field names set (not values)
    account_label: Mapped[str | None] = mapped_column(String(200))  # what an admin picks the account by
    api_base_url: Mapped[str | None] = mapped_column(String(500))
    deprovision_policy: Mapped[str] = mapped_column(String(20), default="report")
    schedule: Mapped[str] = mapped_column(String(40), default="daily")
    mass_removal_count: Mapped[int] = mapped_column(Integer, default=10)
    mass_removal_percent: Mapped[int] = mapped_column(Integer, default=20)
    automation_remote_id: Mapped[str | None] = mapped_column(String(200))
    automation_email: Mapped[str | None] = mapped_column(String(320))
    last_check: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_check: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Partial indexes' conditions (migration 0019), spelled once: the queries that use them embed the
# same text (SQLite uses a partial index only when the query's WHERE holds its terms verbatim).
MEMBERS_UNSURE = "closed IS NULL AND (state = 'disputed' OR (state = 'exempted' AND user_id IS NULL))"
MEMBERS_ACTIVE = "closed IS NULL AND status != 'pending'"
JOBS_REMOVALS = "kind = 'remove'"


class AppMember(Base):
    """A member as imported, with its membership state. Members that vanish from the app
    are closed (``closed`` set, state ``removed``), never deleted."""

    __tablename__ = "app_members"
    __table_args__ = (
        UniqueConstraint("app_id", "remote_id", name="uq_app_members_app_remote"),
        Index("ix_app_members_app_state", "app_id", "state", "id"),
        Index("ix_app_members_user", "workspace_id", "user_id"),
        Index("ix_app_members_email", "app_id", "email_ci"),
        # the Members tabs' sort orders (store.members.sort_key), one index each: see migration 0017
        *(Index(f"ix_app_members_sort_{name}", "app_id", "state", text(f"coalesce({column}, '')"), "id")
          for name, column in (("email", "email_ci"), ("name", "display_name"))),
        Index("ix_app_members_unsure", "app_id", sqlite_where=text(MEMBERS_UNSURE), postgresql_where=text(MEMBERS_UNSURE)),
        Index("ix_app_members_active", "app_id", sqlite_where=text(MEMBERS_ACTIVE), postgresql_where=text(MEMBERS_ACTIVE)),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    email_ci: Mapped[str | None] = mapped_column(String(320))
    username: Mapped[str | None] = mapped_column(String(300))
    display_name: Mapped[str | None] = mapped_column(String(300))
    app_role: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # active | pending
    state: Mapped[str] = mapped_column(String(20))  # matched | unmatched | exempted | disputed | removed
    user_id: Mapped[str | None] = mapped_column(String(36))
    bridge_role: Mapped[str | None] = mapped_column(String(20))
    match_source: Mapped[str | None] = mapped_column(String(20))  # auto | manual
    managed_user_id: Mapped[str | None] = mapped_column(String(36))  # set while a rule manages it
    exempt_reason: Mapped[str | None] = mapped_column(Text)
    exempted_by: Mapped[str | None] = mapped_column(String(100))
    exempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    conflicts: Mapped[str | None] = mapped_column(Text)  # JSON: what the plan wants but cannot do for it
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppAsset(Base):
    __tablename__ = "app_assets"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300))
    type: Mapped[str | None] = mapped_column(String(60))


class AppPermission(Base):
    __tablename__ = "app_permissions"
    __table_args__ = (Index("ix_app_permissions_member", "app_id", "remote_id"),)

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    remote_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    permission: Mapped[str] = mapped_column(String(100))


class AssignmentRule(Base):
    """Directory group -> (app, bridge role, app role, asset grants)."""

    __tablename__ = "assignment_rules"
    __table_args__ = (Index("ix_assignment_rules_app", "app_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(String(36))
    bridge_role: Mapped[str] = mapped_column(String(20))
    app_role: Mapped[str | None] = mapped_column(String(100))
    asset_grants: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{"asset_id", "permission"}]
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeprovisionReport(Base):
    """An app's deprovision report: ``pending`` collects entries until an admin applies it
    (or, under policy ``automatic``, the guard held removals that need confirmation)."""

    __tablename__ = "deprovision_reports"
    __table_args__ = (Index("ix_deprovision_reports_app", "workspace_id", "app_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # pending | applying | applied | failed
    held_reason: Mapped[str | None] = mapped_column(Text)  # why the guard held removals
    job_id: Mapped[str | None] = mapped_column(String(36))
    applied_by: Mapped[str | None] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeprovisionEntry(Base):
    """One member whose directory identity was deactivated or deleted while it still has
    access. Entries of an app that are ``pending`` form its pending deprovision report."""

    __tablename__ = "deprovision_entries"
    __table_args__ = (Index("ix_deprovision_entries_app_status", "app_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    report_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(20))  # deactivated | deleted
    # pending | held | withdrawn | removed | failed | exempted | skipped
    status: Mapped[str] = mapped_column(String(20))
    # who and what the entry is about, as it was when it was reported (the member may be gone since)
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(512))
    app_role: Mapped[str | None] = mapped_column(String(100))
    assets: Mapped[str | None] = mapped_column(Text)  # JSON [{"asset_id", "permission"}]
    decision: Mapped[str | None] = mapped_column(String(20))  # remove | exempt | skip
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)  # why a removal failed
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Job(Base):
    """A durable automation task. Workers claim with a lease; an expired lease is claimable
    again, so a killed worker's job completes elsewhere. ``dedupe_key`` keeps one live job
    per (kind, target): enqueuing the same removal twice does not double it."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "run_after"),
        Index("ix_jobs_app", "workspace_id", "app_id", "created", "id"),
        Index("ix_jobs_dedupe", "workspace_id", "dedupe_key", "status"),
        Index("ix_jobs_live", "app_id", "status", "run_after"),  # an app's in-flight jobs, not its history
        Index("ix_jobs_removals", "workspace_id", "app_id", "created", sqlite_where=text(JOBS_REMOVALS),
              postgresql_where=text(JOBS_REMOVALS)),  # the mass-removal guard's window
        Index("ix_jobs_ws_created", "workspace_id", "created", "id"),  # GET /jobs newest first
        Index("ix_jobs_ws_status", "workspace_id", "status", "created", "id"),  # GET /jobs?status=
        Index("ix_jobs_finished", "status", "finished"),  # pruning
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))  # queued | running | completed | failed | cancelled
    payload: Mapped[str] = mapped_column(Text, default="{}")
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    dedupe_key: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str | None] = mapped_column(String(100))
    run_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Lease(Base):
    """Named leases (the scheduler's leadership on SQLite; PostgreSQL uses an advisory lock)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
