"""Fake of the App Store Connect API v1 users and user invitations, under ``/apple``.

Paths as ``https://api.appstoreconnect.apple.com``: ``GET /v1/users``, ``GET|PATCH|DELETE
/v1/users/{id}``, ``GET|POST /v1/userInvitations``, ``GET|DELETE /v1/userInvitations/{id}``.

Auth is verified for real: the bearer must be an ES256 JWT whose header ``kid`` names a seeded team
key, signed by that key's private half (checked with its public key), with ``iss`` = the key's
issuer id, ``aud`` = ``appstoreconnect-v1``, an unexpired ``exp`` at most 20 minutes after ``iat``
(or after now, without ``iat``). Anything else -> 401 ``NOT_AUTHORIZED``.

Team keys (sandbox only -- never a real key): the seed's ``"token"`` is the **key id**. For each key
id the fake derives an EC P-256 key pair deterministically (private scalar = SHA-256 of
``"scim-bridge sandbox apple key:" + key id``, mod the curve order) and an issuer id
(UUID5 of the key id), so tests, the bench and the demo can rebuild the private half anywhere:
``team_credentials(key_id)`` gives ``AutomationAccount(private_key=<PKCS#8 PEM>, key_id=<key id>,
issuer_id=<issuer id>)``, i.e. the connector's account fields ``private_key`` / ``key_id`` /
``issuer_id`` map to the key pair / the seed token / its issuer id. The seed's ``org`` names the
team (the key implies it; a key seeded for several orgs acts on the first, sorted).

Fidelity: JSON:API documents (``data`` / ``links`` / ``meta.paging``); ``limit`` (default 50, max
200, else 400 ``PARAMETER_ERROR.INVALID``) and ``links.next`` with an opaque ``cursor`` (keyset);
``filter[username]`` / ``filter[email]`` / ``filter[roles]``; ``X-Rate-Limit:
user-hour-lim:3600;user-hour-rem:N;`` on every answer; errors ``{"errors": [{"id", "status",
"code", "title", "detail"}]}``; 429 ``RATE_LIMIT_EXCEEDED`` without ``Retry-After``; 409
``ENTITY_ERROR.ATTRIBUTE.INVALID`` for inviting an invited/present email (exact code unverified)
and for assigning, changing or removing the Account Holder.

Store mapping: roles are the connector's keys (one role per member; ``PATCH`` with several roles
stores the highest and keeps the list in ``extra["roles"]``); user id ``5e700000-…-<uid>``,
invitation id ``1b710000-…-<uid>`` (remote id ``inv:<invitation id>``).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import time
import uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from jose.exceptions import JOSEError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.apple.connector import ACCOUNT_HOLDER, ROLES, primary_role
from connectors.base import AutomationAccount, Secret
from connectors.sandbox.fake import KindFake, opaque_token, token_uid
from connectors.sandbox.store import OrgState, StoredMember

__all__ = ["FAKE", "AppleFake", "TeamKey", "team_credentials", "team_key"]

AUDIENCE = "appstoreconnect-v1"
MAX_TOKEN_LIFETIME = 20 * 60
HOURLY_LIMIT = 3600
MAX_LIMIT, DEFAULT_LIMIT = 200, 50
_USER, _INVITATION = "5e700000", "1b710000"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ROLE_KEYS = frozenset(r.key for r in ROLES)


class TeamKey:
    """A sandbox team API key: ``key_id``, ``issuer_id`` and the EC P-256 pair as PEM."""

    __slots__ = ("issuer_id", "key_id", "private_pem", "public_pem")

    def __init__(self, key_id: str) -> None:
        digest = hashlib.sha256(f"scim-bridge sandbox apple key:{key_id}".encode()).digest()
        private = ec.derive_private_key(int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1, ec.SECP256R1())
        self.key_id = key_id
        self.issuer_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"scim-bridge-sandbox:apple:{key_id}"))
        self.private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode()
        self.public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def __repr__(self) -> str:
        return f"TeamKey(key_id={self.key_id!r}, issuer_id={self.issuer_id!r})"


@lru_cache(maxsize=256)
def team_key(key_id: str) -> TeamKey:
    """The sandbox key pair of seed token ``key_id`` (deterministic, see the module docstring)."""
    return TeamKey(key_id)


def team_credentials(key_id: str) -> AutomationAccount:
    """The automation account that signs valid JWTs for the team seeded with token ``key_id``."""
    key = team_key(key_id)
    return AutomationAccount(private_key=Secret(key.private_pem), key_id=key.key_id, issuer_id=key.issuer_id)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(ts))


def apple_id(prefix: str, uid: int) -> str:
    return f"{prefix}-0000-4000-8000-{uid:012x}"


def uid_of(prefix: str, value: str) -> int | None:
    parts = value.split("-")
    if len(parts) != 5 or parts[0] != prefix or parts[1:4] != ["0000", "4000", "8000"]:
        return None
    try:
        return int(parts[4], 16)
    except ValueError:
        return None


def _roles(member: StoredMember) -> list[str]:
    """The member's role set: ``extra["roles"]`` after a multi-role PATCH, else its one role."""
    roles = member.extra.get("roles")
    return [str(r) for r in roles] if isinstance(roles, list) else [member.role]


