"""The composition root's product: what handlers reach through ``request.app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from scim_server.auth import Authenticator
from scim_server.settings import Settings
from scim_server.store.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    auth: Authenticator
