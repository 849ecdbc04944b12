"""Fake of Calendly's API v2 organization endpoints (vendor-apis.md section 6), under ``/calendly``.

Paths as ``https://api.calendly.com``: ``GET /organization_memberships?organization=<uri>``,
``GET|DELETE /organization_memberships/{uuid}``, ``GET|POST /organizations/{uuid}/invitations``,
``GET|DELETE /organizations/{org_uuid}/invitations/{uuid}``.

Fidelity: ``Authorization: Bearer``; URIs built on the request's base (so the sandbox's URIs point
back at the sandbox, as production's point at api.calendly.com); ``{"resource"}`` and
``{"collection", "pagination"}`` envelopes; ``count`` (default 20, max 100, else 400) and an opaque
``page_token`` (keyset, so removals while paging skip no one); ``email`` and ``status`` filters;
errors ``{"title", "message"[, "details"]}``: 401 Unauthenticated, 403 Permission Denied (an org the
token may not see; removing the owner), 404 Resource Not Found, 400 Invalid Argument (bad params;
inviting someone already invited or a member -- the exact code is unverified, 400 or 409);
``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` on every answer, and a rate limit is 429 with
``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset`` (seconds) and no ``Retry-After``.

Store mapping: the seed's ``org`` is the organization uuid; roles ``owner|admin|user``; an active
member's remote id is its membership uuid, a pending invitation's is ``inv:<invitation uuid>``
(ids derive from the store uid: membership ``…-4000-a000-<uid>``, invitation ``…-4000-b000-<uid>``,
user ``…-4000-c000-<uid>``). An accepted invitation (``/_sandbox/calendly/accept``) becomes a
membership and, when it was created through the API, lists with status ``accepted``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.fake import KindFake, opaque_token, token_uid
from connectors.sandbox.store import OrgState, StoredMember

RATE_LIMIT = 500
MAX_COUNT, DEFAULT_COUNT = 100, 20
_MEMBERSHIP, _INVITATION, _USER = "a000", "b000", "c000"


class JSON(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"


def calendly_uuid(tag: str, uid: int) -> str:
    """The uuid of store member ``uid`` as a membership / invitation / user (``tag``)."""
    return f"00000000-0000-4000-{tag}-{uid:012x}"


def uid_of(tag: str, value: str) -> int | None:
    parts = value.split("-")
    if len(parts) != 5 or parts[3] != tag or parts[:3] != ["00000000", "0000", "4000"]:
        return None
    try:
        return int(parts[4], 16)
    except ValueError:
        return None


class CalendlyFake(KindFake):
    kind = "calendly"
    demo_org = "ACMEORGANIZATION"
    owner_role = "owner"
    member_role = "user"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._used = itertools.count(1)

    # -- KindFake --------------------------------------------------------------------------------

    def remote_id(self, member: StoredMember) -> str:
        if member.status == "pending":
            return f"inv:{calendly_uuid(_INVITATION, member.uid)}"
        return calendly_uuid(_MEMBERSHIP, member.uid)

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        if remote_id.startswith("inv:"):
            uid = uid_of(_INVITATION, remote_id[4:])
            status = "pending"
        else:
            uid, status = uid_of(_MEMBERSHIP, remote_id), "active"
        member = org.members.get(uid) if uid is not None else None
        return member if member is not None and member.status == status else None

    def render_rate_limited(self, retry_after: float) -> Response:
        reset = str(math.ceil(retry_after))
        return JSON({"title": "Too Many Requests", "message": "You have exceeded the rate limit. "
                     "Please wait and try again."}, 429,
                    headers={"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": "0",
                             "X-RateLimit-Reset": reset})

    def render_unavailable(self) -> Response:
        return self._error(500, "Internal Server Error", "The server encountered an unexpected "
                           "condition that prevented it from fulfilling the request.")

    def render_auth_expired(self) -> Response:
        return self._error(401, "Unauthenticated", "The access token expired")

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/organization_memberships", self.list_memberships, methods=["GET"]),
            Route("/organization_memberships/{uuid}", self.membership, methods=["GET", "DELETE"]),
            Route("/organizations/{org}/invitations", self.invitations, methods=["GET", "POST"]),
            Route("/organizations/{org}/invitations/{uuid}", self.invitation, methods=["GET", "DELETE"]),
        ]

    # -- plumbing --------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        used = next(self._used) % RATE_LIMIT
        return {"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": str(RATE_LIMIT - used),
                "X-RateLimit-Reset": "60"}

    def _json(self, body: Any, status: int = 200) -> Response:
        return JSON(body, status, headers=self._headers())

    def _error(self, status: int, title: str, message: str,
               details: list[dict[str, str]] | None = None) -> Response:
        body: dict[str, Any] = {"title": title, "message": message}
        if details:
            body["details"] = details
        return self._json(body, status)

    def _invalid(self, parameter: str, message: str) -> Response:
        return self._error(400, "Invalid Argument", "The supplied parameters are invalid.",
                           [{"parameter": parameter, "message": message}])

    def _not_found(self) -> Response:
        return self._error(404, "Resource Not Found", "The server could not find the requested resource.")

    def _token_orgs(self, request: Request) -> set[str] | Response:
        orgs = self.store.token_orgs(self.kind, self.bearer(request))
        return orgs if orgs is not None else self._error(401, "Unauthenticated", "The access token is invalid")

    def _org(self, request: Request, org_id: str) -> OrgState | Response:
        """The organization ``org_id`` if the bearer token belongs to it; else 401 / 403 / 404."""
        orgs = self._token_orgs(request)
        if isinstance(orgs, Response):
            return orgs
        state = self.store.org(self.kind, org_id)
        if state is None:
            return self._not_found()
        if org_id not in orgs:
            return self._error(403, "Permission Denied", "You do not have permission to access this resource.")
        return state

    def _api(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"

    def _page(self, request: Request, org: OrgState, keep: Callable[[StoredMember], bool],
              ) -> tuple[list[StoredMember], dict[str, Any]] | Response:
        """One keyset page of ``org``'s members that ``keep`` selects, and its ``pagination``."""
        q = request.query_params
        try:
            count = int(q.get("count") or DEFAULT_COUNT)
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_COUNT:
            return self._invalid("count", f"must be between 1 and {MAX_COUNT}")
        after = token_uid("after", q["page_token"]) if q.get("page_token") else 0
        if after is None:
            return self._invalid("page_token", "is invalid")
        with self.store.lock:
            listing = org.listing()
            start = bisect.bisect_right(listing, after, key=lambda m: m.uid)
            page = list(itertools.islice((m for m in _from(listing, start) if keep(m)), count + 1))
        more = len(page) > count
        page = page[:count]
        token = opaque_token("after", page[-1].uid) if more else None
        next_page = str(request.url.include_query_params(page_token=token, count=count)) if token else None
        previous = q.get("page_token")
        return page, {"count": len(page), "next_page": next_page, "next_page_token": token,
                      "previous_page": str(request.url) if previous else None,
                      "previous_page_token": previous or None}

    # -- payloads --------------------------------------------------------------------------------

    def org_uri(self, api: str, org: str) -> str:
        return f"{api}/organizations/{org}"

    def user_json(self, api: str, member: StoredMember) -> dict[str, Any]:
        slug = member.login or member.email.split("@", 1)[0]
        created = _iso(member.created_at)
        return {"uri": f"{api}/users/{calendly_uuid(_USER, member.uid)}", "name": member.name,
                "slug": slug, "email": member.email, "scheduling_url": f"https://calendly.com/{slug}",
                "timezone": "America/New_York",
                "avatar_url": f"https://assets.calendly.com/avatars/{slug}.png", "created_at": created,
                "updated_at": created}

    def membership_json(self, api: str, org: str, member: StoredMember) -> dict[str, Any]:
        created = _iso(member.created_at)
        return {"uri": f"{api}/organization_memberships/{calendly_uuid(_MEMBERSHIP, member.uid)}",
                "role": member.role, "user": self.user_json(api, member),
                "organization": self.org_uri(api, org), "created_at": created, "updated_at": created}

    def invitation_json(self, api: str, org: str, member: StoredMember) -> dict[str, Any]:
        created = _iso(member.created_at)
        accepted = member.status == "active"
        return {"uri": f"{self.org_uri(api, org)}/invitations/{calendly_uuid(_INVITATION, member.uid)}",
                "organization": self.org_uri(api, org), "email": member.email,
                "status": "accepted" if accepted else "pending", "created_at": created,
                "updated_at": created, "last_sent_at": created,
                "user": f"{api}/users/{calendly_uuid(_USER, member.uid)}" if accepted else None}

    # -- memberships -----------------------------------------------------------------------------

    async def list_memberships(self, request: Request) -> Response:
        q = request.query_params
        if not q.get("organization"):
            return self._invalid("organization", "is required (or user)")
        org = self._org(request, q["organization"].rstrip("/").rsplit("/", 1)[-1])
        if isinstance(org, Response):
            return org
        email, role = (q.get("email") or "").casefold(), q.get("role")

        def keep(m: StoredMember) -> bool:
            return (m.status == "active" and (not email or m.email.casefold() == email)
                    and (not role or m.role == role))

        result = self._page(request, org, keep)
        if isinstance(result, Response):
            return result
        page, pagination = result
        api = self._api(request)
        return self._json({"collection": [self.membership_json(api, org.org, m) for m in page],
                           "pagination": pagination})

    async def membership(self, request: Request) -> Response:
        orgs = self._token_orgs(request)
        if isinstance(orgs, Response):
            return orgs
        found = self._membership(orgs, request.path_params["uuid"])
        if found is None:
            return self._not_found()
        org, member = found
        if request.method == "GET":
            return self._json({"resource": self.membership_json(self._api(request), org.org, member)})
        if member.role == "owner":
            return self._error(403, "Permission Denied", "The organization owner cannot be removed.")
        self.store.remove_member(self.kind, org.org, member.uid)
        return Response(status_code=204, headers=self._headers())

    def _membership(self, orgs: set[str], uuid: str) -> tuple[OrgState, StoredMember] | None:
        uid = uid_of(_MEMBERSHIP, uuid)
        for org_id in sorted(orgs):
            org = self.store.org(self.kind, org_id)
            member = org.members.get(uid) if org is not None and uid is not None else None
            if org is not None and member is not None and member.status == "active":
                return org, member
        return None

    # -- invitations -----------------------------------------------------------------------------

    async def invitations(self, request: Request) -> Response:
        org = self._org(request, request.path_params["org"])
        if isinstance(org, Response):
            return org
        if request.method == "POST":
            return self._create_invitation(request, org, await _body(request))
        q = request.query_params
        status, email = q.get("status"), (q.get("email") or "").casefold()
        if status not in (None, "pending", "accepted", "declined"):
            return self._invalid("status", "must be one of pending, accepted, declined")

        def keep(m: StoredMember) -> bool:
            state = "pending" if m.status == "pending" else ("accepted" if m.extra.get("invited") else None)
            return state is not None and status in (None, state) and (not email or m.email.casefold() == email)

        result = self._page(request, org, keep)
        if isinstance(result, Response):
            return result
        page, pagination = result
        api = self._api(request)
        return self._json({"collection": [self.invitation_json(api, org.org, m) for m in page],
                           "pagination": pagination})

    def _create_invitation(self, request: Request, org: OrgState, body: dict[str, Any]) -> Response:
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            return self._invalid("email", "is invalid")
        existing = org.by_email(email)
        if existing is not None:
            what = "has already been invited to" if existing.status == "pending" else "is already a member of"
            return self._invalid("email", f"{email} {what} this organization")
        member = self.store.add_member(self.kind, org.org, email=email, role="user", status="pending")
        member.extra["invited"] = True
        return self._json({"resource": self.invitation_json(self._api(request), org.org, member)}, 201)

    async def invitation(self, request: Request) -> Response:
        org = self._org(request, request.path_params["org"])
        if isinstance(org, Response):
            return org
        member = self.find(org, f"inv:{request.path_params['uuid']}")
        if member is None:
            return self._not_found()
        if request.method == "GET":
            return self._json({"resource": self.invitation_json(self._api(request), org.org, member)})
        self.store.remove_member(self.kind, org.org, member.uid)
        return Response(status_code=204, headers=self._headers())


def _from(items: list[StoredMember], start: int) -> Iterator[StoredMember]:
    return (items[i] for i in range(start, len(items)))


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


FAKE = CalendlyFake
