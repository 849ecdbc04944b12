"""Email delivery against a local SMTP server (aiosmtpd): a server that is down when the
notification is due gets it once it is back (retried with backoff, sent once); SMTP login works,
and a refused login says ``SMTP 535`` without echoing the password."""

from __future__ import annotations

from typing import Any

import httpx
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Connection

from scim_server.notify import enqueue
from scim_server.notify.message import Notice
from scim_server.notify.send import build_email, send_email
from scim_server.settings import Settings
from scim_server.store import tenancy
from tests.notify.receivers import MailSink
from tests.servers import RunningServer
from tests.waiting import wait_for

PASSWORD = "smtp-pass-9c1e77f0"


def emails(api: httpx.Client) -> list[dict[str, Any]]:
    response = api.get("/notifications/deliveries", params={"channel": "email"})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_a_stopped_mail_server_gets_the_message_once_it_is_back(
    notify_server: RunningServer, api: httpx.Client, ws_name: str, mail: MailSink,
) -> None:  # fmt: skip
    assert api.put("/notifications/settings", json={"emails": ["oncall@example.com"]}).status_code == 200

    def failed_job(conn: Connection) -> str:
        data = {"job_id": "job-42", "job_kind": "remove", "error": "VendorUnavailable: 503",
                "people": [{"email": "ada@example.com", "display_name": "Ada"}]}  # fmt: skip
        return enqueue(conn, tenancy.workspace_id(conn, ws_name), "job.failed", data)

    mail.stop()
    try:
        event_id = notify_server.db.write_sync(failed_job)
        failing = wait_for(lambda: [d for d in emails(api) if d["attempts"] >= 2])
        assert failing[0]["status"] == "pending" and failing[0]["last_error"] == "ConnectionRefusedError"
    finally:
        mail.start()
    wait_for(lambda: [d for d in emails(api) if d["status"] == "delivered"])
    with mail.lock:
        ours = [(to, m) for to, m in mail.messages if event_id in m["Message-ID"]]
    assert len(ours) == 1 and len(emails(api)) == 1
    to, message = ours[0]
    assert sorted(to) == ["instance-ops@example.com", "oncall@example.com"]
    assert message["Subject"] == "[scim-bridge] Automation job failed in scim-bridge: 1 person"
    body = message.get_content()
    assert "Job: remove job-42" in body and "Ada <ada@example.com>" in body
    assert "https://bridge.example.com/console/automation/job-42" in body
    assert api.get("/notifications/deliveries", params={"channel": "fax"}).status_code == 400


async def test_smtp_login_and_a_refused_login_without_the_password() -> None:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    sink = MailSink(authenticator=authenticator, auth_require_tls=False)
    sink.start()
    try:
        notice = Notice("n-login", 1, "report.opened", {"report_id": "r-9", "people": []}, None)
        good = Settings(smtp_host="127.0.0.1", smtp_port=sink.port, smtp_username="bridge", smtp_password=PASSWORD)
        assert await send_email(good, build_email(good, notice, "http://x", ["a@example.com"])) is None
        bad = good.model_copy(update={"smtp_password": "wrong-" + PASSWORD})
        error = await send_email(bad, build_email(bad, notice, "http://x", ["a@example.com"]))
        assert error == "SMTP 535" and PASSWORD not in error
    finally:
        sink.stop()
    assert len(sink.messages) == 1 and sink.messages[0][0] == ["a@example.com"]
