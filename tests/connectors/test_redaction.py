"""``connectors.redaction``: URL credentials cut from log records and error messages, at the source."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator

import httpx
import orjson
import pytest

from connectors.base import Secret
from connectors.errors import InvalidRequest
from connectors.http import VendorHTTP
from connectors.redaction import credential_values, redact_url_credentials
from connectors.sandbox import SandboxClient
from connectors.tiktok_business.client import exchange_auth_code
from tests.contracts import FAST_SETTINGS
from tests.leaks import find_leaks, record_texts

TOKEN = "query-token-0123456789"


@pytest.mark.parametrize(("text", "expected"), [
    ("GET https://graph.facebook.com/v25.0/1?access_token=abc123&fields=id",
     "GET https://graph.facebook.com/v25.0/1?access_token=***&fields=id"),
    ('GET /cb?state=s1&auth_code=c0de&code=c0de HTTP/1.1"',
     'GET /cb?state=s1&auth_code=***&code=*** HTTP/1.1"'),
    ("https://h/x?Access_Token=abc;client_secret=xyz#f", "https://h/x?Access_Token=***;client_secret=***#f"),
    ("https://h/x?key=k1&API_KEY=k2&signature=s&appsecret_proof=p",
     "https://h/x?key=***&API_KEY=***&signature=***&appsecret_proof=***"),
    ("https://admin:hunter22@vendor.example/api", "https://admin:***@vendor.example/api"),
    ("https://h/x?page_token=abc&after=def&limit=5", "https://h/x?page_token=abc&after=def&limit=5"),
    ("user@example.com invited; role=admin", "user@example.com invited; role=admin"),
])  # fmt: skip
def test_credential_values_in_urls_become_stars(text: str, expected: str) -> None:
    assert redact_url_credentials(text) == expected


def test_credential_values_are_found_by_field_name() -> None:
    body, form = {"app_id": "7300", "secret": "app-s3cret"}, {"AUTH_CODE": "c0de42", "email": "x@y"}
    sent = credential_values(body, None, form)
    assert sent == {"app-s3cret", "c0de42"}


@pytest.fixture
def graph(sandbox: SandboxClient) -> Iterator[str]:
    sandbox.seed("meta_business", {"org": "1234567890123", "token": TOKEN})
    yield sandbox.kind_url("meta_business")


async def test_a_credential_sent_in_the_query_is_redacted_in_every_log_line(
    graph: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The query form still works (the sandbox takes it, as Graph does), and httpx's line for it,
    at INFO, reads ``access_token=***``."""
    http = VendorHTTP("meta_business", graph, auth_params={"access_token": Secret(TOKEN)},
                      settings=FAST_SETTINGS)
    try:
        with caplog.at_level(logging.DEBUG):
            body = await http.get_json("v25.0/1234567890123", operation="check", params={"fields": "id"})
    finally:
        await http.aclose()
    assert body == {"id": "1234567890123"}
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("access_token=***" in line for line in lines), lines
    assert find_leaks(record_texts(caplog.records), [TOKEN]) == []


async def test_meta_sends_its_token_in_a_bearer_header_and_never_in_the_url(graph: str) -> None:
    from connectors.base import AutomationAccount
    from connectors.meta_business import MetaBusinessConnector
    from connectors.registry import create_connector

    connector = create_connector("meta_business", account=AutomationAccount(api_token=Secret(TOKEN)), base_url=graph,
                                 business_id="1234567890123", settings=FAST_SETTINGS)
    assert isinstance(connector, MetaBusinessConnector)
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    connector.client.http._client.event_hooks["request"].append(record)  # observe what goes on the wire
    try:
        await connector.check()
    finally:
        await connector.aclose()
    assert sent and all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in sent)
    assert all(TOKEN not in str(r.url) for r in sent)


async def test_an_error_echoing_the_request_keeps_no_credential_of_it() -> None:
    """A vendor that echoes the request body and a signed URL in its error: the auth-code
    exchange's app secret and code, which ``VendorHTTP`` was never given as secrets, and the URL's
    signature are cut from the message."""

    def echo(request: httpx.Request) -> httpx.Response:  # a stand-in vendor, not the code under test
        signed = "https://vendor.example/r?signature=sig-98765"
        return httpx.Response(400, text=f"bad request {request.content.decode()}; retry at {signed}")

    http = VendorHTTP("tiktok_business", "https://business-api.example/open_api/v1.3", settings=FAST_SETTINGS,
                      transport=httpx.MockTransport(echo))
    try:
        with pytest.raises(InvalidRequest) as caught:
            await exchange_auth_code(http, "7300", Secret("app-s3cret-value"), "c0de-1234")
    finally:
        await http.aclose()
    message = f"{caught.value} {caught.value!r}"
    assert "bad request" in message and "7300" in message
    assert "app-s3cret-value" not in message and "c0de-1234" not in message and "sig-98765" not in message


def test_configure_logging_redacts_httpx_lines_from_the_start() -> None:
    """In a fresh process (no ``VendorHTTP`` built yet), the service's logging set-up alone puts the
    filter on httpx's logger: its request line is written with ``access_token=***``."""
    script = (
        "import logging, httpx\n"
        "from scim_server.observability import configure_logging\n"
        "configure_logging('INFO')\n"
        "url = httpx.URL('https://graph.example/v25.0/1?access_token=" + TOKEN + "&fields=id')\n"
        "logging.getLogger('httpx').info('HTTP Request: %s %s', 'GET', url)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          check=True)
    [line] = [orjson.loads(text) for text in done.stderr.splitlines() if '"httpx"' in text]
    assert line["msg"] == "HTTP Request: GET https://graph.example/v25.0/1?access_token=***&fields=id"
