"""A deprovision report notifies end to end: a SCIM deactivation opens the report, and in the same
transaction an outbox row; the worker then emails the configured addresses and the app's owners
(a local aiosmtpd server) and posts a signed webhook to a local receiver. The receiver is down
when the report opens: the delivery is retried with backoff and, once it is back, arrives once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from connectors.sandbox import SandboxClient
from scim_server.notify import reminders
from tests.admin.helpers import check, connect, members, scim_user, wait_idle
from tests.notify.receivers import MailSink, WebhookReceiver
from tests.servers import RunningServer
from tests.waiting import wait_for

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SECRET = "whsec-test-0123456789-abcdef"


def deactivate(scim: httpx.Client, user_id: str) -> None:
    body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert scim.patch(f"/Users/{user_id}", json=body).status_code == 200


def deliveries(api: httpx.Client, hook_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/webhooks/{hook_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def report_of(api: httpx.Client, app_id: str) -> dict[str, Any]:
    return dict(api.get("/reports", params={"app_id": app_id, "status": "pending"}).json()["items"][0])


def test_report_opened_emails_owners_and_webhook_survives_a_stopped_receiver(
    notify_server: RunningServer, api: httpx.Client, scim: httpx.Client, sandbox: SandboxClient,
    github: dict[str, Any], mail: MailSink,
) -> None:  # fmt: skip
    receiver = WebhookReceiver(SECRET)
    receiver.start()
    created = api.post("/webhooks", json={"url": receiver.url + "?token=receiver-query-secret", "secret": SECRET})
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"] == SECRET and "receiver-query-secret" not in hook["url"]
    listed = api.get("/webhooks")
    assert [h["id"] for h in listed.json()["items"]] == [hook["id"]] and SECRET not in listed.text
    assert api.put("/notifications/settings", json={"emails": ["secops@example.com"]}).status_code == 200

    ada = scim_user(scim, "ada@example.com")
    grace = scim_user(scim, "grace@example.com")
    app_id = connect(api, sandbox, github, policy="report")
    check(api, app_id)
    wait_idle(api, app_id)
    matched = members(api, app_id, "matched")
    owner = api.patch(f"/apps/{app_id}/members/{matched['ada@example.com']['id']}", json={"bridge_role": "owner"})
    assert owner.status_code == 200, owner.text
    assert ada

    receiver.stop()
    deactivate(scim, grace)
    failing = wait_for(lambda: [d for d in deliveries(api, hook["id"]) if d["attempts"] >= 2])
    assert failing[0]["status"] == "pending" and failing[0]["last_error"] == "ConnectError"
    assert receiver.received == []

    receiver.start()
    try:
        done = wait_for(lambda: [d for d in deliveries(api, hook["id"]) if d["status"] == "delivered"])
    finally:
        receiver.stop()
    assert len(done) == 1 and len(deliveries(api, hook["id"])) == 1
    assert len(receiver.received) == 1 and receiver.refused == 0
    got = receiver.received[0]
    report = report_of(api, app_id)
    assert got["event"] == "report.opened" and got["delivery"] == done[0]["id"]
    assert got["body"]["data"]["report_id"] == report["id"] and got["body"]["data"]["app_label"] == "Eng"
    assert [p["email"] for p in got["body"]["data"]["people"]] == ["grace@example.com"]
    assert got["body"]["link"] == f"https://bridge.example.com/console/reports#report-{report['id']}"

    def mail_for_report() -> Any:
        with mail.lock:
            return [(to, m) for to, m in mail.messages if report["id"] in m.get_content()]

    to, message = wait_for(mail_for_report)[0]
    assert sorted(to) == ["ada@example.com", "instance-ops@example.com", "secops@example.com"]
    assert message["Subject"] == "[scim-bridge] New deprovision report in Eng: 1 person"
    text = message.get_content()
    assert "grace@example.com" in text and "App: Eng (github" in text
    assert f"https://bridge.example.com/console/reports#report-{report['id']}" in text

    trail = api.get("/audit", params={"action": "notify.*"}).json()["items"]
    assert {e["action"] for e in trail} == {"notify.webhook.create", "notify.settings.update"}
    assert SECRET not in orjson.dumps(trail).decode() and "receiver-query-secret" not in orjson.dumps(trail).decode()


def test_reminders_follow_the_ladder_while_the_report_stays_pending(
    notify_server: RunningServer, api: httpx.Client, scim: httpx.Client, sandbox: SandboxClient,
    github: dict[str, Any],
) -> None:  # fmt: skip
    grace = scim_user(scim, "grace@example.com")
    app_id = connect(api, sandbox, github, policy="report")
    check(api, app_id)
    wait_idle(api, app_id)
    deactivate(scim, grace)
    report = wait_for(lambda: api.get("/reports", params={"app_id": app_id, "status": "pending"}).json()["items"])[0]
    opened = datetime.fromisoformat(report["created"])
    opened = opened if opened.tzinfo else opened.replace(tzinfo=UTC)
    ladder = reminders.Ladder.from_settings(notify_server.settings)
    db = notify_server.db

    def remind(after: timedelta) -> int:
        return db.write_sync(lambda conn: reminders.queue_due(conn, opened + after, ladder))

    def ours() -> list[dict[str, Any]]:
        rows = db.read_sync(lambda conn: conn.exec_driver_sql(
            "SELECT data FROM notify_events WHERE kind = 'report.reminder'").all())  # fmt: skip
        return [d for (raw,) in rows if (d := orjson.loads(raw))["report_id"] == report["id"]]

    assert remind(timedelta(hours=23)) == 0 or not ours()
    remind(timedelta(days=1, seconds=1))
    assert len(ours()) == 1 and ours()[0]["people"][0]["email"] == "grace@example.com"
    remind(timedelta(days=2))
    assert len(ours()) == 1
    remind(timedelta(days=3, seconds=1))
    assert len(ours()) == 2
    remind(timedelta(days=9))
    assert len(ours()) == 2
    remind(timedelta(days=10, seconds=1))
    assert len(ours()) == 3
    remind(timedelta(days=40))  # down for weeks: one reminder, not a burst
    assert len(ours()) == 4
