"""Waiting on the clock itself (not on an event): the access history is stamped in milliseconds
on SQLite, so a test asking about an instant first lets the clock leave that millisecond."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from scim_server.store.db import now


def leave_millisecond(at: datetime) -> None:
    """Return once the clock has left ``at``'s millisecond: a change made afterwards is stamped
    strictly later than ``at``."""
    boundary = at.replace(microsecond=at.microsecond // 1000 * 1000) + timedelta(milliseconds=1)
    while now() < boundary:
        time.sleep(0.0002)
