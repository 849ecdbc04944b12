"""Automation-account secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``.

The key comes from ``SCIM_BRIDGE_SECRET_KEY``, or from the key file (created with mode 0600
on first use, so the embedded default works out of the box). Decrypted accounts exist only
in memory, wrapped in ``connectors.base.Secret`` whose repr is ``***``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from scim_server.settings import Settings


class VaultError(Exception):
    """The stored secret cannot be decrypted with the configured key."""


def _load_key(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path: Path = settings.secret_key_file
    if path.exists():
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


class Vault:
    def __init__(self, settings: Settings) -> None:
        self._fernet = Fernet(_load_key(settings))

    def __repr__(self) -> str:
        return "Vault(***)"

    def seal(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(values)).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            return dict(orjson.loads(self._fernet.decrypt(sealed.encode())))
        except InvalidToken:
            raise VaultError("The automation account cannot be decrypted with the configured key.") from None
