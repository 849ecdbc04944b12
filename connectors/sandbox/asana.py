"""Fake of Asana's REST API 1.0 (vendor-apis.md section 5), under ``/asana``.

Paths as at ``https://app.asana.com``, all under ``/api/1.0`` (so the sandbox base of the kind is
``http://HOST:PORT/asana/api/1.0``; the connector also accepts ``http://HOST:PORT/asana``): ``/workspaces/{workspace_gid}``,
``/workspaces/{workspace_gid}/workspace_memberships``, ``/workspaces/{workspace_gid}/addUser``,
``/workspaces/{workspace_gid}/removeUser``, ``/workspaces/{workspace_gid}/projects``,
``/memberships`` (GET ``?parent=&member=``, POST), ``/memberships/{membership_gid}`` (PUT, DELETE).

Fidelity: ``Authorization: Bearer``; 401 ``Not Authorized`` for an unknown token; 403 for a
workspace the token cannot act on, 404 for one that does not exist; every body is
``{"data": ...}`` and every error ``{"errors": [{"message", "help"}]}`` (5xx add ``phrase``);
listings page with ``limit`` (1-100) and an opaque ``offset`` token, ``next_page`` is
``{"offset", "path", "uri"}`` or ``null`` on the last page, and a listing without ``limit`` over
1,000 records is refused as Asana does; ``opt_fields`` projects records (``gid`` always kept);
429 + ``Retry-After`` when throttled.

The quirk a connector must live with, mirrored on purpose: ``addUser`` with an unknown email invites
that person, and the invitee's workspace membership is ``is_active: true`` straight away, exactly
like an accepted member (the store still says ``pending`` until ``/_sandbox/asana/accept``).
``addUser`` of someone present changes nothing and returns them.

Store mapping: remote id = user gid (``USER_GID_BASE + uid``); roles ``admin``/``member``/``guest``
(``is_admin``/``is_guest``); assets are projects whose gid is the asset id; grants are project
``access_level`` values; a project membership's gid encodes (member uid, project position).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.fake import KindFake
from connectors.sandbox.store import OrgState, StoredAsset, StoredMember

__all__ = ["FAKE", "AsanaFake"]

API_PATH = "/api/1.0"
HELP = ("For more information on API status codes and how to handle them, read the docs on errors: "
        "https://developers.asana.com/docs/errors")
USER_GID_BASE = 1_200_000_000_000_000
WORKSPACE_MEMBERSHIP_GID_BASE = 1_300_000_000_000_000
MEMBERSHIP_GID_BASE = 3_000_000_000_000_000
MEMBERSHIP_SPAN = 100_000  # projects per workspace the membership gid can encode
ACCESS_LEVELS = ("admin", "editor", "commenter", "viewer")
UNPAGED_LIMIT = 1000
_TOO_LARGE = "The result is too large. You should use pagination (may require specifying a workspace)!"


class JSON(Response):
    media_type = "application/json; charset=UTF-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def project(record: dict[str, Any], opt_fields: str | None) -> dict[str, Any]:
    """Asana's ``opt_fields``: ``gid`` plus the listed (dotted) paths; ``None`` keeps the record."""
    if opt_fields is None:
        return record
    out: dict[str, Any] = {"gid": record["gid"]}
    for path in filter(None, (p.strip() for p in opt_fields.split(","))):
        head, _, rest = path.partition(".")
        if head not in record:
            continue
        value = record[head]
        if isinstance(value, dict):
            nested = out.setdefault(head, {"gid": value["gid"]} if "gid" in value else {})
            if rest and rest in value:
                nested[rest] = value[rest]
        else:
            out[head] = value
    return out


