"""Notification fixtures: a scim-bridge whose notifications go to a local SMTP server (aiosmtpd)
with quick retries, on SQLite and PostgreSQL, plus admin and SCIM clients of a fresh workspace."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.admin.conftest import github, sandbox  # noqa: F401  (the sandbox GitHub org the tests connect)
from tests.db import database_url
from tests.notify.receivers import MailSink
from tests.servers import RunningServer, scim_bridge


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    sink = MailSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def notify_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  mail: MailSink) -> Iterator[RunningServer]:  # fmt: skip
    directory: Path = tmp_path_factory.mktemp("notify-db")
    overrides = {"smtp_host": "127.0.0.1", "smtp_port": mail.port, "smtp_from": "bridge@example.com",
                 "notify_emails": ["instance-ops@example.com"], "notify_coalesce_seconds": 0.0,
                 "notify_poll_seconds": 0.05, "notify_retry_base_seconds": 0.1, "notify_retry_max_seconds": 0.4,
                 "public_base_url": "https://bridge.example.com"}  # fmt: skip
    with database_url(str(request.param), directory) as url, scim_bridge(url, **overrides) as running:
        yield running


@pytest.fixture
def ws_name() -> str:
    return f"ws-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def api(notify_server: RunningServer, ws_name: str) -> Iterator[httpx.Client]:
    token = notify_server.token(ws_name, "admin")
    with httpx.Client(base_url=notify_server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:  # fmt: skip
        yield client


@pytest.fixture
def scim(notify_server: RunningServer, ws_name: str) -> Iterator[httpx.Client]:
    token = notify_server.token(ws_name, "scim")
    with httpx.Client(base_url=notify_server.scim, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client

