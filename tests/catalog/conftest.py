"""The admin API fixtures (a fresh workspace's admin client, the sandbox) for catalog tests."""

from __future__ import annotations

from tests.admin.conftest import admin, sandbox

__all__ = ["admin", "sandbox"]
