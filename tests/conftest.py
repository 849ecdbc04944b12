"""Fixtures shared by the whole suite: real databases (SQLite file and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.db import database_url
from tests.servers import RunningServer, scim_bridge, serve_asgi

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile("default")


@pytest.fixture(params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Every storage test runs on both databases, for real."""
    return str(request.param)


@pytest.fixture
def db_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    with database_url(db_kind, tmp_path) as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory: Path = tmp_path_factory.mktemp("scim-db")
    with database_url(str(request.param), directory) as url, scim_bridge(url) as running:
        yield running


@pytest.fixture
def workspace() -> str:
    return f"ws-{uuid.uuid4().hex[:10]}"




@pytest.fixture(scope="session")
def vendor_sandbox() -> Iterator[str]:
    """The fake vendor APIs (connectors/sandbox) on a loopback port; yields its base URL."""
    from connectors.sandbox import create_sandbox_app

    with serve_asgi(create_sandbox_app("empty")) as url:
        yield url