def _data(document: dict[str, Any]) -> dict[str, Any]:
    data = document.get("data")
    return data if isinstance(data, dict) else {}


def _names(member: StoredMember) -> tuple[str, str]:
    first, _, last = member.name.partition(" ")
    return first or member.name, last or first


class AppleFake(KindFake):
    kind = "apple"
    demo_org = "demo-team"
    owner_role = "ADMIN"
    member_role = "DEVELOPER"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._used = itertools.count(1)

    # -- KindFake --------------------------------------------------------------------------------

    def remote_id(self, member: StoredMember) -> str:
        if member.status == "pending":
            return f"inv:{apple_id(_INVITATION, member.uid)}"
        return apple_id(_USER, member.uid)

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        pending = remote_id.startswith("inv:")
        uid = uid_of(_INVITATION, remote_id[4:]) if pending else uid_of(_USER, remote_id)
        member = org.members.get(uid) if uid is not None else None
        wanted = "pending" if pending else "active"
        return member if member is not None and member.status == wanted else None

    def render_rate_limited(self, retry_after: float) -> Response:
        return self._error(429, "RATE_LIMIT_EXCEEDED", "The request rate limit has been reached.",
                           "We've received too many requests for this API. Please wait and try again "
                           "or slow down your request rate.", remaining=0)

    def render_unavailable(self) -> Response:
        return self._error(500, "UNEXPECTED_ERROR", "An unexpected error occurred.",
                           "An unexpected error occurred on the server side. If this issue continues, "
                           "contact us at https://developer.apple.com/contact/.")

    def render_auth_expired(self) -> Response:
        return self._unauthorized()

    def demo_assets(self) -> Sequence[tuple[str, str]]:
        return ()

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/v1/users", self.list_users, methods=["GET"]),
            Route("/v1/users/{id}", self.user, methods=["GET", "PATCH", "DELETE"]),
            Route("/v1/userInvitations", self.invitations, methods=["GET", "POST"]),
            Route("/v1/userInvitations/{id}", self.invitation, methods=["GET", "DELETE"]),
        ]

    # -- plumbing --------------------------------------------------------------------------------

    def _headers(self, remaining: int | None = None) -> dict[str, str]:
        if remaining is None:
            remaining = HOURLY_LIMIT - next(self._used) % HOURLY_LIMIT
        return {"X-Rate-Limit": f"user-hour-lim:{HOURLY_LIMIT};user-hour-rem:{remaining};"}

    def _json(self, body: Any, status: int = 200) -> Response:
        return JSON(body, status, headers=self._headers())

    def _error(self, status: int, code: str, title: str, detail: str, *, remaining: int | None = None,
               source: dict[str, str] | None = None) -> Response:
        error: dict[str, Any] = {"id": str(uuid.uuid4()), "status": str(status), "code": code,
                                 "title": title, "detail": detail}
        if source:
            error["source"] = source
        return JSON({"errors": [error]}, status, headers=self._headers(remaining))

    def _unauthorized(self) -> Response:
        return self._error(401, "NOT_AUTHORIZED", "Authentication credentials are missing or invalid.",
                           "Provide a properly configured and signed bearer token, and make sure that it "
                           "has not expired. Learn more about Generating Tokens for API Requests "
                           "https://developer.apple.com/go/?id=api-generating-tokens")

    def _not_found(self, what: str, value: str) -> Response:
        return self._error(404, "NOT_FOUND", "The specified resource does not exist",
                           f"There is no resource of type '{what}' with id '{value}'")

    def _param(self, name: str, detail: str) -> Response:
        return self._error(400, "PARAMETER_ERROR.INVALID", "A parameter has an invalid value", detail,
                           source={"parameter": name})

    def _conflict(self, detail: str, pointer: str = "/data/attributes/roles") -> Response:
        return self._error(409, "ENTITY_ERROR.ATTRIBUTE.INVALID",
                           "An attribute value is invalid.", detail, source={"pointer": pointer})

    def _team(self, request: Request) -> OrgState | Response:
        """The team of the bearer JWT's key, after verifying the JWT; else 401 NOT_AUTHORIZED."""
        claims_key = self._verified_key(self.bearer(request))
        if claims_key is None:
            return self._unauthorized()
        orgs = self.store.token_orgs(self.kind, claims_key)
        team = self.store.org(self.kind, min(orgs)) if orgs else None
        return team if team is not None else self._unauthorized()

    def _verified_key(self, token: str | None) -> str | None:
        """The key id of a valid App Store Connect JWT (module docstring), else ``None``."""
        if not token:
            return None
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("alg") != "ES256" or not isinstance(kid, str) or not self.store.token_orgs(self.kind, kid):
                return None
            key = team_key(kid)
            claims = jwt.decode(token, key.public_pem, algorithms=["ES256"], audience=AUDIENCE,
                                issuer=key.issuer_id)
        except (JOSEError, ValueError, TypeError):
            return None
        exp, start = claims.get("exp"), claims.get("iat", time.time())
        if not isinstance(exp, int | float) or exp - start > MAX_TOKEN_LIFETIME:
            return None
        return kid

    def _base(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"

    def _page(self, request: Request, team: OrgState, keep: Callable[[StoredMember], bool],
              ) -> tuple[list[StoredMember], dict[str, Any], dict[str, Any]] | Response:
        """One keyset page: the members, the document's ``links`` and ``meta``."""
        q = request.query_params
        try:
            limit = int(q.get("limit") or DEFAULT_LIMIT)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return self._param("limit", f"The limit must be between 1 and {MAX_LIMIT}.")
        after = token_uid("uid", q["cursor"]) if q.get("cursor") else 0
        if after is None:
            return self._param("cursor", "The cursor is invalid.")
        with self.store.lock:
            listing = team.listing()
            start = bisect.bisect_right(listing, after, key=lambda m: m.uid)
            matching = [m for m in listing if keep(m)] if not q.get("cursor") else None
            page = list(itertools.islice((listing[i] for i in range(start, len(listing)) if keep(listing[i])),
                                         limit + 1))
        links: dict[str, Any] = {"self": str(request.url)}
        if len(page) > limit:
            page = page[:limit]
            links["next"] = str(request.url.include_query_params(cursor=opaque_token("uid", page[-1].uid), limit=limit))
        paging: dict[str, Any] = {"limit": limit}
        if matching is not None:
            paging["total"] = len(matching)
        return page, links, {"paging": paging}

    # -- payloads --------------------------------------------------------------------------------

    def user_json(self, base: str, member: StoredMember) -> dict[str, Any]:
        first, last = _names(member)
        user_id = apple_id(_USER, member.uid)
        return {"type": "users", "id": user_id,
                "attributes": {"username": member.email, "firstName": first, "lastName": last,
                               "roles": _roles(member),
                               "allAppsVisible": bool(member.extra.get("allAppsVisible", True)),
                               "provisioningAllowed": False},
                "relationships": {"visibleApps": {"links": {
                    "self": f"{base}/v1/users/{user_id}/relationships/visibleApps",
                    "related": f"{base}/v1/users/{user_id}/visibleApps"}}},
                "links": {"self": f"{base}/v1/users/{user_id}"}}

    def invitation_json(self, base: str, member: StoredMember) -> dict[str, Any]:
        first, last = _names(member)
        invitation_id = apple_id(_INVITATION, member.uid)
        return {"type": "userInvitations", "id": invitation_id,
                "attributes": {"email": member.email, "firstName": first, "lastName": last,
                               "expirationDate": _iso(member.created_at + 3 * 86400),
                               "roles": [member.role], "allAppsVisible": True, "provisioningAllowed": False},
                "relationships": {"visibleApps": {"links": {
                    "related": f"{base}/v1/userInvitations/{invitation_id}/visibleApps"}}},
                "links": {"self": f"{base}/v1/userInvitations/{invitation_id}"}}

    # -- users -----------------------------------------------------------------------------------

    async def list_users(self, request: Request) -> Response:
        team = self._team(request)
        if isinstance(team, Response):
            return team
        usernames = {u.casefold() for u in _csv(request, "filter[username]")}
        roles = set(_csv(request, "filter[roles]"))

        def keep(m: StoredMember) -> bool:
            return (m.status == "active" and (not usernames or m.email.casefold() in usernames)
                    and (not roles or bool(roles & set(_roles(m)))))

        return self._collection(request, team, keep, self.user_json)

    def _collection(self, request: Request, team: OrgState, keep: Callable[[StoredMember], bool],
                    render: Callable[[str, StoredMember], dict[str, Any]]) -> Response:
        result = self._page(request, team, keep)
        if isinstance(result, Response):
            return result
        page, links, meta = result
        base = self._base(request)
        return self._json({"data": [render(base, m) for m in page], "links": links, "meta": meta})

    async def user(self, request: Request) -> Response:
        team = self._team(request)
        if isinstance(team, Response):
            return team
        user_id = request.path_params["id"]
        member = self.find(team, user_id)
        if member is None:
            return self._not_found("users", user_id)
        if request.method == "GET":
            return self._json({"data": self.user_json(self._base(request), member),
                               "links": {"self": str(request.url)}})
        if member.role == ACCOUNT_HOLDER:
            return self._conflict("The Account Holder cannot be changed or removed through the API.")
        if request.method == "DELETE":
            self.store.remove_member(self.kind, team.org, member.uid)
            return Response(status_code=204, headers=self._headers())
        return self._patch_user(request, team, member, await _body(request))

    def _patch_user(self, request: Request, team: OrgState, member: StoredMember,
                    document: dict[str, Any]) -> Response:
        data = _data(document)
        if data.get("type") != "users" or data.get("id") != apple_id(_USER, member.uid):
            return self._conflict("The resource type or id does not match the request path.", "/data")
        attributes = data.get("attributes") or {}
        roles = attributes.get("roles")
        if roles is not None:
            if not isinstance(roles, list) or not roles or not set(roles) <= _ROLE_KEYS - {ACCOUNT_HOLDER}:
                return self._conflict(f"The roles {roles!r} are invalid or cannot be assigned.")
            self.store.set_role(self.kind, team.org, member.uid, primary_role(roles))
            member.extra["roles"] = list(roles) if len(roles) > 1 else None
        if isinstance(attributes.get("allAppsVisible"), bool):
            member.extra["allAppsVisible"] = attributes["allAppsVisible"]
        return self._json({"data": self.user_json(self._base(request), member),
                           "links": {"self": str(request.url)}})

    # -- invitations -----------------------------------------------------------------------------

    async def invitations(self, request: Request) -> Response:
        team = self._team(request)
        if isinstance(team, Response):
            return team
        if request.method == "POST":
            return self._create_invitation(request, team, await _body(request))
        emails = {e.casefold() for e in _csv(request, "filter[email]")}
        roles = set(_csv(request, "filter[roles]"))

        def keep(m: StoredMember) -> bool:
            return (m.status == "pending" and (not emails or m.email.casefold() in emails)
                    and (not roles or m.role in roles))

        return self._collection(request, team, keep, self.invitation_json)

    def _create_invitation(self, request: Request, team: OrgState, document: dict[str, Any]) -> Response:
        data = _data(document)
        attributes = data.get("attributes") or {}
        email, roles = attributes.get("email"), attributes.get("roles")
        if data.get("type") != "userInvitations" or not isinstance(email, str) or "@" not in email:
            return self._conflict("The email address is missing or invalid.", "/data/attributes/email")
        if not attributes.get("firstName") or not attributes.get("lastName"):
            return self._conflict("firstName and lastName are required.", "/data/attributes/firstName")
        if not isinstance(roles, list) or not roles or not set(roles) <= _ROLE_KEYS - {ACCOUNT_HOLDER}:
            return self._conflict(f"The roles {roles!r} are invalid or cannot be assigned.")
        if team.by_email(email) is not None:
            return self._conflict(f"{email} has already been invited or is already a member of this team.",
                                  "/data/attributes/email")
        name = f"{attributes['firstName']} {attributes['lastName']}"
        member = self.store.add_member(self.kind, team.org, email=email, name=name,
                                       role=primary_role(roles), status="pending")
        return JSON({"data": self.invitation_json(self._base(request), member),
                     "links": {"self": f"{self._base(request)}/v1/userInvitations"}}, 201, headers=self._headers())

    async def invitation(self, request: Request) -> Response:
        team = self._team(request)
        if isinstance(team, Response):
            return team
        invitation_id = request.path_params["id"]
        member = self.find(team, f"inv:{invitation_id}")
        if member is None:
            return self._not_found("userInvitations", invitation_id)
        if request.method == "GET":
            return self._json({"data": self.invitation_json(self._base(request), member),
                               "links": {"self": str(request.url)}})
        self.store.remove_member(self.kind, team.org, member.uid)
        return Response(status_code=204, headers=self._headers())


def _csv(request: Request, name: str) -> list[str]:
    return [v for raw in request.query_params.getlist(name) for v in raw.split(",") if v]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


FAKE = AppleFake
