"""The webhook and notification-settings API: bad input is a 400 with nothing written, another
workspace's webhook is a 404, a receiver with another secret refuses the signature (and the
delivery is retried), deleting a webhook cancels what it had pending; no secret in any log line."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Connection, select

from scim_server.notify import enqueue
from scim_server.notify.deliveries import deliveries
from scim_server.store import tenancy
from tests.notify.receivers import WebhookReceiver
from tests.servers import RunningServer
from tests.waiting import wait_for

SECRET = "whsec-api-test-secret-4f1c9a"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver("another-secret-entirely-000")
    hook.start()
    yield hook
    hook.stop()


def test_bad_input_is_refused_and_nothing_is_written(api: httpx.Client) -> None:
    for body in ({"url": "ftp://example.com/x"}, {"url": "https://user:pw@example.com/x"}, {"url": "/relative"},
                 {"url": "https://example.com", "secret": "short"}, {"url": "https://example.com", "extra": 1}):  # fmt: skip
        response = api.post("/webhooks", json=body)
        assert response.status_code == 400, (body, response.text)
    for emails in (["not an email"], ["a@b", "c@d,e@f"], ["x@y\r\nBcc: z@w"]):
        assert api.put("/notifications/settings", json={"emails": emails}).status_code == 400
    assert api.get("/webhooks").json()["items"] == []
    assert api.get("/notifications/settings").json()["emails"] == []
    assert api.get("/audit", params={"action": "notify.*"}).json()["items"] == []


def test_webhooks_belong_to_their_workspace(notify_server: RunningServer, api: httpx.Client) -> None:
    hook = api.post("/webhooks", json={"url": "https://hooks.example.com/in"}).json()
    assert len(hook["secret"]) >= 32  # generated
    other_token = notify_server.token("someone-else", "admin")
    other = {"Authorization": f"Bearer {other_token}"}
    base = notify_server.url + "/api/v1"
    assert httpx.get(f"{base}/webhooks", headers=other).json()["items"] == []
    assert httpx.delete(f"{base}/webhooks/{hook['id']}", headers=other).status_code == 404
    assert httpx.get(f"{base}/webhooks/{hook['id']}/deliveries", headers=other).status_code == 404
    scim_token = notify_server.token("someone-else", "scim")
    assert httpx.get(f"{base}/webhooks", headers={"Authorization": f"Bearer {scim_token}"}).status_code == 403
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 404


def test_wrong_signature_is_refused_retried_and_cancelled_on_delete(
    notify_server: RunningServer, api: httpx.Client, ws_name: str, receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    hook = api.post("/webhooks", json={"url": receiver.url, "secret": SECRET}).json()

    def failed_job(conn: Connection) -> str:
        ws = tenancy.workspace_id(conn, ws_name)
        return enqueue(conn, ws, "job.failed", {"job_id": "j-1", "job_kind": "remove", "error": "HTTP 500", "people": []})

    notify_server.db.write_sync(failed_job)
    retried = wait_for(lambda: [d for d in api.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
                                  if d["attempts"] >= 2])  # fmt: skip
    assert retried[0]["status"] == "pending" and retried[0]["last_error"] == "HTTP 401"
    assert retried[0]["response_status"] == 401 and receiver.refused >= 1 and receiver.received == []  # attempt 2 claimed
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 204
    status = notify_server.db.read_sync(lambda conn: conn.execute(
        select(deliveries.c.status).where(deliveries.c.id == retried[0]["id"])).scalar())  # fmt: skip
    assert status == "cancelled"
    trail = api.get("/audit", params={"action": "notify.webhook.*"}).text
    assert "notify.webhook.delete" in trail and SECRET not in trail
    assert SECRET not in caplog.text
