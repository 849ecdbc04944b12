"""OpenID Connect sign-in: authorization code with PKCE (S256), against the workspace's own IdP.

``GET /console/oidc/start`` sends the browser to the IdP's authorization endpoint with a fresh
state, nonce and code challenge (kept in an HttpOnly cookie of this browser only);
``GET /console/oidc/callback`` checks the state, exchanges the code (with the verifier) at the
token endpoint, verifies the ID token (signature from the IdP's JWKS, issuer, audience, expiry,
nonce) and signs in an admin whose email is on the allow-list or who is in an allowed group.
Authlib builds the requests; python-jose verifies the token.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from jose import JWTError, jwt
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scim_server.settings import Settings

log = logging.getLogger("scim_bridge.console.oidc")

FLOW_COOKIE = "sb_console_oidc"


def configured(settings: Settings) -> bool:
    return bool(settings.console_oidc_issuer and settings.console_oidc_client_id)


class OidcRefused(Exception):
    """The sign-in did not complete; the message is safe to show (no token, no claim values)."""


def _callback_url(request: Request) -> str:
    settings: Settings = request.app.state.services.settings
    base = (settings.public_base_url or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")
    return f"{base}/console/oidc/callback"


async def _metadata(settings: Settings) -> dict[str, Any]:
    issuer = (settings.console_oidc_issuer or "").rstrip("/")
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{issuer}/.well-known/openid-configuration")
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
    if found.get("issuer", "").rstrip("/") != issuer:
        raise OidcRefused("The identity provider's metadata names another issuer.")
    return found


def _client(settings: Settings, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=settings.console_oidc_client_id, client_secret=settings.console_oidc_client_secret,
        scope="openid email profile", redirect_uri=redirect_uri, code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post" if settings.console_oidc_client_secret else "none",
    )  # fmt: skip


async def start(request: Request, next_path: str) -> Response:
    settings: Settings = request.app.state.services.settings
    meta = await _metadata(settings)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), generate_token(64)
    async with _client(settings, _callback_url(request)) as client:
        url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=state, nonce=nonce,
                                                 code_verifier=verifier)  # fmt: skip
    response = RedirectResponse(url, 303)
    flow = json.dumps({"state": state, "nonce": nonce, "verifier": verifier, "next": next_path})
    response.set_cookie(FLOW_COOKIE, flow, httponly=True, samesite="lax", path="/console/oidc", max_age=600,
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


async def finish(request: Request) -> tuple[str, str, str]:
    """(email, display name, the path to go to) of an allowed admin, or ``OidcRefused``."""
    settings: Settings = request.app.state.services.settings
    try:
        flow = json.loads(request.cookies.get(FLOW_COOKIE, ""))
    except ValueError:
        raise OidcRefused("The sign-in took too long or was started elsewhere. Try again.") from None
    if request.query_params.get("error"):
        raise OidcRefused("The identity provider did not sign you in.")
    state, code = request.query_params.get("state", ""), request.query_params.get("code", "")
    if not code or not isinstance(flow, dict) or not secrets.compare_digest(state, str(flow.get("state", ""))):
        raise OidcRefused("The sign-in answer does not match the request. Try again.")
    meta = await _metadata(settings)
    try:
        async with _client(settings, _callback_url(request)) as client:
            tokens = await client.fetch_token(meta["token_endpoint"], code=code, code_verifier=str(flow["verifier"]))
        async with httpx.AsyncClient(timeout=10) as http:
            jwks = (await http.get(meta["jwks_uri"])).json()
        claims = jwt.decode(str(tokens["id_token"]), jwks, algorithms=["RS256", "ES256"],
                            audience=settings.console_oidc_client_id, issuer=meta["issuer"],
                            access_token=tokens.get("access_token"))  # fmt: skip
    except (JWTError, KeyError, httpx.HTTPError, ValueError) as exc:
        log.info("oidc sign-in failed: %s", type(exc).__name__)
        raise OidcRefused("The identity provider's answer could not be verified.") from None
    except AuthlibBaseError as exc:  # a refused code or verifier
        log.info("oidc sign-in failed: %s", type(exc).__name__)
        raise OidcRefused("The identity provider refused the sign-in.") from None
    if claims.get("nonce") != flow.get("nonce"):
        raise OidcRefused("The sign-in answer does not match the request. Try again.")
    email = str(claims.get("email") or "").lower()
    groups = claims.get(settings.console_oidc_groups_claim) or []
    allowed_emails = {e.lower() for e in settings.console_oidc_allowed_emails}
    in_group = isinstance(groups, list) and bool(set(map(str, groups)) & set(settings.console_oidc_allowed_groups))
    if not email or claims.get("email_verified") is False or not (email in allowed_emails or in_group):
        raise OidcRefused("This account is not an administrator of this workspace.")
    return email, str(claims.get("name") or email), str(flow.get("next") or "/console/apps")
