"""Fake of GitHub's organization REST API (vendor-apis.md section 3), under ``/github``.

Paths as ``https://api.github.com``: ``/orgs/{org}``, ``/orgs/{org}/members``,
``/orgs/{org}/memberships/{username}`` (GET/PUT/DELETE), ``/orgs/{org}/members/{username}`` (DELETE),
``/orgs/{org}/invitations`` (GET/POST), ``/orgs/{org}/invitations/{id}`` (DELETE),
``/orgs/{org}/repos``, ``/repos/{owner}/{repo}/collaborators[/{username}]`` (GET/PUT/DELETE).

Fidelity: ``Authorization: Bearer|token``; 401 ``Bad credentials``; 404 for orgs the token cannot
see; errors ``{"message", "documentation_url", "status"}``, 422 with ``errors[]``; ``per_page``
(default 30, clamped to 100) + ``page`` with an RFC 8288 ``Link`` header; ``x-ratelimit-*`` on every
response; rate limits alternate primary (403 + ``x-ratelimit-remaining: 0`` + reset) and secondary
(429 + ``retry-after``). Members carry their public ``name``/``email`` (simple-user allows both).

Store mapping: active member remote id = login; pending invitation remote id = ``inv:<id>``; roles
``admin``/``member``; repo grants are the ``permission`` values ``pull|triage|push|maintain|admin``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.fake import KindFake
from connectors.sandbox.store import OrgState, StoredMember

DOCS = "https://docs.github.com/rest"
USER_ID_BASE = 1_000_000
INVITATION_ID_BASE = 5_000_000
PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
ROLE_NAMES = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain", "admin": "admin"}
INVITE_ROLES = {"admin": "admin", "direct_member": "member", "billing_manager": "billing_manager",
                "reinstate": "member"}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class GitHubFake(KindFake):
    kind = "github"
    demo_org = "acme"
    owner_role = "admin"
    member_role = "member"
    asset_type = "repository"
    asset_permission = "push"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._used = itertools.count(1)
        self._limited = itertools.count()

    # -- KindFake --------------------------------------------------------------------------------

    def remote_id(self, member: StoredMember) -> str:
        if member.status == "pending":
            return f"inv:{INVITATION_ID_BASE + member.uid}"
        return member.login or ""

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        if remote_id.startswith("inv:"):
            member = org.members.get(int(remote_id[4:]) - INVITATION_ID_BASE) if remote_id[4:].isdigit() else None
            return member if member is not None and member.status == "pending" else None
        return org.by_login(remote_id)

    def demo_assets(self) -> Sequence[tuple[str, str]]:
        return (("website", "website"), ("mobile-app", "mobile-app"))

    def render_rate_limited(self, retry_after: float) -> Response:
        if next(self._limited) % 2 == 0:  # primary: 403, remaining 0, wait until reset
            reset = math.ceil(time.time() + retry_after)
            return self._error(403, "API rate limit exceeded for user ID 1.",
                               {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
        return self._error(429, "You have exceeded a secondary rate limit. Please wait a few minutes "
                           "before you try again.", {"retry-after": f"{retry_after:g}"})

    def render_unavailable(self) -> Response:
        return self._error(503, "Server Error")

    def render_auth_expired(self) -> Response:
        return self._error(401, "Bad credentials")

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/orgs/{org}", self.get_org, methods=["GET"]),
            Route("/orgs/{org}/members", self.list_members, methods=["GET"]),
            Route("/orgs/{org}/members/{username}", self.delete_member, methods=["DELETE"]),
            Route("/orgs/{org}/memberships/{username}", self.membership, methods=["GET", "PUT", "DELETE"]),
            Route("/orgs/{org}/invitations", self.invitations, methods=["GET", "POST"]),
            Route("/orgs/{org}/invitations/{invitation_id}", self.cancel_invitation, methods=["DELETE"]),
            Route("/orgs/{org}/repos", self.list_repos, methods=["GET"]),
            Route("/repos/{org}/{repo}/collaborators", self.list_collaborators, methods=["GET"]),
            Route("/repos/{org}/{repo}/collaborators/{username}", self.collaborator,
                  methods=["GET", "PUT", "DELETE"]),
        ]

    # -- plumbing --------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        used = next(self._used) % 5000
        return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": str(5000 - used),
                "x-ratelimit-used": str(used), "x-ratelimit-reset": str(int(time.time()) + 3600),
                "x-ratelimit-resource": "core", "x-github-api-version-selected": "2022-11-28"}

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return JSON(body, status, headers=self._headers() | (headers or {}))

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None,
               errors: list[dict[str, str]] | None = None) -> Response:
        body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
        if errors:
            body["errors"] = errors
        return self._json(body, status, headers)

    def _no_content(self) -> Response:
        return Response(status_code=204, headers=self._headers())

    def _invalid(self, resource: str, field: str, code: str, message: str) -> Response:
        return self._error(422, "Validation Failed",
                           errors=[{"resource": resource, "field": field, "code": code, "message": message}])

    def _org(self, request: Request) -> OrgState | Response:
        """The org the path names, if the bearer token may see it; else the vendor's 401/404."""
        orgs = self.store.token_orgs(self.kind, self.bearer(request))
        if orgs is None:
            return self._error(401, "Bad credentials")
        org_id = request.path_params["org"]
        state = self.store.org(self.kind, org_id) if org_id in orgs else None
        return state if state is not None else self._error(404, "Not Found")

    def _api(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"

    def _page(self, request: Request, items: Sequence[Any]) -> tuple[Sequence[Any], dict[str, str]]:
        """Slice ``items`` by ``page``/``per_page`` and build the ``Link`` header."""
        q = request.query_params
        per_page = max(1, min(100, int(q.get("per_page") or 30)))
        page = max(1, int(q.get("page") or 1))
        last = max(1, math.ceil(len(items) / per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                query = urlencode({**q, "per_page": per_page, "page": number})
                links.append(f'<{request.url.replace(query=query)}>; rel="{rel}"')
        headers = {"link": ", ".join(links)} if links else {}
        return items[(page - 1) * per_page: page * per_page], headers

    # -- payloads --------------------------------------------------------------------------------

    def user_json(self, api: str, member: StoredMember) -> dict[str, Any]:
        login = member.login or ""
        url = f"{api}/users/{login}"
        return {
            "login": login, "id": USER_ID_BASE + member.uid, "node_id": f"U_kgDO{member.uid:08d}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{USER_ID_BASE + member.uid}?v=4",
            "gravatar_id": "", "url": url, "html_url": f"https://github.com/{login}",
            "followers_url": f"{url}/followers", "repos_url": f"{url}/repos",
            "organizations_url": f"{url}/orgs", "type": "User", "site_admin": False,
            "name": member.name, "email": member.email,
        }

    def org_json(self, api: str, org: str) -> dict[str, Any]:
        url = f"{api}/orgs/{org}"
        return {"login": org, "id": 9_000_000 + sum(map(ord, org)), "node_id": f"O_kgDO{org}",
                "url": url, "repos_url": f"{url}/repos", "members_url": f"{url}/members{{/member}}",
                "avatar_url": "https://avatars.githubusercontent.com/u/9000000?v=4",
                "description": f"The {org} organization"}

    def invitation_json(self, api: str, org: str, member: StoredMember) -> dict[str, Any]:
        invitation_id = INVITATION_ID_BASE + member.uid
        return {
            "id": invitation_id, "node_id": f"OI_kwDO{invitation_id}", "login": member.login,
            "email": member.email, "role": "direct_member" if member.role == "member" else member.role,
            "created_at": _iso(member.created_at), "failed_at": None, "failed_reason": None,
            "inviter": {"login": f"{org}-admin", "id": USER_ID_BASE, "type": "User", "site_admin": False},
            "team_count": 0, "invitation_source": "member",
            "invitation_teams_url": f"{api}/organizations/{org}/invitations/{invitation_id}/teams",
        }

    def membership_json(self, api: str, org: str, member: StoredMember) -> dict[str, Any]:
        return {"url": f"{api}/orgs/{org}/memberships/{member.login}", "state": member.status,
                "role": member.role, "organization_url": f"{api}/orgs/{org}",
                "organization": self.org_json(api, org), "user": self.user_json(api, member)}

    def repo_json(self, api: str, org: str, repo_id: str, name: str) -> dict[str, Any]:
        return {"id": 7_000_000 + sum(map(ord, repo_id)), "node_id": f"R_kgDO{repo_id}", "name": repo_id,
                "full_name": f"{org}/{repo_id}", "private": True, "owner": {"login": org, "type": "Organization"},
                "html_url": f"https://github.com/{org}/{repo_id}", "description": name, "fork": False,
                "url": f"{api}/repos/{org}/{repo_id}", "visibility": "private"}

    def collaborator_json(self, api: str, member: StoredMember, permission: str) -> dict[str, Any]:
        rank = PERMISSIONS.index(permission) if permission in PERMISSIONS else 0
        flags = {p: PERMISSIONS.index(p) <= rank for p in ("pull", "triage", "push", "maintain", "admin")}
        return self.user_json(api, member) | {
            "permissions": flags, "role_name": ROLE_NAMES.get(permission, permission)}

    # -- org and members -------------------------------------------------------------------------

    async def get_org(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        return self._json(self.org_json(self._api(request), org.org))

    async def list_members(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        role = request.query_params.get("role", "all")
        if role not in ("all", "admin", "member"):
            return self._invalid("Organization", "role", "invalid", f"role {role!r} is invalid")
        page, headers = self._page(request, self._active(org, role))
        api = self._api(request)
        return self._json([self.user_json(api, m) for m in page], headers=headers)

    def _active(self, org: OrgState, role: str) -> list[StoredMember]:
        """Active members in listing order, of ``role`` (``all``: any); filtered once per change
        of the org, not once per page."""
        with self.store.lock:
            return org.view(f"active:{role}", lambda ms: [m for m in ms if m.status == "active" and role in ("all", m.role)])

    async def delete_member(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        member = org.by_login(request.path_params["username"])
        if member is None or member.status != "active":
            return self._error(404, "Not Found")
        self.store.remove_member(self.kind, org.org, member.uid)
        return self._no_content()

    async def membership(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        member = org.by_login(request.path_params["username"])
        if member is None:
            return self._error(404, "Not Found")
        if request.method == "DELETE":
            self.store.remove_member(self.kind, org.org, member.uid)
            return self._no_content()
        if request.method == "PUT":
            role = (await _body(request)).get("role", "member")
            if role not in ("admin", "member"):
                return self._invalid("Membership", "role", "invalid", f"role {role!r} is invalid")
            self.store.set_role(self.kind, org.org, member.uid, role)
        return self._json(self.membership_json(self._api(request), org.org, member))

    # -- invitations -----------------------------------------------------------------------------

    async def invitations(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        api = self._api(request)
        if request.method == "GET":
            with self.store.lock:
                pending = org.view("pending", lambda ms: [m for m in ms if m.status == "pending"])
            page, headers = self._page(request, pending)
            return self._json([self.invitation_json(api, org.org, m) for m in page], headers=headers)
        return self._create_invitation(api, org, await _body(request))

    def _create_invitation(self, api: str, org: OrgState, body: dict[str, Any]) -> Response:
        role = body.get("role", "direct_member")
        email = body.get("email")
        if role not in INVITE_ROLES:
            return self._invalid("OrganizationInvitation", "role", "invalid", f"role {role!r} is invalid")
        if not isinstance(email, str) or "@" not in email:
            code = "missing_field" if email is None else "invalid"
            return self._invalid("OrganizationInvitation", "email", code, "email is missing or invalid")
        existing = org.by_email(email)
        if existing is not None:
            what = "already invited" if existing.status == "pending" else "already a part of this organization"
            return self._invalid("OrganizationInvitation", "email", "already_exists", f"Invitee is {what}")
        member = self.store.add_member(self.kind, org.org, email=email, role=INVITE_ROLES[role],
                                       status="pending")
        return self._json(self.invitation_json(api, org.org, member), 201)

    async def cancel_invitation(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        member = self.find(org, f"inv:{request.path_params['invitation_id']}")
        if member is None:
            return self._error(404, "Not Found")
        self.store.remove_member(self.kind, org.org, member.uid)
        return self._no_content()

    # -- repositories ----------------------------------------------------------------------------

    async def list_repos(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        api = self._api(request)
        page, headers = self._page(request, list(org.assets.values()))
        return self._json([self.repo_json(api, org.org, a.id, a.name) for a in page], headers=headers)

    async def list_collaborators(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        asset = org.assets.get(request.path_params["repo"])
        if asset is None:
            return self._error(404, "Not Found")
        affiliation = request.query_params.get("affiliation", "all")
        grants = [(org.members[uid], p) for uid, p in asset.grants.items()]
        if affiliation == "all":
            granted = set(asset.grants)
            grants += [(m, "admin") for m in self._active(org, "admin") if m.uid not in granted]
        elif affiliation == "outside":
            grants = []
        page, headers = self._page(request, grants)
        api = self._api(request)
        return self._json([self.collaborator_json(api, m, p) for m, p in page], headers=headers)

    async def collaborator(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        asset = org.assets.get(request.path_params["repo"])
        member = org.by_login(request.path_params["username"])
        if asset is None or member is None or member.status != "active":
            return self._error(404, "Not Found")
        if request.method == "GET":  # "check if a user is a repository collaborator": 204 or 404
            return self._no_content() if member.uid in asset.grants else self._error(404, "Not Found")
        if request.method == "DELETE":
            self.store.revoke(self.kind, org.org, asset.id, member.uid)
            return self._no_content()
        permission = (await _body(request)).get("permission", "push")
        if permission not in PERMISSIONS:
            return self._invalid("Repository", "permission", "invalid", f"permission {permission!r} is invalid")
        self.store.grant(self.kind, org.org, asset.id, member.uid, permission)
        return self._no_content()  # 204: an organization member added as a collaborator


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = orjson.loads(raw) if raw else {}
    return data if isinstance(data, dict) else {}


FAKE = GitHubFake
