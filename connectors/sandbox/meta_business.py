"""Fake of Meta's Graph API for Business Manager (vendor-apis.md section 2), under ``/meta_business``.

Paths as ``https://graph.facebook.com``: ``/{version}/{node}`` (GET / POST / DELETE) and
``/{version}/{node}/{edge}``, any ``vNN.N`` version. Nodes: the business (edges ``business_users``
GET/POST, ``pending_users``, ``system_users``, ``owned_ad_accounts``, ``client_ad_accounts``,
``owned_pages``, ``client_pages``), a business user (GET / POST ``role`` / DELETE; edges
``assigned_ad_accounts``, ``assigned_pages``), a business role request (GET / POST ``role`` /
DELETE), an ad account or Page (edge ``assigned_users`` GET with the required ``business`` /
POST ``user``+``tasks`` / DELETE ``user``).

Fidelity: the token as ``access_token`` (query or form) or ``Authorization: Bearer``; unknown token
-> 400 code 190; an object the token cannot reach -> 400 code 100 subcode 33; ``fields=`` selection
(an unknown field is code 100; without ``fields`` only default fields); cursor paging with base64
cursors, ``limit`` (default 25, capped at 500 -- the cap is inferred), ``cursors.after`` on every
page and ``next`` only when there is more; ``summary=total_count``; ``X-App-Usage`` on every answer.
Throttles rotate codes 4 / 17 / 80004 with ``X-Business-Use-Case-Usage`` carrying
``estimated_time_to_regain_access`` (minutes); outages are 500 code 2 ``is_transient``; an expired
token is 400 code 190 subcode 463.

Store mapping: a business user's id is ``USER_ID_BASE + uid``; a pending invitation is the role
request ``REQUEST_ID_BASE + uid`` and its remote id ``req:<that id>``; roles are ``ADMIN`` /
``EMPLOYEE``; asset types ``ad_account`` / ``page``; a grant's permission is the bundle name of its
task set (admin, advertiser, analyst ...) or the sorted tasks joined by ``,``.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.fake import KindFake, opaque_token, token_uid
from connectors.sandbox.store import OrgState, StoredAsset, StoredMember

USER_ID_BASE = 100_000_000_000_000
REQUEST_ID_BASE = 200_000_000_000_000
MAX_LIMIT, DEFAULT_LIMIT = 500, 25
ROLE_ENUM = ("ADMIN", "EMPLOYEE", "FINANCE_EDITOR", "FINANCE_ANALYST", "ADS_RIGHTS_REVIEWER", "DEVELOPER",
             "MANAGE", "DEFAULT")
TASKS = {"ad_account": ("MANAGE", "ADVERTISE", "ANALYZE", "DRAFT", "AA_ANALYZE"),
         "page": ("MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE")}
BUNDLES = {"ad_account": {"admin": ("MANAGE", "ADVERTISE", "ANALYZE"), "advertiser": ("ADVERTISE", "ANALYZE"),
                          "analyst": ("ANALYZE",)},
           "page": {"admin": ("MANAGE", "CREATE_CONTENT", "MODERATE", "ADVERTISE", "ANALYZE"),
                    "editor": ("CREATE_CONTENT", "MODERATE", "ADVERTISE", "ANALYZE"),
                    "moderator": ("MODERATE", "ADVERTISE", "ANALYZE"), "advertiser": ("ADVERTISE", "ANALYZE"),
                    "analyst": ("ANALYZE",)}}
THROTTLES = ((4, "(#4) Application request limit reached"), (17, "(#17) User request limit reached"),
             (80004, "(#80004) There have been too many calls to this ad-account. Wait a bit and try again."))
_VERSION = re.compile(r"^v\d+\.\d+$")
FIELDS = {
    "Business": ("id", "name", "created_time", "verification_status"),
    "BusinessUser": ("id", "name", "email", "role", "tasks", "first_name", "last_name", "title", "business",
                     "two_fac_status", "pending_email", "marked_for_removal", "invited_user_type"),
    "BusinessRoleRequest": ("id", "email", "role", "tasks", "status", "created_time", "expiration_time",
                            "invite_link", "invited_user_type", "created_by", "updated_time", "owner"),
    "AdAccount": ("id", "account_id", "name", "account_status", "currency", "business"),
    "Page": ("id", "name", "category", "business"),
    "AssignedUser": ("id", "name", "user_type", "tasks", "business"),
}
DEFAULTS = {"Business": ("id", "name"), "BusinessUser": ("id", "name"), "BusinessRoleRequest": ("id",),
            "AdAccount": ("id", "account_id"), "Page": ("id", "name"), "AssignedUser": ("id", "name")}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class GraphError(Exception):
    """An error answer: the Graph envelope with ``status``."""

    def __init__(self, message: str, code: int, *, subcode: int | None = None, status: int = 400,
                 type_: str = "OAuthException", transient: bool = False,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.subcode, self.status = message, code, subcode, status
        self.type, self.transient, self.headers = type_, transient, headers or {}


def _missing(what: str, node: str) -> GraphError:
    return GraphError(f"Unsupported {what} request. Object with ID '{node}' does not exist, cannot be loaded "
                      "due to missing permissions, or does not support this operation. Please read the Graph "
                      "API documentation at https://developers.facebook.com/docs/graph-api",
                      100, subcode=33, type_="GraphMethodException")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


@dataclass(frozen=True, slots=True)
class Node:
    """A resolved Graph node: what it is, the org it lives in, and the stored object."""

    type: str
    org: OrgState
    member: StoredMember | None = None
    asset: StoredAsset | None = None


@dataclass(slots=True)
class Call:
    """One request, parsed: the token's orgs and the merged query/form parameters."""

    request: Request
    orgs: set[str]
    params: dict[str, str]


