"""A small OpenID Connect provider for the console's sign-in tests and the demo (``/oidc``).

Authorization code flow with PKCE only (S256 required), one RSA key made at start-up, ID tokens
signed by python-jose. The authorization page asks for an email (and, optionally, groups) and
signs that person in: it stands in for Okta or Entra ID, so it checks nothing but the protocol.
``GET /.well-known/openid-configuration``, ``GET|POST /authorize``, ``POST /token``, ``GET /jwks``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["OidcProvider"]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in | Sandbox IdP</title></head>
<body><main><h1>Sandbox identity provider</h1>
<form method="post" action="authorize">
{hidden}
<p><label for="email">Email</label> <input id="email" name="email" type="email" required></p>
<p><label for="groups">Groups (comma-separated)</label> <input id="groups" name="groups"></p>
<button type="submit">Sign in</button>
</form></main></body></html>"""

FLOW_FIELDS = ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "code_challenge_method", "scope")


@dataclass(frozen=True, slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    email: str
    groups: tuple[str, ...]
    issued: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OidcProvider:
    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()  # fmt: skip
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip
        self.kid = secrets.token_hex(8)
        self._jwk = jwk.construct(public, "RS256").to_dict() | {"kid": self.kid, "use": "sig", "alg": "RS256"}
        self._jwk = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in self._jwk.items()}
        self._codes: dict[str, _Grant] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/.well-known/openid-configuration", self.metadata, methods=["GET"]),
            Route("/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/jwks", self.jwks, methods=["GET"]),
        ]

    @staticmethod
    def issuer(request: Request, endpoint: str) -> str:
        """This provider's URL as the caller reached it: the request's URL less the endpoint's path
        (the sandbox is mounted wherever its host puts it)."""
        url = str(request.url.replace(query=""))
        return url[: -len(endpoint)] if url.endswith(endpoint) else url.rstrip("/")

    async def metadata(self, request: Request) -> Response:
        issuer = self.issuer(request, "/.well-known/openid-configuration")
        return JSONResponse({
            "issuer": issuer, "authorization_endpoint": f"{issuer}/authorize", "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks", "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
            "scopes_supported": ["openid", "email", "profile"], "claims_supported": ["sub", "email", "name", "groups"],
        })  # fmt: skip

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self._jwk]})

    async def authorize(self, request: Request) -> Response:
        if request.method == "GET":
            params = dict(request.query_params)
            if params.get("response_type") != "code" or params.get("code_challenge_method") != "S256" \
                    or not params.get("code_challenge") or not params.get("client_id"):
                return HTMLResponse("<p>Bad authorization request: code flow with PKCE (S256) only.</p>", 400)
            hidden = "".join(f'<input type="hidden" name="{f}" value="{html.escape(params.get(f, ""))}">'
                             for f in FLOW_FIELDS)  # fmt: skip
            return HTMLResponse(PAGE.format(hidden=hidden))
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        code = secrets.token_urlsafe(24)
        groups = tuple(g.strip() for g in form.get("groups", "").split(",") if g.strip())
        self._codes[code] = _Grant(form.get("client_id", ""), form.get("redirect_uri", ""), form.get("nonce", ""),
                                   form.get("code_challenge", ""), form.get("email", "").strip(), groups,
                                   time.time())  # fmt: skip
        parts = urlsplit(form.get("redirect_uri", ""))
        query = parse_qsl(parts.query) + [("code", code), ("state", form.get("state", ""))]
        return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), 302)

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or time.time() - grant.issued > 120 or form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "invalid_grant"}, 400)
        if form.get("redirect_uri") != grant.redirect_uri or form.get("client_id", grant.client_id) != grant.client_id:
            return JSONResponse({"error": "invalid_grant"}, 400)
        verifier = form.get("code_verifier", "")
        if not verifier or _b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
        now = int(time.time())
        access = secrets.token_urlsafe(24)
        claims: dict[str, Any] = {
            "iss": self.issuer(request, "/token"), "sub": hashlib.sha256(grant.email.encode()).hexdigest()[:24],
            "aud": grant.client_id, "iat": now, "exp": now + 300, "nonce": grant.nonce, "email": grant.email,
            "email_verified": True, "name": grant.email.split("@")[0], "groups": list(grant.groups),
            "at_hash": _b64(hashlib.sha256(access.encode()).digest()[:16]),
        }  # fmt: skip
        id_token = jwt.encode(claims, self._pem, algorithm="RS256", headers={"kid": self.kid})
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token})
