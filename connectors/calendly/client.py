"""Calendly API v2, organization memberships and invitations, typed (vendor-apis.md section 6).

``Authorization: Bearer <personal access token or OAuth token>``. Resources are identified by URIs
(``https://api.calendly.com/organizations/<uuid>``); path parameters take the trailing uuid, and the
``organization`` query parameter takes the whole URI. Envelopes: ``{"resource": {...}}`` for one
object, ``{"collection": [...], "pagination": {"count", "next_page", "previous_page",
"next_page_token", "previous_page_token"}}`` for lists, paged with ``count`` (max 100) and
``page_token``. Errors are ``{"title", "message", "details": [{"parameter", "message"}]}``; 401 ->
``AuthError``; a 429 carries ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining: 0`` /
``X-RateLimit-Reset`` (seconds until the window resets; no ``Retry-After``), which
``connectors.http.retry_after_hint`` turns into ``RateLimited.retry_after``.
Sources: developer.calendly.com/api-docs (organizations: list memberships, list/create/revoke
invitation, remove user; overview/rate-limits).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors.base import Secret
from connectors.http import HTTPSettings, VendorHTTP

__all__ = [
    "BASE_URL",
    "KIND",
    "MAX_COUNT",
    "CalendlyClient",
    "CalendlyInvitation",
    "CalendlyMembership",
    "CalendlyUser",
    "make_http",
    "parse_invitation",
    "parse_membership",
    "parse_user",
    "trailing_uuid",
]

KIND = "calendly"
BASE_URL = "https://api.calendly.com"
MAX_COUNT = 100


def trailing_uuid(uri: str) -> str:
    """The uuid a Calendly URI ends with (``.../organization_memberships/<uuid>`` -> ``<uuid>``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class CalendlyUser:
    uri: str
    email: str
    name: str | None = None
    slug: str | None = None


@dataclass(frozen=True, slots=True)
class CalendlyMembership:
    """``OrganizationMembership``: ``role`` is ``owner|admin|user``."""

    uri: str
    role: str
    user: CalendlyUser
    organization: str

    @property
    def uuid(self) -> str:
        return trailing_uuid(self.uri)


@dataclass(frozen=True, slots=True)
class CalendlyInvitation:
    """``OrganizationInvitation``: ``status`` is ``pending|accepted|declined``; ``user`` is the
    joined user's URI once accepted, else ``None``."""

    uri: str
    email: str
    status: str
    organization: str
    user: str | None = None

    @property
    def uuid(self) -> str:
        return trailing_uuid(self.uri)


def parse_user(data: Mapping[str, Any]) -> CalendlyUser:
    return CalendlyUser(data["uri"], data["email"], data.get("name"), data.get("slug"))


def parse_membership(data: Mapping[str, Any]) -> CalendlyMembership:
    return CalendlyMembership(data["uri"], data["role"], parse_user(data["user"]), data["organization"])


def parse_invitation(data: Mapping[str, Any]) -> CalendlyInvitation:
    return CalendlyInvitation(data["uri"], data["email"], data["status"], data["organization"],
                              data.get("user"))


def make_http(base_url: str, token: Secret, settings: HTTPSettings) -> VendorHTTP:
    """The ``VendorHTTP`` for one Calendly organization."""
    return VendorHTTP(
        KIND, base_url,
        auth_headers={"Authorization": Secret(f"Bearer {token.reveal()}")},
        headers={"Accept": "application/json", "User-Agent": "scim-bridge"},
        settings=settings,
    )


def _seg(value: str) -> str:
    return quote(value, safe="")


class CalendlyClient:
    """Calls on one organization (``org_uuid``). Every method raises ``connectors.errors`` only."""

    def __init__(self, http: VendorHTTP, org_uuid: str) -> None:
        self.http = http
        self.org_uuid = org_uuid
        self.count = min(MAX_COUNT, http.settings.page_size or MAX_COUNT)
        self._org_path = f"organizations/{_seg(org_uuid)}"

    @property
    def org_uri(self) -> str:
        """The organization's URI as Calendly spells it (base URL + ``/organizations/<uuid>``)."""
        return f"{self.http.base_url.rstrip('/')}/{self._org_path}"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _collection(self, path: str, operation: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        """Every item of a ``collection`` listing, following ``pagination.next_page_token``."""
        query: dict[str, Any] = {**params, "count": self.count}
        while True:
            body = await self.http.get_json(path, operation=operation, params=query)
            for item in body.get("collection") or ():
                yield item
            token = (body.get("pagination") or {}).get("next_page_token")
            if not token:
                return
            query["page_token"] = token

    async def iter_memberships(self, email: str | None = None) -> AsyncIterator[CalendlyMembership]:
        """``GET /organization_memberships?organization=<org uri>[&email=]`` (active members)."""
        params = {"organization": self.org_uri} | ({"email": email} if email else {})
        async for item in self._collection("organization_memberships", "list_members", params):
            yield parse_membership(item)

    async def iter_invitations(self, status: str | None = "pending",
                               email: str | None = None) -> AsyncIterator[CalendlyInvitation]:
        """``GET /organizations/{uuid}/invitations[?status=][&email=]``."""
        params = ({"status": status} if status else {}) | ({"email": email} if email else {})
        async for item in self._collection(f"{self._org_path}/invitations", "list_invitations", params):
            yield parse_invitation(item)

    async def create_invitation(self, email: str) -> CalendlyInvitation:
        """``POST /organizations/{uuid}/invitations`` ``{email}`` -> 201 ``{resource}`` (pending).
        Inviting someone already invited or a member is rejected (400/409, ``InvalidRequest``)."""
        response = await self.http.request("POST", f"{self._org_path}/invitations", operation="invite",
                                           json={"email": email})
        return parse_invitation(response.json()["resource"])

    async def revoke_invitation(self, invitation_uuid: str) -> None:
        """``DELETE /organizations/{org_uuid}/invitations/{uuid}`` -> 204; ``NotFound`` if gone."""
        path = f"{self._org_path}/invitations/{_seg(invitation_uuid)}"
        await self.http.request("DELETE", path, operation="remove")

    async def get_membership(self, membership_uuid: str) -> CalendlyMembership:
        """``GET /organization_memberships/{uuid}`` -> ``{resource}``; ``NotFound`` once removed."""
        body = await self.http.get_json(f"organization_memberships/{_seg(membership_uuid)}", operation="get_member")
        return parse_membership(body["resource"])

    async def get_invitation(self, invitation_uuid: str) -> CalendlyInvitation:
        """``GET /organizations/{org_uuid}/invitations/{uuid}`` -> ``{resource}``; ``NotFound`` once revoked."""
        body = await self.http.get_json(f"{self._org_path}/invitations/{_seg(invitation_uuid)}", operation="get_member")
        return parse_invitation(body["resource"])

    async def remove_membership(self, membership_uuid: str) -> None:
        """``DELETE /organization_memberships/{uuid}`` -> 204; ``NotFound`` if gone."""
        await self.http.request("DELETE", f"organization_memberships/{_seg(membership_uuid)}",
                                operation="remove")

    async def probe(self) -> None:
        """One membership page of one item: proves the token and its access to the organization."""
        await self.http.get_json("organization_memberships", operation="check",
                                 params={"organization": self.org_uri, "count": 1})
