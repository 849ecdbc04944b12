"""Fake of Atlassian's organization admin API (vendor-apis.md section 7), under ``/atlassian``.

Paths as at ``https://api.atlassian.com`` (see ``connectors/atlassian/client.py`` for sources):
``GET /admin/v1/orgs/{orgId}``, ``GET /admin/v1/orgs/{orgId}/users`` (``cursor``),
``GET /admin/v2/orgs/{orgId}/directories/{directoryId}/users`` (``roleIds``, ``accountIds``, ``limit``,
``cursor``) and ``.../users/{accountId}``, ``POST /admin/v2/orgs/{orgId}/users/invite``,
``POST /admin/v1/orgs/{orgId}/users/{accountId}/role-assignments/assign|revoke``,
``DELETE /admin/v1/orgs/{orgId}/directory/users/{accountId}``,
``POST /admin/v1/orgs/{orgId}/directory/users/{accountId}/suspend-access|restore-access``.

Fidelity: ``Authorization: Bearer <org API key>``; errors ``{"errors": [{"id", "status", "code",
"title", "detail"}]}`` with ``ADMIN-UAM-*`` codes (401 unknown key, 403 an org the key cannot
manage, 404 unknown org/account); v1 pages hold ``PAGE_SIZE`` users and ``links.prev``/``links.next``
are page URLs (``null`` at either end); v2 pages take ``limit`` (1-100) and ``links.next`` is the
bare cursor (``null`` on the last page); 429 + ``Retry-After`` when throttled. The invite endpoint is idempotent per email (an
existing account is answered, not re-invited).

Store mapping: remote id = ``account_id`` (``"5b10"`` + 20 hex digits of the uid); roles
``org-admin`` (platform role ``atlassian/org-admin``) and ``member``; a pending invitee is an
account that never used a product (no ``last_active`` in v1, ``emailVerified: false`` in v2);
``extra["suspended"]`` is set by suspend-access and ``extra["account_status"]`` (default
``active``) may be set in-process to ``inactive``/``closed``.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.fake import KindFake
from connectors.sandbox.store import OrgState, StoredMember

__all__ = ["FAKE", "AtlassianFake"]

ACCOUNT_PREFIX = "5b10"
PAGE_SIZE = 100
ORG_ADMIN = "atlassian/org-admin"
PICTURE = "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/default-avatar.png"
_TITLES = {400: "Bad Request", 401: "Unauthenticated", 403: "Not allowed to manage the org",
           404: "Unknown Resource", 429: "Too Many Requests", 503: "Service Unavailable"}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


class AtlassianFake(KindFake):
    kind = "atlassian"
    demo_org = "4f8c2d1e-7a3b-4c5d-9e6f-0a1b2c3d4e5f"
    owner_role = "org-admin"
    member_role = "member"
    asset_type = "product"
    asset_permission = "atlassian/user"

    # -- KindFake --------------------------------------------------------------------------------

    def remote_id(self, member: StoredMember) -> str:
        return f"{ACCOUNT_PREFIX}{member.uid:020x}"

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        if len(remote_id) != 24 or not remote_id.startswith(ACCOUNT_PREFIX):
            return None
        try:
            return org.members.get(int(remote_id[4:], 16))
        except ValueError:
            return None

    def demo_assets(self) -> Sequence[tuple[str, str]]:
        """None: the connector does not model products or groups as assets."""
        return ()

    def render_rate_limited(self, retry_after: float) -> Response:
        return self._error(429, None, "Rate limit exceeded; retry after the Retry-After delay.",
                           {"Retry-After": f"{retry_after:g}"})

    def render_unavailable(self) -> Response:
        return self._error(503, None, "The service is temporarily unavailable.")

    def render_auth_expired(self) -> Response:
        return self._error(401, "ADMIN-UAM-401-1", "The API key is invalid or has expired.")

    def routes(self) -> Sequence[BaseRoute]:
        v1, v2 = "/admin/v1/orgs/{org_id}", "/admin/v2/orgs/{org_id}"
        directory_user = f"{v1}/directory/users/{{account_id}}"
        return [
            Route(v1, self.get_org, methods=["GET"]),
            Route(f"{v1}/users", self.list_users, methods=["GET"]),
            Route(f"{v1}/users/{{account_id}}/role-assignments/{{action}}", self.role_assignment,
                  methods=["POST"]),
            Route(directory_user, self.remove_from_directory, methods=["DELETE"]),
            Route(f"{directory_user}/{{action}}", self.access, methods=["POST"]),
            Route(f"{v2}/users/invite", self.invite, methods=["POST"]),
            Route(f"{v2}/directories/{{directory_id}}/users", self.list_directory_users, methods=["GET"]),
            Route(f"{v2}/directories/{{directory_id}}/users/{{account_id}}", self.get_directory_user,
                  methods=["GET"]),
        ]

    # -- plumbing --------------------------------------------------------------------------------

    def _error(self, status: int, code: str | None, detail: str,
               headers: dict[str, str] | None = None) -> Response:
        error: dict[str, Any] = {"id": str(uuid.uuid4()), "status": str(status),
                                 "title": _TITLES.get(status, "Error"), "detail": detail}
        if code:
            error["code"] = code
        return JSON({"errors": [error]}, status, headers=headers)

    def _org(self, request: Request) -> OrgState | Response:
        """The org of the path if the key may manage it; else Atlassian's 401/403/404."""
        orgs = self.store.token_orgs(self.kind, self.bearer(request))
        if orgs is None:
            return self._error(401, "ADMIN-UAM-401-1", "The API key is invalid or has expired.")
        org_id = request.path_params["org_id"]
        state = self.store.org(self.kind, org_id)
        if state is None:
            return self._error(404, "ADMIN-UAM-404-2", f"Organization {org_id} not found.")
        if org_id not in orgs:
            return self._error(403, "ADMIN-UAM-403-2", "The API key is not allowed to manage this org.")
        return state

    def _member(self, request: Request) -> tuple[OrgState, StoredMember] | Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        account_id = request.path_params["account_id"]
        member = self.find(org, account_id)
        if member is None:
            return self._error(404, "ADMIN-UAM-404-1", f"User {account_id} not found in the directory.")
        return org, member

    @staticmethod
    def _cursor(path: str, position: int) -> str:
        return base64.urlsafe_b64encode(orjson.dumps({"p": path, "o": position})).decode().rstrip("=")

    @staticmethod
    def _position(path: str, cursor: str | None) -> int | None:
        if not cursor:
            return 0
        try:
            data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            return None
        ok = isinstance(data, dict) and data.get("p") == path and isinstance(data.get("o"), int)
        return int(data["o"]) if ok else None

    def _page(self, request: Request, items: Sequence[Any], size: int,
              next_link: Callable[[str], str]) -> tuple[Sequence[Any], dict[str, str | None]] | Response:
        """Slice by ``cursor``; ``links`` carries ``self`` and ``next`` (``next_link(cursor)``, or
        ``null`` on the last page)."""
        start = self._position(request.url.path, request.query_params.get("cursor"))
        if start is None:
            return self._error(400, "ADMIN-UAM-400-1", "The page cursor is invalid.")
        end = start + size
        links: dict[str, str | None] = {"self": str(request.url), "next": None}
        if end < len(items):
            links["next"] = next_link(self._cursor(request.url.path, end))
        return items[start:end], links

    # -- payloads --------------------------------------------------------------------------------

    def _active(self, member: StoredMember) -> bool:
        return member.status == "active"

    def user_json(self, request: Request, org: OrgState, member: StoredMember) -> dict[str, Any]:
        """A v1 org user: ``last_active``/``product_access`` only once the person used a product."""
        suspended = bool(member.extra.get("suspended"))
        account_id = self.remote_id(member)
        body: dict[str, Any] = {
            "account_id": account_id, "account_type": "atlassian",
            "account_status": member.extra.get("account_status", "active"), "name": member.name,
            "picture": PICTURE, "email": member.email, "access_billable": not suspended,
            "product_access": [], "links": {"self": f"{self._root(request)}/users/{account_id}/manage/profile"},
        }
        if self._active(member):
            seen = _iso(member.created_at)
            body["last_active"] = seen
            if not suspended:
                body["product_access"] = [{"key": "jira-software", "name": "Jira Software",
                                           "url": f"https://{org.org[:8]}.atlassian.net", "last_active": seen}]
        return body

    def directory_user_json(self, request: Request, org: OrgState, member: StoredMember) -> dict[str, Any]:
        """A v2 directory user: ``emailVerified`` is false until an invitee signs up."""
        suspended = bool(member.extra.get("suspended"))
        account_id = self.remote_id(member)
        return {
            "accountId": account_id, "accountType": "atlassian",
            "status": "suspended" if suspended else "active",
            "accountStatus": member.extra.get("account_status", "active"),
            "membershipStatus": "suspended" if suspended else "active",
            "addedToOrg": _iso(member.created_at), "name": member.name,
            "nickname": member.name.split(" ")[0] if member.name else "", "email": member.email,
            "emailVerified": self._active(member), "claimStatus": "managed",
            "platformRoles": [ORG_ADMIN] if member.role == "org-admin" else [], "picture": PICTURE,
            "avatar": PICTURE, "managementSource": "invited", "mfaEnabled": False,
            "counts": {"resources": 0 if suspended else 1},
            "links": {"self": f"{self._root(request)}/admin/v2/orgs/{org.org}/directories/-/users/{account_id}"},
        }

    @staticmethod
    def _root(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"

    # -- v1 --------------------------------------------------------------------------------------

    async def get_org(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        return JSON({"data": {"id": org.org, "type": "orgs", "attributes": {"name": f"Org {org.org}"},
                              "links": {"self": str(request.url)}}})

    async def list_users(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        members = org.listing()

        def next_link(cursor: str) -> str:
            return str(request.url.replace(query=urlencode({"cursor": cursor})))

        paged = self._page(request, members, PAGE_SIZE, next_link)
        if isinstance(paged, Response):
            return paged
        page, links = paged
        start = self._position(request.url.path, request.query_params.get("cursor")) or 0
        links["prev"] = next_link(self._cursor(request.url.path, max(0, start - PAGE_SIZE))) if start else None
        data = [self.user_json(request, org, m) for m in page]
        return JSON({"data": data, "links": links, "meta": {"total": len(members)}})

    async def role_assignment(self, request: Request) -> Response:
        found = self._member(request)
        if isinstance(found, Response):
            return found
        org, member = found
        action, role = request.path_params["action"], (await _body(request)).get("role")
        if action not in ("assign", "revoke"):
            return self._error(404, "ADMIN-UAM-404-1", f"Unknown action {action!r}.")
        if role != ORG_ADMIN:
            return self._error(400, "ADMIN-UAM-400-3", f"Invalid organization role {role!r}.")
        self.store.set_role(self.kind, org.org, member.uid, "org-admin" if action == "assign" else "member")
        return Response(status_code=204)

    async def remove_from_directory(self, request: Request) -> Response:
        found = self._member(request)
        if isinstance(found, Response):
            return found
        org, member = found
        self.store.remove_member(self.kind, org.org, member.uid)
        return Response(status_code=204)

    async def access(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ("suspend-access", "restore-access"):
            return self._error(404, "ADMIN-UAM-404-1", f"Unknown action {action!r}.")
        found = self._member(request)
        if isinstance(found, Response):
            return found
        _, member = found
        with self.store.lock:
            member.extra["suspended"] = action == "suspend-access"
        verb = "suspended" if action == "suspend-access" else "restored"
        return JSON({"message": f"Access for user {self.remote_id(member)} has been {verb}."})

    # -- v2 --------------------------------------------------------------------------------------

    async def invite(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        body = await _body(request)
        emails = body.get("emails")
        if not isinstance(emails, list) or not emails or not all(isinstance(e, str) and "@" in e for e in emails):
            return self._error(400, "ADMIN-UAM-400-1", "emails must be a non-empty list of email addresses.")
        rules = [r for r in body.get("permissionRules") or () if isinstance(r, dict)]
        data = []
        for email in emails:
            member = org.by_email(email) or self.store.add_member(
                self.kind, org.org, email=email, role="member", status="pending")
            results = [{"resource": r.get("resource"), "role": r.get("role"), "status": "INVITED",
                        "statusReason": None} for r in rules]
            data.append({"id": self.remote_id(member), "email": member.email,
                         "results": [{"roleAssignmentResult": results, "groupAssignmentResult": []}]})
        return JSON({"data": data})

    def _directory(self, request: Request) -> OrgState | Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        if request.path_params["directory_id"] not in ("-", f"dir-{org.org}"):
            return self._error(404, "ADMIN-UAM-404-1", "Directory not found.")
        return org

    async def list_directory_users(self, request: Request) -> Response:
        org = self._directory(request)
        if isinstance(org, Response):
            return org
        query = request.query_params
        try:
            limit = int(query.get("limit") or 100)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return self._error(400, "ADMIN-UAM-400-1", "limit must be between 1 and 100.")
        roles, accounts = set(query.getlist("roleIds")), set(query.getlist("accountIds"))
        members = [m for m in org.listing()
                   if (not roles or (ORG_ADMIN in roles and m.role == "org-admin"))
                   and (not accounts or self.remote_id(m) in accounts)]
        paged = self._page(request, members, limit, lambda cursor: cursor)
        if isinstance(paged, Response):
            return paged
        page, links = paged
        return JSON({"data": [self.directory_user_json(request, org, m) for m in page], "links": links})

    async def get_directory_user(self, request: Request) -> Response:
        org = self._directory(request)
        if isinstance(org, Response):
            return org
        found = self._member(request)
        if isinstance(found, Response):
            return found
        return JSON({"data": self.directory_user_json(request, org, found[1])})


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


FAKE = AtlassianFake
