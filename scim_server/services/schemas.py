"""What each operation takes, validated once (pydantic) for every face: the admin API parses a
JSON body into these, the console a form. Unknown fields are an error, not silently dropped."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

BridgeRole = Literal["owner", "collaborator"]
LoginMethod = Literal["sso", "password"]
Policy = Literal["report", "automatic"]
SCHEDULE = r"^(daily|hourly|manual|([01]\d|2[0-3]):[0-5]\d)$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Guard(Body):
    count: int = Field(10, ge=0)
    percent: int = Field(20, ge=0, le=100)


class AutomationIdentity(Body):
    """How to recognise the automation account's own member in the app (never removed)."""

    remote_id: str | None = Field(None, min_length=1, max_length=300)
    email: str | None = Field(None, min_length=3, max_length=320)


class ConnectApp(Body):
    kind: str = Field(min_length=1, max_length=50)
    label: str = Field(min_length=1, max_length=200)
    business_id: str | None = Field(None, min_length=1, max_length=200)
    login_method: LoginMethod | None = None  # None: the kind's default (see the catalog)
    automation_account: dict[str, str]
    account_label: str | None = Field(None, min_length=1, max_length=200)
    automation_account_of: str | None = Field(None, min_length=1, max_length=64)  # reuse that app's account
    api_base_url: HttpUrl | None = None
    deprovision_policy: Policy = "report"
    schedule: str = Field("daily", pattern=SCHEDULE)
    mass_removal_guard: Guard = Field(default_factory=Guard)
    automation_identity: AutomationIdentity | None = None


class ConfigureApp(Body):
    label: str | None = Field(None, min_length=1, max_length=200)
    login_method: LoginMethod | None = None
    automation_account: dict[str, str] | None = None
    api_base_url: HttpUrl | None = None
    deprovision_policy: Policy | None = None
    schedule: str | None = Field(None, pattern=SCHEDULE)
    mass_removal_guard: Guard | None = None
    automation_identity: AutomationIdentity | None = None


class MatchBody(Body):
    user_id: str = Field(min_length=1, max_length=64)
    bridge_role: BridgeRole = "collaborator"


class ExemptBody(Body):
    reason: str = Field(min_length=1, max_length=2000)


class RolesBody(Body):
    app_role: str | None = Field(None, min_length=1, max_length=100)
    bridge_role: BridgeRole | None = None


class InviteBody(Body):
    user_id: str = Field(min_length=1, max_length=64)
    bridge_role: BridgeRole = "collaborator"
    app_role: str | None = Field(None, min_length=1, max_length=100)


class AssetGrant(Body):
    asset_id: str = Field(min_length=1, max_length=300)
    permission: str = Field(min_length=1, max_length=100)


class RuleBody(Body):
    group_id: str = Field(min_length=1, max_length=64)
    bridge_role: BridgeRole = "collaborator"
    app_role: str | None = Field(None, min_length=1, max_length=100)
    assets: list[AssetGrant] = Field(default_factory=list, max_length=1000)


class Decision(Body):
    """What to do with one report entry: remove the access, keep it (exempted, with a reason), or
    skip it for now (the entry stays open for a later report)."""

    entry_id: str = Field(min_length=1, max_length=64)
    decision: Literal["remove", "exempt", "skip"]
    reason: str | None = Field(None, min_length=1, max_length=2000)


class ApplyReport(Body):
    """Entries without a decision are removed (what applying a report has always meant)."""

    decisions: list[Decision] = Field(default_factory=list, max_length=10000)


class ResolveJob(Body):
    """"Mark as done": an admin did the job's work by hand in the app."""

    note: str = Field(min_length=1, max_length=2000)
