"""Fake of Slack's Web API (vendor-apis.md section 4b), under ``/slack``: ``/api/<method>``.

Methods: ``auth.test``, ``team.info``, ``users.list``, ``users.info``, ``users.lookupByEmail``,
``conversations.list``, ``admin.users.list``, ``admin.users.invite``, ``admin.users.remove``,
``admin.users.setAdmin`` / ``setOwner`` / ``setRegular``. Arguments come from the query, a form body
or a JSON body; the token from ``Authorization: Bearer`` or the ``token`` argument.

Fidelity: logical errors are HTTP 200 ``{"ok": false, "error": "<code>"}`` (``not_authed``,
``invalid_auth``, ``token_expired``, ``team_not_found``, ``user_not_found``, ``users_not_found``,
``channel_not_found``, ``already_in_team``, ``already_invited``, ``invalid_limit``,
``invalid_cursor``, ``invalid_arguments``); throttling is HTTP 429 + ``Retry-After`` (seconds) with
``{"ok": false, "error": "ratelimited"}``; outages are 503. Cursor paging: ``limit`` (1..1000,
``invalid_limit`` otherwise), ``cursor``, ``response_metadata.next_cursor`` (``""`` at the end)
holding ``base64("user:<next id>")`` as Slack's do. Invited users are user records with
``is_invited_user: true`` (and ``deleted: true`` until they accept), as ``users.list`` shows them.

Store mapping: remote id = user id ``U<hex>`` (unchanged on acceptance); roles ``primary_owner``,
``owner``, ``admin``, ``member``, ``multi_channel_guest``, ``single_channel_guest``; the org is the
workspace ``team_id``. Each workspace has ``#general`` and ``#random``.
"""

from __future__ import annotations

import base64
import bisect
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.fake import KindFake, _seconds
from connectors.sandbox.store import OrgState, StoredMember

