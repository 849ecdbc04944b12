"""Local receivers the notification tests deliver to, each a real server on loopback:

- ``WebhookReceiver``: an HTTP server that checks ``X-Scim-Bridge-Signature`` (HMAC-SHA256 over
  the raw body) and keeps what it accepted; it can be stopped and started again on its port.
- ``MailSink``: an aiosmtpd SMTP server keeping each message it is handed.
- ``HecReceiver``: a Splunk HTTP Event Collector that checks ``Authorization: Splunk <token>``.
- ``SyslogReceiver``: a TCP server reading RFC 6587 octet-counted RFC 5424 messages.
"""

from __future__ import annotations

import hashlib
import hmac
import socketserver
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from aiosmtpd.controller import Controller

from tests.servers import free_port


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class _HttpReceiver:
    """An HTTP receiver on a fixed port that can go down and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def handle(self, headers: Any, body: bytes) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.handle(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class WebhookReceiver(_HttpReceiver):
    def __init__(self, secret: str = "") -> None:
        super().__init__()
        self.secret = secret

    def handle(self, headers: Any, body: bytes) -> int:
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        with self.lock:
            if not hmac.compare_digest(expected, headers.get("X-Scim-Bridge-Signature", "")):
                self.refused += 1
                return 401
            if self.status == 200:
                self.received.append({"delivery": headers.get("X-Scim-Bridge-Delivery"),
                                      "event": headers.get("X-Scim-Bridge-Event"), "body": orjson.loads(body)})  # fmt: skip
            return self.status


class HecReceiver(_HttpReceiver):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.batches = 0

    def handle(self, headers: Any, body: bytes) -> int:
        with self.lock:
            if headers.get("Authorization") != f"Splunk {self.token}":
                self.refused += 1
                return 401
            if self.status != 200:
                return self.status
            self.batches += 1
            self.received += [orjson.loads(line) for line in body.splitlines() if line.strip()]
            return 200


class _MailHandler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.sink.lock:
            message = message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default)
            self.sink.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server (aiosmtpd) on a fixed port; ``options`` go to its ``Controller`` (e.g. an
    ``authenticator``). It can be stopped and started again."""

    def __init__(self, **options: Any) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.options = options
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port,
                                     **self.options)  # fmt: skip
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class SyslogReceiver:
    """Reads ``LEN SP MSG`` frames; keeps each message's bytes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.messages: list[bytes] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    length = b""
                    while (ch := self.rfile.read(1)) not in (b" ", b""):
                        length += ch
                    if not length:
                        return
                    message = self.rfile.read(int(length))
                    with receiver.lock:
                        receiver.messages.append(message)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


__all__ = ["HecReceiver", "MailSink", "SyslogReceiver", "WebhookReceiver"]
