"""Structured JSON logs with a request id; no token, password or body in any line."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import orjson
import pytest

from scim_server.observability import JsonFormatter
from tests.db import database_url
from tests.scim.conftest import user_body
from tests.servers import scim_bridge


def test_logs_are_json_with_request_id_and_no_secrets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "Pa55word-that-must-not-leak"
    with database_url("sqlite", tmp_path) as url, scim_bridge(url, access_log=True) as server:
        token = server.token("logs")
        headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "req-42"}
        with caplog.at_level(logging.INFO):
            created = httpx.post(server.scim + "/Users", json=user_body(password=secret), headers=headers)
            httpx.get(server.scim + "/Users", params={"filter": 'userName eq "x"'}, headers=headers)
            httpx.get(server.scim + "/Users", headers={"Authorization": "Bearer wrong-" + token})
    assert created.status_code == 201
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    access = [orjson.loads(line) for line in lines if '"scim_bridge.access"' in line]
    assert any(a["request_id"] == "req-42" and a["route"] == "/scim/v2/Users" and a["status"] == 201
               for a in access)  # fmt: skip
    assert {a["status"] for a in access} >= {201, 200, 401}
    for line in lines:
        assert token not in line and secret not in line and "userName eq" not in line