class MetaBusinessFake(KindFake):
    kind = "meta_business"
    demo_org = "1000000000001"
    owner_role = "ADMIN"
    member_role = "EMPLOYEE"
    asset_type = "ad_account"
    asset_permission = "advertiser"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trace = itertools.count(1)
        self._limited = itertools.count()
        self._views: dict[tuple[str, str], tuple[object, list[StoredMember], list[int]]] = {}

    # -- KindFake --------------------------------------------------------------------------------

    def remote_id(self, member: StoredMember) -> str:
        if member.status == "pending":
            return f"req:{REQUEST_ID_BASE + member.uid}"
        return str(USER_ID_BASE + member.uid)

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        pending = remote_id.startswith("req:")
        node = remote_id.removeprefix("req:")
        if not node.isdigit():
            return None
        member = org.members.get(int(node) - (REQUEST_ID_BASE if pending else USER_ID_BASE))
        return member if member is not None and (member.status == "pending") == pending else None

    def demo_assets(self) -> Sequence[tuple[str, str]]:
        return (("act_1000000001", "Acme Ads"), ("act_1000000002", "Acme Retargeting"))

    def render_rate_limited(self, retry_after: float) -> Response:
        code, message = THROTTLES[next(self._limited) % len(THROTTLES)]
        minutes = math.ceil(retry_after / 60) if retry_after > 0 else 0
        usage = {"0": [{"type": "ads_management", "call_count": 100, "total_cputime": 25, "total_time": 25,
                        "estimated_time_to_regain_access": minutes}]}
        headers = {"X-Business-Use-Case-Usage": json.dumps(usage)}
        return self._error(GraphError(message, code, headers=headers, type_="OAuthException"))

    def render_unavailable(self) -> Response:
        return self._error(GraphError("An unexpected error has occurred. Please retry your request later.", 2,
                                      status=500, transient=True))

    def render_auth_expired(self) -> Response:
        return self._error(GraphError("Error validating access token: Session has expired on Monday, "
                                      "01-Jun-26 09:00:00 PDT.", 190, subcode=463))

    def routes(self) -> Sequence[BaseRoute]:
        methods = ["GET", "POST", "DELETE"]
        return [Route("/{version}/{node}", self.node, methods=methods),
                Route("/{version}/{node}/{edge}", self.edge, methods=methods)]

    # -- plumbing --------------------------------------------------------------------------------

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        usage = {"x-app-usage": '{"call_count":1,"total_cputime":1,"total_time":1}'}
        return JSON(body, status, headers=usage | (headers or {}))

    def _error(self, error: GraphError) -> Response:
        body: dict[str, Any] = {"message": error.message, "type": error.type, "code": error.code}
        if error.subcode is not None:
            body["error_subcode"] = error.subcode
        if error.transient:
            body["is_transient"] = True
        body["fbtrace_id"] = base64.b64encode(f"trace{next(self._trace):09d}".encode()).decode()[:16]
        headers = dict(error.headers)
        if error.code == 190:
            headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{error.message}"'
        return self._json({"error": body}, error.status, headers)

    async def _call(self, request: Request) -> Call:
        if not _VERSION.match(request.path_params["version"]):
            raise GraphError("Unknown path components: /" + request.path_params["version"], 2500)
        params = dict(request.query_params)
        raw = await request.body()
        if raw:
            if request.headers.get("content-type", "").startswith("application/json"):
                params |= {k: v if isinstance(v, str) else json.dumps(v) for k, v in orjson.loads(raw).items()}
            else:
                params |= dict(parse_qsl(raw.decode(), keep_blank_values=True))
        token = params.pop("access_token", None) or self.bearer(request)
        if not token:
            raise GraphError("An active access token must be used to query information about the current "
                             "user.", 2500)
        orgs = self.store.token_orgs(self.kind, token)
        if orgs is None:
            raise GraphError("Invalid OAuth access token - Cannot parse access token", 190)
        return Call(request, orgs, params)

    def _resolve(self, call: Call, node_id: str, what: str) -> Node:
        """The node ``node_id`` among the token's businesses, or the code 100 / subcode 33 error."""
        states = [s for s in (self.store.org(self.kind, o) for o in sorted(call.orgs)) if s is not None]
        for state in states:
            if state.org == node_id:
                return Node("Business", state)
            if node_id in state.assets:
                asset = state.assets[node_id]
                return Node("AdAccount" if asset.type == "ad_account" else "Page", state, asset=asset)
        if node_id.isdigit():
            number = int(node_id)
            for base, status, type_ in ((REQUEST_ID_BASE, "pending", "BusinessRoleRequest"),
                                        (USER_ID_BASE, "active", "BusinessUser")):
                for state in states:
                    member = state.members.get(number - base)
                    if member is not None and member.status == status and number > base:
                        return Node(type_, state, member=member)
        raise _missing(what, node_id)

    def _select(self, type_: str, full: dict[str, Any], fields: str | None,
                extra: tuple[str, ...] = ()) -> dict[str, Any]:
        """``fields=`` selection: named fields only, ``id`` always; an unknown field is code 100."""
        wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else list(DEFAULTS[type_])
        for name in wanted:
            if name not in FIELDS[type_] + extra:
                raise GraphError(f"(#100) Tried accessing nonexisting field ({name}) on node type ({type_})", 100)
        return {"id": full["id"]} | {k: full[k] for k in wanted if k in full}

    def _page(self, call: Call, items: Sequence[Any], render: Callable[[Any], dict[str, Any]],
              keys: Sequence[int] | None = None) -> Response:
        """One cursor page of ``items``; ``keys`` (ascending, e.g. uids) make cursors stable under
        deletes, else cursors are positions."""
        q = call.params
        try:
            limit = max(1, min(MAX_LIMIT, int(q.get("limit") or DEFAULT_LIMIT)))
        except ValueError:
            raise GraphError("(#100) Param limit must be a number", 100) from None
        keys = keys if keys is not None else range(len(items))
        start = 0
        if q.get("after"):
            start = bisect.bisect_right(keys, _decode(q["after"]))
        page = items[start:start + limit]
        body: dict[str, Any] = {"data": [render(i) for i in page]}
        if page:
            body["paging"] = {"cursors": {"before": _encode(keys[start]), "after": _encode(keys[start + len(page) - 1])}}
            if start + len(page) < len(items):
                query = {k: v for k, v in call.request.query_params.items() if k != "after"}
                query |= {"limit": str(limit), "after": body["paging"]["cursors"]["after"]}
                body["paging"]["next"] = str(call.request.url.replace(query=urlencode(query)))
        if q.get("summary") == "total_count":
            body["summary"] = {"total_count": len(items)}
        return self._json(body)

    def _members(self, org: OrgState, status: str) -> tuple[list[StoredMember], list[int]]:
        """Members of ``status`` in uid order, with their uids (cached until the org changes)."""
        listing = org.listing()
        cached = self._views.get((org.org, status))
        if cached is None or cached[0] is not listing:
            chosen = [m for m in listing if m.status == status]
            cached = (listing, chosen, [m.uid for m in chosen])
            self._views[(org.org, status)] = cached
        return cached[1], cached[2]

    # -- payloads --------------------------------------------------------------------------------

    def business_json(self, org: OrgState) -> dict[str, Any]:
        return {"id": org.org, "name": f"Business {org.org}", "created_time": "2020-01-01T00:00:00+0000",
                "verification_status": "verified"}

    def user_json(self, org: OrgState, m: StoredMember) -> dict[str, Any]:
        first, _, last = m.name.partition(" ")
        tasks = ["MANAGE", "DEVELOP", "ADVERTISE", "ANALYZE", "DRAFT"] if m.role == "ADMIN" else ["DRAFT", "ANALYZE", "ADVERTISE"]
        return {"id": str(USER_ID_BASE + m.uid), "name": m.name, "email": m.email, "role": m.role, "tasks": tasks,
                "first_name": first, "last_name": last, "title": "", "business": {"id": org.org, "name": f"Business {org.org}"},
                "two_fac_status": "two_fac_enabled", "pending_email": "", "marked_for_removal": False,
                "invited_user_type": ["FB"]}

    def request_json(self, org: OrgState, m: StoredMember) -> dict[str, Any]:
        return {"id": str(REQUEST_ID_BASE + m.uid), "email": m.email, "role": m.role, "tasks": [],
                "status": "PENDING", "created_time": _iso(m.created_at),
                "expiration_time": _iso(m.created_at + 30 * 86400),
                "invite_link": f"https://business.facebook.com/invitation/?token={REQUEST_ID_BASE + m.uid}",
                "invited_user_type": ["FB"], "created_by": {"id": "1", "name": "Admin"},
                "updated_time": _iso(m.created_at), "owner": {"id": org.org, "name": f"Business {org.org}"}}

    def asset_json(self, org: OrgState, a: StoredAsset) -> dict[str, Any]:
        business = {"id": org.org, "name": f"Business {org.org}"}
        if a.type == "ad_account":
            return {"id": a.id, "account_id": a.id.removeprefix("act_"), "name": a.name, "account_status": 1,
                    "currency": "USD", "business": business}
        return {"id": a.id, "name": a.name, "category": "Company", "business": business}

    def assigned_json(self, org: OrgState, a: StoredAsset, m: StoredMember, permission: str) -> dict[str, Any]:
        return {"id": str(USER_ID_BASE + m.uid), "name": m.name, "user_type": "BUSINESS_USER",
                "tasks": list(_tasks(a.type, permission) or ()), "business": {"id": org.org}}

    # -- routes ----------------------------------------------------------------------------------

    async def node(self, request: Request) -> Response:
        try:
            call = await self._call(request)
            method = request.method.lower()
            node = self._resolve(call, request.path_params["node"], method)
            return self._node(call, node, method)
        except GraphError as error:
            return self._error(error)

    def _node(self, call: Call, node: Node, method: str) -> Response:
        org, member, fields = node.org, node.member, call.params.get("fields")
        if method == "get":
            full = (self.business_json(org) if node.type == "Business"
                    else self.asset_json(org, node.asset) if node.asset is not None
                    else self.user_json(org, member) if node.type == "BusinessUser" and member
                    else self.request_json(org, member) if member else {})
            return self._json(self._select(node.type, full, fields))
        if member is None:
            raise _missing(method, call.request.path_params["node"])
        if method == "delete":
            self.store.remove_member(self.kind, org.org, member.uid)
            return self._json({"success": True})
        role = call.params.get("role")
        if role is not None:
            self._check_role(role)
            self.store.set_role(self.kind, org.org, member.uid, role)
        return self._json({"success": True})

    async def edge(self, request: Request) -> Response:
        try:
            call = await self._call(request)
            node = self._resolve(call, request.path_params["node"], request.method.lower())
            handler = self._edges(node).get((request.path_params["edge"], request.method))
            if handler is None:
                raise GraphError(f"(#100) Unknown edge or method: {request.path_params['edge']}", 100)
            return handler(call, node)
        except GraphError as error:
            return self._error(error)

    def _edges(self, node: Node) -> dict[tuple[str, str], Callable[[Call, Node], Response]]:
        if node.type == "Business":
            return {("business_users", "GET"): self.list_users, ("business_users", "POST"): self.invite,
                    ("pending_users", "GET"): self.list_pending, ("system_users", "GET"): self.no_items,
                    ("owned_ad_accounts", "GET"): self.list_assets, ("client_ad_accounts", "GET"): self.no_items,
                    ("owned_pages", "GET"): self.list_assets, ("client_pages", "GET"): self.no_items}
        if node.asset is not None:
            return {("assigned_users", "GET"): self.list_assigned, ("assigned_users", "POST"): self.assign,
                    ("assigned_users", "DELETE"): self.unassign}
        if node.type == "BusinessUser":
            return {("assigned_ad_accounts", "GET"): self.user_assets, ("assigned_pages", "GET"): self.user_assets}
        return {}

    def no_items(self, call: Call, node: Node) -> Response:
        return self._page(call, [], lambda i: i)

    def list_users(self, call: Call, node: Node) -> Response:
        members, uids = self._members(node.org, "active")
        fields = call.params.get("fields")
        return self._page(call, members, lambda m: self._select("BusinessUser", self.user_json(node.org, m), fields), uids)

    def list_pending(self, call: Call, node: Node) -> Response:
        members, uids = self._members(node.org, "pending")
        email = call.params.get("email")
        if email:
            found = node.org.by_email(email)
            members = [found] if found is not None and found.status == "pending" else []
            uids = [m.uid for m in members]
        fields = call.params.get("fields")
        return self._page(call, members, lambda m: self._select("BusinessRoleRequest", self.request_json(node.org, m),
                                                                fields), uids)

    def invite(self, call: Call, node: Node) -> Response:
        email, role = call.params.get("email"), call.params.get("role", "EMPLOYEE")
        if not email or "@" not in email:
            raise GraphError("(#100) The parameter email is required", 100)
        self._check_role(role)
        existing = node.org.by_email(email)
        if existing is not None:
            what = "already has a pending invitation to" if existing.status == "pending" else "is already a member of"
            raise GraphError(f"(#100) {email} {what} this business", 100)
        member = self.store.add_member(self.kind, node.org.org, email=email, role=role, status="pending")
        return self._json({"id": str(REQUEST_ID_BASE + member.uid)})

    def list_assets(self, call: Call, node: Node) -> Response:
        wanted = "ad_account" if call.request.path_params["edge"] == "owned_ad_accounts" else "page"
        assets = [a for a in node.org.assets.values() if a.type == wanted]
        type_ = "AdAccount" if wanted == "ad_account" else "Page"
        fields = call.params.get("fields")
        return self._page(call, assets, lambda a: self._select(type_, self.asset_json(node.org, a), fields))

    def user_assets(self, call: Call, node: Node) -> Response:
        wanted = "ad_account" if call.request.path_params["edge"] == "assigned_ad_accounts" else "page"
        assert node.member is not None
        uid = node.member.uid
        rows = [(a, a.grants[uid]) for a in node.org.assets.values() if a.type == wanted and uid in a.grants]
        type_ = "AdAccount" if wanted == "ad_account" else "Page"
        fields = call.params.get("fields")

        def render(row: tuple[StoredAsset, str]) -> dict[str, Any]:
            full = self.asset_json(node.org, row[0]) | {"tasks": list(_tasks(row[0].type, row[1]) or ())}
            return self._select(type_, full, fields, extra=("tasks",))
        return self._page(call, rows, render)

    def list_assigned(self, call: Call, node: Node) -> Response:
        if not call.params.get("business"):
            raise GraphError("(#100) The parameter business is required", 100)
        asset = node.asset
        assert asset is not None
        rows = [(node.org.members[uid], p) for uid, p in asset.grants.items()]
        fields = call.params.get("fields")
        return self._page(call, rows, lambda r: self._select(
            "AssignedUser", self.assigned_json(node.org, asset, r[0], r[1]), fields))

    def assign(self, call: Call, node: Node) -> Response:
        asset, member = node.asset, self._assignee(call, node)
        assert asset is not None
        try:
            tasks = json.loads(call.params.get("tasks") or "[]")
        except ValueError:
            tasks = call.params.get("tasks", "").split(",")
        if not tasks or not isinstance(tasks, list) or not set(tasks) <= set(TASKS[_kind(asset)]):
            raise GraphError(f"(#100) Param tasks[0] must be one of {{{', '.join(TASKS[_kind(asset)])}}}", 100)
        self.store.grant(self.kind, node.org.org, asset.id, member.uid, _permission(_kind(asset), tasks))
        return self._json({"success": True})

    def unassign(self, call: Call, node: Node) -> Response:
        asset, member = node.asset, self._assignee(call, node)
        assert asset is not None
        if not self.store.revoke(self.kind, node.org.org, asset.id, member.uid):
            raise GraphError("(#100) The user is not assigned to this asset", 100)
        return self._json({"success": True})

    def _assignee(self, call: Call, node: Node) -> StoredMember:
        user = call.params.get("user", "")
        member = node.org.members.get(int(user) - USER_ID_BASE) if user.isdigit() else None
        if member is None or member.status != "active":
            raise GraphError("(#100) Param user must be a business user or system user of the business "
                             "that owns this asset", 100)
        return member

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLE_ENUM:
            raise GraphError(f"(#100) Param role must be one of {{{', '.join(ROLE_ENUM)}}}", 100)


def _kind(asset: StoredAsset) -> str:
    return "ad_account" if asset.type == "ad_account" else "page"


def _tasks(asset_type: str, permission: str) -> tuple[str, ...] | None:
    bundles = BUNDLES["ad_account" if asset_type == "ad_account" else "page"]
    return bundles.get(permission) or tuple(t for t in permission.split(",") if t)


def _permission(asset_type: str, tasks: list[str]) -> str:
    for name, bundle in BUNDLES[asset_type].items():
        if set(bundle) == set(tasks):
            return name
    return ",".join(sorted(set(tasks)))


def _encode(key: int) -> str:
    return opaque_token("cursor", key)


def _decode(cursor: str) -> int:
    key = token_uid("cursor", cursor)
    if key is None:
        raise GraphError("(#100) Invalid cursor", 100)
    return key


FAKE = MetaBusinessFake