class AsanaFake(KindFake):
    kind = "asana"
    demo_org = "1201234567890123"
    owner_role = "admin"
    member_role = "member"
    asset_type = "project"
    asset_permission = "editor"

    # -- KindFake --------------------------------------------------------------------------------

    def remote_id(self, member: StoredMember) -> str:
        return str(USER_GID_BASE + member.uid)

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        if not remote_id.isdigit():
            return None
        return org.members.get(int(remote_id) - USER_GID_BASE)

    def demo_assets(self) -> Sequence[tuple[str, str]]:
        return (("1202000000000001", "Website"), ("1202000000000002", "Mobile app"))

    def render_rate_limited(self, retry_after: float) -> Response:
        return self._error(429, "You have made too many requests recently. Please, be chill.",
                           {"Retry-After": f"{retry_after:g}"})

    def render_unavailable(self) -> Response:
        return self._error(503, "Service Unavailable", phrase="6 sad squid snuggle softly")

    def render_auth_expired(self) -> Response:
        return self._error(401, "Not Authorized")

    def routes(self) -> Sequence[BaseRoute]:
        ws = f"{API_PATH}/workspaces/{{workspace_gid}}"
        return [
            Route(ws, self.get_workspace, methods=["GET"]),
            Route(f"{ws}/workspace_memberships", self.list_workspace_memberships, methods=["GET"]),
            Route(f"{ws}/addUser", self.add_user, methods=["POST"]),
            Route(f"{ws}/removeUser", self.remove_user, methods=["POST"]),
            Route(f"{ws}/projects", self.list_projects, methods=["GET"]),
            Route(f"{API_PATH}/memberships", self.memberships, methods=["GET", "POST"]),
            Route(f"{API_PATH}/memberships/{{membership_gid}}", self.membership, methods=["PUT", "DELETE"]),
        ]

    # -- plumbing --------------------------------------------------------------------------------

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None,
               phrase: str | None = None) -> Response:
        error: dict[str, str] = {"message": message, "help": HELP}
        if phrase:
            error["phrase"] = phrase
        return JSON({"errors": [error]}, status, headers=headers)

    def _orgs(self, request: Request) -> set[str] | Response:
        orgs = self.store.token_orgs(self.kind, self.bearer(request))
        return self._error(401, "Not Authorized") if orgs is None else orgs

    def _workspace(self, request: Request) -> OrgState | Response:
        """The workspace of the path if the token may act on it; else Asana's 401/403/404."""
        orgs = self._orgs(request)
        if isinstance(orgs, Response):
            return orgs
        gid = request.path_params["workspace_gid"]
        state = self.store.org(self.kind, gid)
        if state is None:
            return self._error(404, f"workspace: Unknown object: {gid}")
        return state if gid in orgs else self._error(403, "Forbidden")

    def _page(self, request: Request, items: Sequence[Any]) -> tuple[Sequence[Any], Any] | Response:
        """Slice by ``limit``/``offset``; returns ``(page, next_page)`` or Asana's 400."""
        query = request.query_params
        raw_limit, offset = query.get("limit"), query.get("offset")
        if raw_limit is None and offset is None:
            if len(items) > UNPAGED_LIMIT:
                return self._error(400, _TOO_LARGE)
            return items, None
        try:
            limit = int(raw_limit or 20)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return self._error(400, "limit: Must be between 1 and 100")
        start = self._decode_offset(request.url.path, offset) if offset else 0
        if start is None:
            return self._error(400, "offset: Your pagination token is invalid")
        end = start + limit
        return items[start:end], self._next_page(request, end, limit) if end < len(items) else None

    @staticmethod
    def _encode_offset(path: str, position: int) -> str:
        raw = orjson.dumps({"p": path, "o": position})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode_offset(path: str, token: str) -> int | None:
        try:
            data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("p") != path or not isinstance(data.get("o"), int):
            return None
        return int(data["o"])

    def _next_page(self, request: Request, position: int, limit: int) -> dict[str, str]:
        """``next_page``: ``path`` is relative to the API base (``/api/1.0``), ``uri`` absolute."""
        prefix = request.scope.get("root_path", "") + API_PATH
        full = request.url.path
        relative = full.removeprefix(prefix)
        token = self._encode_offset(full, position)
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
        path = f"{relative}?{urlencode([*params, ('limit', str(limit)), ('offset', token)])}"
        return {"offset": token, "path": path, "uri": f"{request.url.scheme}://{request.url.netloc}{prefix}{path}"}

    def _listing(self, request: Request, records: Iterable[dict[str, Any]] | Sequence[Any],
                 render: Any = None) -> Response:
        items = records if isinstance(records, Sequence) else list(records)
        paged = self._page(request, items)
        if isinstance(paged, Response):
            return paged
        page, next_page = paged
        opt_fields = request.query_params.get("opt_fields")
        data = [project(render(item) if render else item, opt_fields) for item in page]
        return JSON({"data": data, "next_page": next_page})

    # -- payloads --------------------------------------------------------------------------------

    def user_json(self, member: StoredMember) -> dict[str, Any]:
        return {"gid": self.remote_id(member), "resource_type": "user", "name": member.name,
                "email": member.email, "photo": None}

    def workspace_json(self, org: OrgState) -> dict[str, Any]:
        return {"gid": org.org, "resource_type": "workspace", "name": f"Workspace {org.org}",
                "email_domains": sorted({m.email.rsplit("@", 1)[-1] for m in org.listing()[:50]}),
                "is_organization": True}

    def workspace_membership_json(self, org: OrgState, member: StoredMember) -> dict[str, Any]:
        """Invitees are ``is_active: true`` too: Asana does not tell them apart."""
        return {
            "gid": str(WORKSPACE_MEMBERSHIP_GID_BASE + member.uid), "resource_type": "workspace_membership",
            "user": {"gid": self.remote_id(member), "resource_type": "user", "name": member.name,
                     "email": member.email},
            "workspace": {"gid": org.org, "resource_type": "workspace", "name": f"Workspace {org.org}"},
            "is_active": True, "is_admin": member.role == "admin", "is_guest": member.role == "guest",
            "is_view_only": False,
            "user_task_list": {"gid": str(USER_GID_BASE * 2 + member.uid), "resource_type": "user_task_list",
                               "name": "My Tasks"},
            "created_at": _iso(member.created_at),
        }

    def compact_workspace_membership(self, org: OrgState, member: StoredMember) -> dict[str, Any]:
        record = self.workspace_membership_json(org, member)
        record["user"] = {k: v for k, v in record["user"].items() if k != "email"}
        return record

    def project_json(self, asset: StoredAsset) -> dict[str, Any]:
        return {"gid": asset.id, "resource_type": "project", "name": asset.name}

    def membership_json(self, org: OrgState, asset: StoredAsset, member: StoredMember) -> dict[str, Any]:
        position = list(org.assets).index(asset.id)
        return {
            "gid": str(MEMBERSHIP_GID_BASE + member.uid * MEMBERSHIP_SPAN + position),
            "resource_type": "membership", "resource_subtype": "project_membership",
            "parent": {"gid": asset.id, "resource_type": "project", "name": asset.name},
            "member": {"gid": self.remote_id(member), "resource_type": "user", "name": member.name},
            "access_level": asset.grants[member.uid],
        }

    # -- workspace and members -------------------------------------------------------------------

    async def get_workspace(self, request: Request) -> Response:
        org = self._workspace(request)
        if isinstance(org, Response):
            return org
        return JSON({"data": project(self.workspace_json(org), request.query_params.get("opt_fields"))})

    def _user(self, org: OrgState, ref: str) -> StoredMember | None:
        """A workspace member by gid or email (Asana's "user" identifier)."""
        return org.by_email(ref) if "@" in ref else self.find(org, ref)

    async def list_workspace_memberships(self, request: Request) -> Response:
        org = self._workspace(request)
        if isinstance(org, Response):
            return org
        ref = request.query_params.get("user")
        if ref is not None:
            member = self._user(org, ref)
            members: Sequence[StoredMember] = [member] if member is not None else []
        else:
            members = org.listing()
        render = (lambda m: self.workspace_membership_json(org, m)) if request.query_params.get(
            "opt_fields") else (lambda m: self.compact_workspace_membership(org, m))
        return self._listing(request, members, render)

    async def add_user(self, request: Request) -> Response:
        org = self._workspace(request)
        if isinstance(org, Response):
            return org
        ref = (await _data(request)).get("user")
        if not isinstance(ref, str) or not ref:
            return self._error(400, "user: Missing input")
        member = self._user(org, ref)
        if member is None and "@" not in ref:
            return self._error(404, f"user: Unknown object: {ref}")
        if member is None:
            member = self.store.add_member(self.kind, org.org, email=ref, role="member", status="pending")
        return JSON({"data": self.user_json(member)})

    async def remove_user(self, request: Request) -> Response:
        org = self._workspace(request)
        if isinstance(org, Response):
            return org
        ref = (await _data(request)).get("user")
        if not isinstance(ref, str) or not ref:
            return self._error(400, "user: Missing input")
        member = self._user(org, ref)
        if member is None:
            return self._error(404, f"user: Unknown object: {ref}")
        self.store.remove_member(self.kind, org.org, member.uid)
        return JSON({"data": {}})

    # -- projects and memberships ----------------------------------------------------------------

    async def list_projects(self, request: Request) -> Response:
        org = self._workspace(request)
        if isinstance(org, Response):
            return org
        return self._listing(request, list(org.assets.values()), self.project_json)

    def _project(self, orgs: set[str], gid: str) -> tuple[OrgState, StoredAsset] | None:
        for name in orgs:
            org = self.store.org(self.kind, name)
            if org is not None and gid in org.assets:
                return org, org.assets[gid]
        return None

    def _decode_membership(self, orgs: set[str], gid: str) -> tuple[OrgState, StoredAsset, StoredMember] | None:
        if not gid.isdigit() or int(gid) < MEMBERSHIP_GID_BASE:
            return None
        uid, position = divmod(int(gid) - MEMBERSHIP_GID_BASE, MEMBERSHIP_SPAN)
        for name in orgs:
            org = self.store.org(self.kind, name)
            if org is None or uid not in org.members or position >= len(org.assets):
                continue
            asset = org.assets[list(org.assets)[position]]
            if uid in asset.grants:
                return org, asset, org.members[uid]
        return None

    async def memberships(self, request: Request) -> Response:
        orgs = self._orgs(request)
        if isinstance(orgs, Response):
            return orgs
        if request.method == "POST":
            return await self._create_membership(request, orgs)
        parent = request.query_params.get("parent")
        if not parent:
            return self._error(400, "parent: Missing input")
        found = self._project(orgs, parent)
        if found is None:
            return self._error(404, f"parent: Unknown object: {parent}")
        org, asset = found
        member_ref = request.query_params.get("member")
        uids = [uid for uid in asset.grants
                if member_ref is None or self.remote_id(org.members[uid]) == member_ref]
        return self._listing(request, uids, lambda uid: self.membership_json(org, asset, org.members[uid]))

    async def _create_membership(self, request: Request, orgs: set[str]) -> Response:
        data = await _data(request)
        parent, member_ref, level = data.get("parent"), data.get("member"), data.get("access_level", "editor")
        found = self._project(orgs, str(parent)) if parent else None
        if found is None:
            return self._error(400 if not parent else 404, f"parent: Unknown object: {parent}")
        org, asset = found
        member = self.find(org, str(member_ref)) if member_ref else None
        if member is None:
            return self._error(400, f"member: Not a recognized ID: {member_ref}")
        if level not in ACCESS_LEVELS:
            return self._error(400, f"access_level: Invalid value {level!r}")
        if member.uid in asset.grants:
            return self._error(400, "member: The user is already a member of this project")
        self.store.grant(self.kind, org.org, asset.id, member.uid, level)
        return JSON({"data": self.membership_json(org, asset, member)}, 201)

    async def membership(self, request: Request) -> Response:
        orgs = self._orgs(request)
        if isinstance(orgs, Response):
            return orgs
        gid = request.path_params["membership_gid"]
        found = self._decode_membership(orgs, gid)
        if found is None:
            return self._error(404, f"membership: Unknown object: {gid}")
        org, asset, member = found
        if request.method == "DELETE":
            self.store.revoke(self.kind, org.org, asset.id, member.uid)
            return JSON({"data": {}})
        level = (await _data(request)).get("access_level")
        if level not in ACCESS_LEVELS:
            return self._error(400, f"access_level: Invalid value {level!r}")
        self.store.grant(self.kind, org.org, asset.id, member.uid, level)
        return JSON({"data": self.membership_json(org, asset, member)})


async def _data(request: Request) -> dict[str, Any]:
    """The ``data`` object of an Asana request body (``{}`` when absent or malformed)."""
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


FAKE = AsanaFake
