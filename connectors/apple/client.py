"""App Store Connect API v1, users and user invitations, typed (JSON:API documents).

Auth: ``Authorization: Bearer <ES256 JWT>`` from ``connectors.apple.auth.TeamToken``, sent per
request (the token is regenerated before it expires, so it cannot be a fixed client header; the
JWT is scrubbed from any error detail). The team is implied by the key: there is no org in paths.

Endpoints (developer.apple.com/documentation/appstoreconnectapi, "Users", "User Invitations"):
``GET /v1/users`` (``filter[username]``, ``limit`` <= 200), ``PATCH /v1/users/{id}`` (attributes
``roles``, ``allAppsVisible``), ``DELETE /v1/users/{id}``, ``GET /v1/userInvitations``
(``filter[email]``, ``limit`` <= 200), ``POST /v1/userInvitations`` (``email``, ``firstName``,
``lastName``, ``roles``, ``allAppsVisible``), ``DELETE /v1/userInvitations/{id}``. Lists page by
``links.next`` (an absolute URL carrying an opaque ``cursor``). Errors are ``{"errors": [{"id",
"status", "code", "title", "detail"}]}``: 401 ``NOT_AUTHORIZED`` (missing, badly signed or expired
JWT) -> ``AuthError``; 403 ``FORBIDDEN_ERROR``; 404 ``NOT_FOUND``; 409 ``ENTITY_ERROR...``; 429
``RATE_LIMIT_EXCEEDED`` when the rolling hourly quota (``X-Rate-Limit: user-hour-lim:N;
user-hour-rem:M;``) is spent, with no ``Retry-After``, so the policy backs off exponentially.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from connectors.apple.auth import TeamToken
from connectors.errors import ConnectorError
from connectors.http import VendorHTTP

__all__ = [
    "BASE_URL",
    "KIND",
    "MAX_LIMIT",
    "AppleClient",
    "AppleInvitation",
    "AppleUser",
    "parse_invitation",
    "parse_user",
]

KIND = "apple"
BASE_URL = "https://api.appstoreconnect.apple.com"
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class AppleUser:
    """A ``users`` resource; ``username`` is the member's Apple Account (an email address)."""

    id: str
    username: str | None
    first_name: str | None
    last_name: str | None
    roles: tuple[str, ...]
    all_apps_visible: bool | None = None


@dataclass(frozen=True, slots=True)
class AppleInvitation:
    """A ``userInvitations`` resource (pending until accepted, then deleted by Apple)."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    roles: tuple[str, ...]
    expiration_date: str | None = None


def parse_user(data: Mapping[str, Any]) -> AppleUser:
    attributes = data.get("attributes") or {}
    return AppleUser(str(data["id"]), attributes.get("username"), attributes.get("firstName"),
                     attributes.get("lastName"), tuple(attributes.get("roles") or ()),
                     attributes.get("allAppsVisible"))


def parse_invitation(data: Mapping[str, Any]) -> AppleInvitation:
    attributes = data.get("attributes") or {}
    return AppleInvitation(str(data["id"]), attributes["email"], attributes.get("firstName"),
                           attributes.get("lastName"), tuple(attributes.get("roles") or ()),
                           attributes.get("expirationDate"))


def _seg(value: str) -> str:
    return quote(value, safe="")


class AppleClient:
    """Calls on the team of ``token``'s key. Every method raises ``connectors.errors`` only."""

    def __init__(self, http: VendorHTTP, token: TeamToken) -> None:
        self.http = http
        self.token = token
        self.limit = min(MAX_LIMIT, http.settings.page_size or MAX_LIMIT)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _request(self, method: str, path: str, operation: str, *,
                       params: Mapping[str, Any] | None = None, json: Any = None) -> httpx.Response:
        bearer = self.token.bearer()
        try:
            return await self.http.request(method, path, operation=operation, params=params, json=json,
                                           headers={"Authorization": f"Bearer {bearer}"})
        except ConnectorError as error:
            raise _scrubbed(error, bearer) from None

    async def _documents(self, path: str, operation: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        """Every resource of a JSON:API collection, following ``links.next``."""
        url: str | None = path
        query: Mapping[str, Any] | None = {**params, "limit": self.limit}
        while url:
            body = (await self._request("GET", url, operation, params=query)).json()
            for item in body.get("data") or ():
                yield item
            url, query = (body.get("links") or {}).get("next"), None

    async def iter_users(self, username: str | None = None) -> AsyncIterator[AppleUser]:
        """``GET /v1/users[?filter[username]=]``."""
        params = {"filter[username]": username} if username else {}
        async for item in self._documents("v1/users", "list_members", params):
            yield parse_user(item)

    async def iter_invitations(self, email: str | None = None) -> AsyncIterator[AppleInvitation]:
        """``GET /v1/userInvitations[?filter[email]=]`` (pending invitations)."""
        params = {"filter[email]": email} if email else {}
        async for item in self._documents("v1/userInvitations", "list_invitations", params):
            yield parse_invitation(item)

    async def update_roles(self, user_id: str, roles: Sequence[str]) -> AppleUser:
        """``PATCH /v1/users/{id}`` with ``attributes.roles``; returns the updated user."""
        document = {"data": {"type": "users", "id": user_id, "attributes": {"roles": list(roles)}}}
        response = await self._request("PATCH", f"v1/users/{_seg(user_id)}", "change_role", json=document)
        return parse_user(response.json()["data"])

    async def delete_user(self, user_id: str) -> None:
        """``DELETE /v1/users/{id}`` -> 204; ``NotFound`` if not on the team."""
        await self._request("DELETE", f"v1/users/{_seg(user_id)}", "remove")

    async def create_invitation(self, email: str, first_name: str, last_name: str,
                                roles: Sequence[str]) -> AppleInvitation:
        """``POST /v1/userInvitations`` -> 201; 409 when ``email`` is already invited or on the team."""
        attributes = {"email": email, "firstName": first_name, "lastName": last_name,
                      "roles": list(roles), "allAppsVisible": True}
        document = {"data": {"type": "userInvitations", "attributes": attributes}}
        response = await self._request("POST", "v1/userInvitations", "invite", json=document)
        return parse_invitation(response.json()["data"])

    async def delete_invitation(self, invitation_id: str) -> None:
        """``DELETE /v1/userInvitations/{id}`` -> 204; ``NotFound`` if no longer pending."""
        await self._request("DELETE", f"v1/userInvitations/{_seg(invitation_id)}", "remove")

    async def probe(self) -> None:
        """``GET /v1/users?limit=1``: proves the key, its signature and its access to users."""
        await self._request("GET", "v1/users", "check", params={"limit": 1})


def _scrubbed(error: ConnectorError, bearer: str) -> ConnectorError:
    """``error`` with the JWT removed from its detail (a vendor echoing it must not leak it)."""
    if bearer and bearer in error.detail:
        error.detail = error.detail.replace(bearer, "***")
        error.args = tuple(str(arg).replace(bearer, "***") for arg in error.args)
    return error
