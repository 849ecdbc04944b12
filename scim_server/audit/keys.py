"""The audit signing key: signs checkpoints and export manifests as JWS (ES256, python-jose).

The key is a PEM (PKCS#8, P-256) from ``SCIM_BRIDGE_AUDIT_SIGNING_KEY``, or the file
``SCIM_BRIDGE_AUDIT_SIGNING_KEY_FILE``; when neither exists the file is generated, mode 0600,
created atomically so that processes sharing it agree on one key. Its public half is served at
``/.well-known/jwks.json`` (the ``kid`` is the RFC 7638 thumbprint), which is all an auditor
needs to check a checkpoint or a manifest (``verify_jws``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws
from jose.exceptions import JOSEError

from scim_server.settings import Settings

ALGORITHM = "ES256"


class BadSignature(Exception):
    """The JWS does not verify with any key of the JWKS, or is not one we issue."""


def _generate_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def load_or_create(path: Path) -> bytes:
    """The PEM at ``path``; created (0600) if absent. Written to a temporary file and linked into
    place, so a concurrent creator loses the race cleanly and reads the winner's key."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, _generate_pem())
        os.fsync(fd)
        os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_bytes()


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, base64url."""
    required = {k: public_jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(orjson.dumps(required, option=orjson.OPT_SORT_KEYS)).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Signer:
    def __init__(self, private_pem: bytes) -> None:
        self._pem = private_pem
        public = jwk.construct(private_pem.decode(), ALGORITHM).public_key().to_dict()
        self.public_jwk: dict[str, Any] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in public.items()}
        self.kid = thumbprint(self.public_jwk)
        self.public_jwk |= {"kid": self.kid, "use": "sig", "alg": ALGORITHM}

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        if settings.audit_signing_key:
            return cls(settings.audit_signing_key.encode())
        return cls(load_or_create(settings.audit_signing_key_file))

    def sign(self, payload: dict[str, Any], typ: str) -> str:
        return str(jws.sign(orjson.dumps(payload), self._pem.decode(), algorithm=ALGORITHM,
                            headers={"kid": self.kid, "typ": typ}))  # fmt: skip

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}


def verify_jws(token: str, jwks: dict[str, Any], typ: str) -> dict[str, Any]:
    """The payload of ``token`` if it is an ES256 JWS of type ``typ`` by a key in ``jwks``."""
    try:
        header = jws.get_unverified_header(token)
        keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == header.get("kid")]
        if header.get("alg") != ALGORITHM or header.get("typ") != typ or not keys:
            raise BadSignature("signed by no key of the JWKS, or not a " + typ)
        payload = orjson.loads(jws.verify(token, keys[0], algorithms=[ALGORITHM]))
    except (JOSEError, orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise BadSignature(f"the signature does not verify ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise BadSignature("the payload is not an object")
    return payload
