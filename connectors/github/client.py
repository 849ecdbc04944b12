"""GitHub organization REST API, typed (vendor-apis.md section 3; docs.github.com/rest/orgs).

Headers: ``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version: 2022-11-28``,
``Authorization: Bearer <token>``. Listings page with ``per_page`` (max 100) and the RFC 8288 ``Link``
header; its ``rel="last"`` link numbers the pages, so the next few are requested ahead. Errors are ``{"message", "documentation_url"}`` mapped by ``connectors.http``: 401 Bad
credentials -> ``AuthError``; 403/429 with ``x-ratelimit-remaining: 0`` or ``retry-after`` ->
``RateLimited``; 404 (also for what the token cannot see) -> ``NotFound``; 422 -> ``InvalidRequest``
(``vendor_code`` = ``errors[0].code``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from connectors.base import Secret
from connectors.errors import NotFound
from connectors.http import HTTPSettings, VendorHTTP, iter_numbered_pages

__all__ = [
    "API_VERSION",
    "BASE_URL",
    "KIND",
    "GitHubClient",
    "GitHubCollaborator",
    "GitHubInvitation",
    "GitHubMembership",
    "GitHubOrg",
    "GitHubRepo",
    "GitHubUser",
    "make_http",
    "parse_collaborator",
    "parse_invitation",
    "parse_membership",
    "parse_org",
    "parse_repo",
    "parse_user",
]

KIND = "github"
BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class GitHubUser:
    """A ``simple-user``; ``name``/``email`` are the public profile values, often null."""

    login: str
    id: int
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class GitHubOrg:
    login: str
    id: int


@dataclass(frozen=True, slots=True)
class GitHubInvitation:
    """``organization-invitation``: ``role`` is ``admin|direct_member|billing_manager|...``."""

    id: int
    login: str | None
    email: str | None
    role: str
    created_at: str


@dataclass(frozen=True, slots=True)
class GitHubMembership:
    """``org-membership``: ``state`` active|pending, ``role`` admin|member|billing_manager."""

    state: str
    role: str
    user: GitHubUser


@dataclass(frozen=True, slots=True)
class GitHubRepo:
    id: int
    name: str
    full_name: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class GitHubCollaborator:
    """A repo collaborator; ``role_name`` is ``read|triage|write|maintain|admin`` or a custom role."""

    user: GitHubUser
    role_name: str
    permissions: Mapping[str, bool] = field(default_factory=dict)


def parse_user(data: Mapping[str, Any]) -> GitHubUser:
    return GitHubUser(data["login"], int(data["id"]), data.get("name"), data.get("email"))


def parse_org(data: Mapping[str, Any]) -> GitHubOrg:
    return GitHubOrg(data["login"], int(data["id"]))


def parse_invitation(data: Mapping[str, Any]) -> GitHubInvitation:
    return GitHubInvitation(int(data["id"]), data.get("login"), data.get("email"), data["role"],
                            data.get("created_at") or "")


def parse_membership(data: Mapping[str, Any]) -> GitHubMembership:
    return GitHubMembership(data["state"], data["role"], parse_user(data["user"]))


def parse_repo(data: Mapping[str, Any]) -> GitHubRepo:
    return GitHubRepo(int(data["id"]), data["name"], data["full_name"], data.get("description"))


def parse_collaborator(data: Mapping[str, Any]) -> GitHubCollaborator:
    return GitHubCollaborator(parse_user(data), data["role_name"], dict(data.get("permissions") or {}))


def make_http(base_url: str, token: Secret, settings: HTTPSettings) -> VendorHTTP:
    """The ``VendorHTTP`` for one GitHub app (org), with GitHub's headers."""
    return VendorHTTP(
        KIND, base_url,
        auth_headers={"Authorization": Secret(f"Bearer {token.reveal()}")},
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
                 "User-Agent": "scim-bridge"},
        settings=settings,
    )


def _seg(value: str) -> str:
    return quote(value, safe="")


