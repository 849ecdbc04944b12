"""``KindFake``: the base of every vendor fake (``connectors/sandbox/<kind>.py``).

A fake maps its vendor's real routes onto the generic ``SandboxStore`` and renders the vendor's
payloads and error envelopes. It decides how a stored member's ``remote_id`` is spelled (it must be
what the kind's connector reports as ``Member.remote_id``), and how its vendor answers a rate limit,
an outage and an expired token, so the fault layer stays generic.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from connectors.sandbox.store import (
    OrgState,
    SandboxStore,
    SeedAsset,
    SeedMember,
    SeedSpec,
    StoredMember,
)

__all__ = ["KindFake", "demo_token"]


def demo_token(kind: str) -> str:
    """The token the demo scenario registers for ``kind``."""
    return f"demo-token-{kind}"


class KindFake:
    """Override ``routes`` (required), ``remote_id`` and the ``render_*`` methods as the vendor needs.

    Class attributes drive the generic demo scenario: ``demo_org``, ``owner_role``, ``member_role``
    (vendor wire values), ``asset_type`` and ``asset_permission``.
    """

    kind: ClassVar[str]
    demo_org: ClassVar[str] = "demo"
    owner_role: ClassVar[str] = "admin"
    member_role: ClassVar[str] = "member"
    asset_type: ClassVar[str] = "asset"
    asset_permission: ClassVar[str] = "read"

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    # -- what a kind must/can override ---------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        """The vendor's routes, relative to the ``/<kind>`` mount."""
        raise NotImplementedError

    def remote_id(self, member: StoredMember) -> str:
        """The id the kind's connector reports for ``member`` (``Member.remote_id``)."""
        return str(member.uid)

    def render_rate_limited(self, retry_after: float) -> Response:
        return JSONResponse({"message": "rate limited"}, 429,
                            headers={"Retry-After": _seconds(retry_after)})

    def render_unavailable(self) -> Response:
        return JSONResponse({"message": "service unavailable"}, 503)

    def render_auth_expired(self) -> Response:
        return JSONResponse({"message": "token expired"}, 401)

    def demo_seed(self) -> SeedSpec:
        """The members and assets of the ``demo`` scenario (4 active incl. an owner, 2 pending)."""
        domain = "example.com"
        people = [("ada.lovelace", self.owner_role, "active"), ("grace.hopper", self.member_role, "active"),
                  ("alan.turing", self.member_role, "active"), ("edsger.dijkstra", self.member_role, "active"),
                  ("barbara.liskov", self.member_role, "pending"), ("ken.thompson", self.member_role, "pending")]
        members = tuple(SeedMember(f"{p}@{domain}", "", role, status) for p, role, status in people)  # type: ignore[arg-type]
        assets = tuple(
            SeedAsset(asset_id, name, self.asset_type,
                      ((f"ada.lovelace@{domain}", self.asset_permission),
                       (f"grace.hopper@{domain}", self.asset_permission)))
            for asset_id, name in self.demo_assets()
        )
        return SeedSpec(self.demo_org, demo_token(self.kind), members, assets)

    def demo_assets(self) -> Sequence[tuple[str, str]]:
        """``(id, name)`` of the demo assets."""
        return (("website", "Website"), ("mobile-app", "Mobile app"))

    # -- helpers for fakes ---------------------------------------------------------------------

    def find(self, org: OrgState, remote_id: str) -> StoredMember | None:
        """The member whose ``remote_id`` is ``remote_id`` (linear; override with an index)."""
        for member in org.listing():
            if self.remote_id(member) == remote_id:
                return member
        return None

    @staticmethod
    def bearer(request: Request) -> str | None:
        """The token of an ``Authorization: Bearer`` header, or ``None``."""
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() in ("bearer", "token") and token else None


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def opaque_token(tag: str, uid: int) -> str:
    """A vendor-style opaque page token meaning "after member ``uid``" (keyset paging)."""
    return base64.urlsafe_b64encode(f"{tag}:{uid}".encode()).decode().rstrip("=")


def token_uid(tag: str, token: str) -> int | None:
    """The uid an ``opaque_token(tag, ...)`` carries; None for anything this fake did not issue."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    found, _, number = text.partition(":")
    return int(number) if found == tag and number.isdigit() else None
