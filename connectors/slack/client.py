"""Slack Web API (Enterprise Grid admin methods plus ``users.*``), typed (vendor-apis.md section 4b).

Base ``https://slack.com``, methods at ``/api/<method>``; ``Authorization: Bearer xoxp-...`` (an org
admin / owner user token with ``admin.users:read``, ``admin.users:write``, ``users:read``,
``users:read.email``, ``channels:read``). Reads are GET with query arguments, writes POST
``application/x-www-form-urlencoded``. Listings page with ``cursor`` / ``limit`` and
``response_metadata.next_cursor`` (an empty string means done). Errors: ``connectors.slack.errors``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import Secret
from connectors.http import HTTPSettings, VendorHTTP
from connectors.slack.errors import classify

__all__ = [
    "BASE_URL",
    "KIND",
    "SlackChannel",
    "SlackClient",
    "SlackTeam",
    "SlackUser",
    "make_http",
    "parse_channel",
    "parse_team",
    "parse_user",
]

KIND = "slack"
BASE_URL = "https://slack.com"
DEFAULT_LIMIT = 200  # users.list: "no more than 200" recommended; the maximum is 1000
SLACKBOT_ID = "USLACKBOT"


@dataclass(frozen=True, slots=True)
class SlackUser:
    """A user object from ``users.list`` / ``users.info`` / ``users.lookupByEmail``.

    ``is_invited_user`` marks an invitation not yet accepted (its ``deleted`` is true until then).
    """

    id: str
    name: str
    email: str | None
    real_name: str | None
    deleted: bool = False
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_bot: bool = False
    is_app_user: bool = False
    is_invited_user: bool = False


@dataclass(frozen=True, slots=True)
class SlackTeam:
    id: str
    name: str
    domain: str


@dataclass(frozen=True, slots=True)
class SlackChannel:
    id: str
    name: str
    is_general: bool
    is_archived: bool


def parse_user(data: Mapping[str, Any]) -> SlackUser:
    profile = data.get("profile") or {}
    flags = {name: bool(data.get(name, False)) for name in (
        "deleted", "is_admin", "is_owner", "is_primary_owner", "is_restricted", "is_ultra_restricted",
        "is_bot", "is_app_user", "is_invited_user")}
    return SlackUser(str(data["id"]), str(data.get("name") or ""), profile.get("email") or data.get("email"),
                     profile.get("real_name") or data.get("real_name"), **flags)


def parse_team(data: Mapping[str, Any]) -> SlackTeam:
    return SlackTeam(str(data["id"]), str(data.get("name") or ""), str(data.get("domain") or ""))


def parse_channel(data: Mapping[str, Any]) -> SlackChannel:
    return SlackChannel(str(data["id"]), str(data.get("name") or ""), bool(data.get("is_general")),
                        bool(data.get("is_archived")))


def make_http(base_url: str, token: Secret, settings: HTTPSettings) -> VendorHTTP:
    """The ``VendorHTTP`` for one workspace: Bearer token, ``ok:false`` classifier."""
    return VendorHTTP(KIND, base_url, auth_headers={"Authorization": Secret(f"Bearer {token.reveal()}")},
                      headers={"User-Agent": "scim-bridge"}, settings=settings, classifier=classify)


class SlackClient:
    """Web API calls on one workspace (``team_id``). Every method raises ``connectors.errors`` only."""

    def __init__(self, http: VendorHTTP, team_id: str) -> None:
        self.http = http
        self.team_id = team_id
        self.limit = min(1000, http.settings.page_size or DEFAULT_LIMIT)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _get(self, method: str, operation: str, params: Mapping[str, Any]) -> Any:
        return await self.http.get_json(f"api/{method}", operation=operation, params=params)

    async def _post(self, method: str, operation: str, data: Mapping[str, Any]) -> Any:
        response = await self.http.request("POST", f"api/{method}", operation=operation, data=data)
        return response.json()

    async def _cursor(self, method: str, key: str, operation: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        """Every item under ``key`` of a cursor-paged method, until ``next_cursor`` is empty."""
        cursor = ""
        while True:
            query = {**params, "limit": self.limit} | ({"cursor": cursor} if cursor else {})
            body = await self._get(method, operation, query)
            for item in body.get(key) or ():
                yield item
            cursor = str((body.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return

    async def auth_test(self) -> Mapping[str, Any]:
        """``auth.test``: who the token is."""
        return dict(await self._get("auth.test", "check", {}))

    async def team_info(self) -> SlackTeam:
        """``team.info?team=``: ``NotFound`` (``team_not_found``) when the token cannot see it."""
        return parse_team((await self._get("team.info", "check", {"team": self.team_id}))["team"])

    async def iter_users(self) -> AsyncIterator[SlackUser]:
        """``users.list?team_id=``: members, guests, bots and invitations of the workspace."""
        async for item in self._cursor("users.list", "members", "list_members", {"team_id": self.team_id}):
            yield parse_user(item)

    async def user_info(self, user_id: str) -> SlackUser:
        return parse_user((await self._get("users.info", "get_member", {"user": user_id}))["user"])

    async def lookup_by_email(self, email: str) -> SlackUser:
        """``users.lookupByEmail``; ``NotFound`` (``users_not_found``) when nobody has it."""
        return parse_user((await self._get("users.lookupByEmail", "get_member", {"email": email}))["user"])

    async def iter_channels(self) -> AsyncIterator[SlackChannel]:
        """``conversations.list`` of public, unarchived channels of the workspace."""
        params = {"team_id": self.team_id, "types": "public_channel", "exclude_archived": "true"}
        async for item in self._cursor("conversations.list", "channels", "invite", params):
            yield parse_channel(item)

    async def invite(self, email: str, channel_ids: list[str], *, restricted: bool = False,
                     ultra_restricted: bool = False) -> None:
        """``admin.users.invite`` (``team_id``, ``email``, ``channel_ids``, guest flags)."""
        data = {"team_id": self.team_id, "email": email, "channel_ids": ",".join(channel_ids)}
        if restricted:
            data["is_restricted"] = "true"
        if ultra_restricted:
            data["is_ultra_restricted"] = "true"
        await self._post("admin.users.invite", "invite", data)

    async def remove(self, user_id: str) -> None:
        """``admin.users.remove`` (``team_id``, ``user_id``)."""
        await self._post("admin.users.remove", "remove", {"team_id": self.team_id, "user_id": user_id})

    async def set_role(self, method: str, user_id: str) -> None:
        """``admin.users.setAdmin`` / ``setOwner`` / ``setRegular`` (``team_id``, ``user_id``)."""
        await self._post(method, "change_role", {"team_id": self.team_id, "user_id": user_id})