USER_ID_BASE = 0x10000000
ROLE_FLAGS = {
    "primary_owner": ("is_primary_owner", "is_owner", "is_admin"),
    "owner": ("is_owner", "is_admin"),
    "admin": ("is_admin",),
    "member": (),
    "multi_channel_guest": ("is_restricted",),
    "single_channel_guest": ("is_restricted", "is_ultra_restricted"),
}
FLAGS = ("is_admin", "is_owner", "is_primary_owner", "is_restricted", "is_ultra_restricted")
SETTERS = {"admin.users.setAdmin": "admin", "admin.users.setOwner": "owner", "admin.users.setRegular": "member"}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class SlackError(Exception):
    """An ``{"ok": false, "error": code}`` answer (HTTP 200)."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code, self.extra = code, extra


Args = dict[str, str]
Handler = Callable[[OrgState | None, set[str], Args], Awaitable[dict[str, Any]]]


def user_id(uid: int) -> str:
    return f"U{USER_ID_BASE + uid:X}"


def _uid(value: str) -> int | None:
    try:
        return int(value[1:], 16) - USER_ID_BASE if value.startswith(("U", "W")) else None
    except ValueError:
        return None


class SlackFake(KindFake):
    kind = "slack"
    demo_org = "T0ACME0001"
    owner_role = "owner"
    member_role = "member"
    asset_type = "channel"
    asset_permission = "member"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._views: dict[str, tuple[object, list[StoredMember], list[int]]] = {}
        self._methods: dict[str, Handler] = {
            "auth.test": self.auth_test, "team.info": self.team_info, "users.list": self.users_list,
            "users.info": self.users_info, "users.lookupByEmail": self.lookup_by_email,
            "conversations.list": self.conversations_list, "admin.users.list": self.admin_users_list,
            "admin.users.invite": self.admin_invite, "admin.users.remove": self.admin_remove,
            **{name: self._setter(role) for name, role in SETTERS.items()},
        }

    # -- KindFake --------------------------------------------------------------------------------

    def remote_id(self, member: StoredMember) -> str:
        return user_id(member.uid)

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        uid = _uid(remote_id)
        return org.members.get(uid) if uid is not None else None

    def render_rate_limited(self, retry_after: float) -> Response:
        return JSON({"ok": False, "error": "ratelimited"}, 429, headers={"Retry-After": _seconds(retry_after)})

    def render_unavailable(self) -> Response:
        return JSON({"ok": False, "error": "service_unavailable"}, 503)

    def render_auth_expired(self) -> Response:
        return JSON({"ok": False, "error": "token_expired"})

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/api/{method}", self.dispatch, methods=["GET", "POST"])]

    # -- plumbing --------------------------------------------------------------------------------

    async def dispatch(self, request: Request) -> Response:
        handler = self._methods.get(request.path_params["method"])
        if handler is None:
            return JSON({"ok": False, "error": "unknown_method"}, 404)
        try:
            args = await _args(request)
            token = self.bearer(request) or args.pop("token", None)
            if not token:
                raise SlackError("not_authed")
            orgs = self.store.token_orgs(self.kind, token)
            if orgs is None:
                raise SlackError("invalid_auth")
            body = await handler(self._team(orgs, args), orgs, args)
        except SlackError as error:
            return JSON({"ok": False, "error": error.code, **error.extra})
        return JSON({"ok": True, **body})

    def _team(self, orgs: set[str], args: Args) -> OrgState | None:
        """The workspace named by ``team_id`` / ``team`` (or the token's only one), if any."""
        team = args.get("team_id") or args.get("team")
        if not team and len(orgs) == 1:
            team = next(iter(orgs))
        return self.store.org(self.kind, team) if team in orgs else None

    @staticmethod
    def _need_team(org: OrgState | None, args: Args) -> OrgState:
        if org is not None:
            return org
        if not (args.get("team_id") or args.get("team")):
            raise SlackError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] missing required field: team_id"]})
        raise SlackError("team_not_found")

    def _member(self, org: OrgState, value: str | None) -> StoredMember:
        uid = _uid(value or "")
        member = org.members.get(uid) if uid is not None else None
        if member is None:
            raise SlackError("user_not_found")
        return member

    def _members(self, org: OrgState) -> tuple[list[StoredMember], list[int]]:
        listing = org.listing()
        cached = self._views.get(org.org)
        if cached is None or cached[0] is not listing:
            cached = (listing, listing, [m.uid for m in listing])
            self._views[org.org] = cached
        return cached[1], cached[2]

    @staticmethod
    def _page(args: Args, items: Sequence[Any], keys: Sequence[int]) -> tuple[Sequence[Any], str]:
        """Slice by ``cursor`` (``base64("user:<id>")`` of the first item to return) and ``limit``."""
        try:
            limit = int(args.get("limit") or 0) or 100
        except ValueError:
            raise SlackError("invalid_limit") from None
        if not 1 <= limit <= 1000:
            raise SlackError("invalid_limit")
        start = 0
        if args.get("cursor"):
            try:
                uid = _uid(base64.b64decode(args["cursor"]).decode().removeprefix("user:"))
            except ValueError:
                uid = None
            if uid is None:
                raise SlackError("invalid_cursor")
            start = bisect.bisect_left(keys, uid)
        page = items[start:start + limit]
        more = start + limit < len(items)
        cursor = base64.b64encode(f"user:{user_id(keys[start + limit])}".encode()).decode() if more else ""
        return page, cursor

    # -- payloads --------------------------------------------------------------------------------

    def user_json(self, org: OrgState, m: StoredMember) -> dict[str, Any]:
        flags = dict.fromkeys(FLAGS, False) | dict.fromkeys(ROLE_FLAGS.get(m.role, ()), True)
        name = m.login or m.email.split("@", 1)[0]
        invited = m.status == "pending"
        body: dict[str, Any] = {
            "id": user_id(m.uid), "team_id": org.org, "name": name, "deleted": invited, "color": "9f69e7",
            "real_name": m.name, "tz": "Europe/London", "tz_label": "Greenwich Mean Time", "tz_offset": 0,
            "profile": {"real_name": m.name, "display_name": "" if invited else name, "email": m.email,
                        "image_24": "https://a.slack-edge.com/80588/img/avatars/ava_0024-24.png",
                        "team": org.org},
            **flags, "is_bot": False, "is_app_user": False, "updated": int(m.created_at),
            "is_email_confirmed": not invited, "has_2fa": False,
        }
        if invited:
            body["is_invited_user"] = True
        return body

    def channels(self, org: OrgState) -> list[dict[str, Any]]:
        suffix = org.org[1:]
        return [{"id": f"C{suffix}GEN", "name": "general", "is_channel": True, "is_general": True,
                 "is_archived": False, "is_private": False, "context_team_id": org.org, "num_members": 0},
                {"id": f"C{suffix}RND", "name": "random", "is_channel": True, "is_general": False,
                 "is_archived": False, "is_private": False, "context_team_id": org.org, "num_members": 0}]

    # -- methods ---------------------------------------------------------------------------------

    async def auth_test(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        team = org.org if org is not None else min(orgs) if orgs else ""
        return {"url": f"https://{team.lower()}.slack.com/", "team": f"Workspace {team}", "user": "bridge-admin",
                "team_id": team, "user_id": "U00000000", "enterprise_id": "E0ACME", "is_enterprise_install": False}

    async def team_info(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        org = self._need_team(org, args)
        return {"team": {"id": org.org, "name": f"Workspace {org.org}", "domain": org.org.lower(),
                         "email_domain": "", "enterprise_id": "E0ACME", "enterprise_name": "Acme Grid",
                         "icon": {"image_default": True}}}

    async def users_list(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        org = self._need_team(org, args)
        members, uids = self._members(org)
        page, cursor = self._page(args, members, uids)
        return {"members": [self.user_json(org, m) for m in page], "cache_ts": int(time.time()),
                "response_metadata": {"next_cursor": cursor}}

    async def admin_users_list(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        org = self._need_team(org, args)
        members, uids = self._members(org)
        page, cursor = self._page(args, members, uids)
        rows = [{k: v for k, v in self.user_json(org, m).items() if k in ("id", *FLAGS, "is_bot")}
                | {"email": m.email} for m in page if m.status == "active"]
        return {"users": rows, "response_metadata": {"next_cursor": cursor}}

    async def users_info(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        for team in sorted(orgs):
            state = self.store.org(self.kind, team)
            uid = _uid(args.get("user", ""))
            if state is not None and uid is not None and uid in state.members:
                return {"user": self.user_json(state, state.members[uid])}
        raise SlackError("user_not_found")

    async def lookup_by_email(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        for team in sorted(orgs):
            state = self.store.org(self.kind, team)
            member = state.by_email(args.get("email", "")) if state is not None else None
            if state is not None and member is not None:
                return {"user": self.user_json(state, member)}
        raise SlackError("users_not_found")

    async def conversations_list(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        org = self._need_team(org, args)
        return {"channels": self.channels(org), "response_metadata": {"next_cursor": ""}}

    async def admin_invite(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        org = self._need_team(org, args)
        email, channels = args.get("email", ""), [c for c in args.get("channel_ids", "").split(",") if c]
        if "@" not in email:
            raise SlackError("invalid_email")
        if not channels:
            raise SlackError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] missing required field: channel_ids"]})
        if not set(channels) <= {c["id"] for c in self.channels(org)}:
            raise SlackError("channel_not_found")
        existing = org.by_email(email)
        if existing is not None:
            raise SlackError("already_invited" if existing.status == "pending" else "already_in_team")
        role = ("single_channel_guest" if _true(args.get("is_ultra_restricted"))
                else "multi_channel_guest" if _true(args.get("is_restricted")) else "member")
        self.store.add_member(self.kind, org.org, email=email, name=args.get("real_name", ""), role=role,
                              status="pending")
        return {}

    async def admin_remove(self, org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
        org = self._need_team(org, args)
        member = self._member(org, args.get("user_id"))
        self.store.remove_member(self.kind, org.org, member.uid)
        return {}

    def _setter(self, role: str) -> Handler:
        """``admin.users.setAdmin`` / ``setOwner`` / ``setRegular``: give ``user_id`` ``role``."""

        async def set_role(org: OrgState | None, orgs: set[str], args: Args) -> dict[str, Any]:
            org = self._need_team(org, args)
            member = self._member(org, args.get("user_id"))
            self.store.set_role(self.kind, org.org, member.uid, role)
            return {}

        return set_role


async def _args(request: Request) -> Args:
    args = dict(request.query_params)
    raw = await request.body()
    if raw:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = orjson.loads(raw)
            args |= {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, list | dict) else str(v).lower()
                     for k, v in data.items()}
        else:
            args |= dict(parse_qsl(raw.decode(), keep_blank_values=True))
    return args


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


FAKE = SlackFake