class GitHubClient:
    """Calls on one organization. Every method raises ``connectors.errors`` types only."""

    def __init__(self, http: VendorHTTP, org: str) -> None:
        self.http = http
        self.org = org
        self.per_page = min(MAX_PER_PAGE, http.settings.page_size or MAX_PER_PAGE)
        self._org_path = f"orgs/{_seg(org)}"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _items(self, path: str, operation: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        query = {**params, "per_page": self.per_page}
        async for response in iter_numbered_pages(self.http, path, operation=operation, params=query):
            for item in orjson.loads(response.content):
                yield item

    async def get_org(self) -> GitHubOrg:
        """``GET /orgs/{org}``."""
        return parse_org(await self.http.get_json(self._org_path, operation="check"))

    async def iter_members(self, role: str = "all") -> AsyncIterator[GitHubUser]:
        """``GET /orgs/{org}/members?role=all|admin|member`` (active members only)."""
        async for item in self.iter_member_items(role):
            yield parse_user(item)

    def iter_member_items(self, role: str = "all") -> AsyncIterator[dict[str, Any]]:
        """``iter_members`` as the decoded ``simple-user`` objects, for a listing of the whole org
        that reads a few fields of each (no object built per member in between)."""
        return self._items(f"{self._org_path}/members", "list_members", {"role": role})

    async def iter_invitations(self) -> AsyncIterator[GitHubInvitation]:
        """``GET /orgs/{org}/invitations`` (pending invitations)."""
        async for item in self._items(f"{self._org_path}/invitations", "list_invitations", {}):
            yield parse_invitation(item)

    async def get_membership(self, username: str) -> GitHubMembership:
        path = f"{self._org_path}/memberships/{_seg(username)}"
        return parse_membership(await self.http.get_json(path, operation="get_membership"))

    async def set_membership(self, username: str, role: str) -> GitHubMembership:
        """``PUT /orgs/{org}/memberships/{username}`` ``{role}``: idempotent on GitHub's side."""
        path = f"{self._org_path}/memberships/{_seg(username)}"
        response = await self.http.request("PUT", path, operation="change_role", json={"role": role})
        return parse_membership(response.json())

    async def remove_membership(self, username: str) -> None:
        """``DELETE /orgs/{org}/memberships/{username}``; ``NotFound`` if not a member."""
        path = f"{self._org_path}/memberships/{_seg(username)}"
        await self.http.request("DELETE", path, operation="remove")

    async def create_invitation(self, email: str, role: str) -> GitHubInvitation:
        """``POST /orgs/{org}/invitations`` ``{email, role}`` -> 201; 422 if already invited/member."""
        response = await self.http.request("POST", f"{self._org_path}/invitations", operation="invite",
                                           json={"email": email, "role": role})
        return parse_invitation(response.json())

    async def cancel_invitation(self, invitation_id: int) -> None:
        """``DELETE /orgs/{org}/invitations/{invitation_id}``; ``NotFound`` if not pending."""
        await self.http.request("DELETE", f"{self._org_path}/invitations/{invitation_id}", operation="remove")

    async def iter_repos(self) -> AsyncIterator[GitHubRepo]:
        """``GET /orgs/{org}/repos``."""
        async for item in self._items(f"{self._org_path}/repos", "list_assets", {"type": "all"}):
            yield parse_repo(item)

    async def iter_collaborators(self, repo: str, affiliation: str = "direct") -> AsyncIterator[GitHubCollaborator]:
        """``GET /repos/{org}/{repo}/collaborators?affiliation=``."""
        path = f"repos/{_seg(self.org)}/{_seg(repo)}/collaborators"
        async for item in self._items(path, "list_permissions", {"affiliation": affiliation}):
            yield parse_collaborator(item)

    async def add_collaborator(self, repo: str, username: str, permission: str) -> None:
        """``PUT /repos/{org}/{repo}/collaborators/{username}`` ``{permission}`` -> 201 or 204."""
        path = f"repos/{_seg(self.org)}/{_seg(repo)}/collaborators/{_seg(username)}"
        await self.http.request("PUT", path, operation="grant", json={"permission": permission})

    async def is_collaborator(self, repo: str, username: str) -> bool:
        """``GET /repos/{org}/{repo}/collaborators/{username}`` -> 204 (yes) or 404 (no)."""
        path = f"repos/{_seg(self.org)}/{_seg(repo)}/collaborators/{_seg(username)}"
        try:
            await self.http.request("GET", path, operation="verify")
        except NotFound:
            return False
        return True

    async def remove_collaborator(self, repo: str, username: str) -> None:
        """``DELETE /repos/{org}/{repo}/collaborators/{username}`` -> 204."""
        path = f"repos/{_seg(self.org)}/{_seg(repo)}/collaborators/{_seg(username)}"
        await self.http.request("DELETE", path, operation="revoke")
