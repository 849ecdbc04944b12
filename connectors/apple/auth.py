"""App Store Connect API tokens: ES256 JWTs signed with the team's private key (python-jose).

Apple, "Generating Tokens for API Requests": header ``{"alg": "ES256", "kid": <key id>, "typ":
"JWT"}``; claims ``iss`` (issuer id), ``iat``, ``exp`` (tokens expiring more than 20 minutes after
``iat`` are rejected) and ``aud: "appstoreconnect-v1"``. ``TeamToken`` signs one, keeps it, and
signs a fresh one ``refresh_margin`` seconds before it expires, so a long import never presents an
expired token. The private key (a ``.p8`` PKCS#8 PEM) stays a ``Secret``; it is revealed only to sign.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from jose import jwt
from jose.exceptions import JOSEError

from connectors.base import Secret
from connectors.errors import AuthError

__all__ = ["AUDIENCE", "MAX_LIFETIME", "TeamToken"]

AUDIENCE = "appstoreconnect-v1"
MAX_LIFETIME = 20 * 60
"""Apple rejects a token whose ``exp`` is more than 20 minutes after ``iat``."""


class TeamToken:
    """The bearer JWT for one team API key, regenerated before expiry.

    :param private_key: the key's PEM (``AuthKey_<key id>.p8``).
    :param key_id: the key id (JWT header ``kid``).
    :param issuer_id: the team's issuer id (claim ``iss``).
    :param lifetime: seconds from ``iat`` to ``exp``; at most ``MAX_LIFETIME``.
    :param refresh_margin: sign anew when fewer seconds than this remain.
    :param clock: seconds since the epoch (injected in tests).
    """

    def __init__(self, private_key: Secret, key_id: str, issuer_id: str, *, lifetime: int = 19 * 60,
                 refresh_margin: int = 60, clock: Callable[[], float] = time.time) -> None:
        if not 0 < lifetime <= MAX_LIFETIME or not 0 <= refresh_margin < lifetime:
            raise ValueError("lifetime must be within (0, 1200] s and exceed refresh_margin")
        self._key = private_key
        self.key_id = key_id
        self.issuer_id = issuer_id
        self.lifetime = lifetime
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0

    def __repr__(self) -> str:
        return f"TeamToken(key_id={self.key_id!r}, issuer_id={self.issuer_id!r})"

    @property
    def expires_at(self) -> float:
        return self._expires

    def bearer(self) -> str:
        """A valid signed JWT: the cached one, or a new one when it is about to expire."""
        now = self._clock()
        if self._token is None or now >= self._expires - self.refresh_margin:
            self._token, self._expires = self._sign(int(now))
        return self._token

    def _sign(self, now: int) -> tuple[str, float]:
        claims = {"iss": self.issuer_id, "iat": now, "exp": now + self.lifetime, "aud": AUDIENCE}
        try:
            token = jwt.encode(claims, self._key.reveal(), algorithm="ES256",
                               headers={"kid": self.key_id, "typ": "JWT"})
        except (JOSEError, ValueError, TypeError) as exc:
            # never include the key: name the failure only
            raise AuthError("apple", "sign_token", f"the private key cannot sign ES256 ({type(exc).__name__})") from None
        return token, float(now + self.lifetime)
