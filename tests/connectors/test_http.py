"""The HTTP policy: status map, wait hints, bounded retries, classifier hook, concurrency limit,
timeouts and secret scrubbing. The retry tests talk to a small scripted vendor on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate

import httpx
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    VendorUnavailable,
)
from connectors.http import HTTPSettings, VendorHTTP, iter_numbered_pages, raise_for_vendor, retry_after_hint
from tests.connectors.conftest import _free_port

SECRET = "s3cr3t-token-value"
FAST = HTTPSettings(timeout=2.0, max_attempts=4, backoff_base=0.001, backoff_max=0.005, max_retry_wait=0.01)


class Script:
    """Server-side record of what the scripted vendor saw."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.headers: dict[str, str] = {}
        self.events: dict[str, asyncio.Event] = {}

    def hit(self, key: str) -> int:
        self.calls[key] = self.calls.get(key, 0) + 1
        return self.calls[key]


def scripted_app(script: Script) -> Starlette:
    async def flaky(request: Request) -> JSONResponse:
        """Fails ``fail`` times with ``code`` (and ``retry-after`` if given), then succeeds."""
        q = request.query_params
        n = script.hit(request.path_params["key"])
        if n <= int(q.get("fail", "0")):
            headers = {"retry-after": q["retry_after"]} if "retry_after" in q else {}
            return JSONResponse({"message": "nope"}, int(q.get("code", "503")), headers=headers)
        return JSONResponse({"ok": True, "attempt": n})

    async def body_code(request: Request) -> JSONResponse:
        n = script.hit(request.path_params["key"])
        return JSONResponse({"code": 40100 if n <= 2 else 0, "message": "too frequent" if n <= 2 else "OK"})

    async def slow(request: Request) -> JSONResponse:
        counted = request.query_params.get("group") == "limit"
        script.in_flight += counted
        script.max_in_flight = max(script.max_in_flight, script.in_flight)
        await asyncio.sleep(float(request.query_params.get("s", "0.05")))
        script.in_flight -= counted
        return JSONResponse({"ok": True})

    async def leak(request: Request) -> JSONResponse:
        script.headers = dict(request.headers)
        return JSONResponse({"message": f"token {request.headers.get('authorization')} is bad"}, 400)

    async def pages(request: Request) -> JSONResponse:
        """GitHub-style numbered pages of ``total`` items with ``Link`` next/last; with ``grow``
        the listing gains a page once the first is served. A page after the first waits (up to a
        second) for another request of the listing to be in flight, so reading ahead is seen."""
        q, key = request.query_params, request.path_params["key"]
        per_page, page = int(q["per_page"]), int(q.get("page", "1"))
        total = int(q["total"]) + (per_page if "grow" in q and script.calls.get(key) else 0)
        script.hit(key)
        script.in_flight += 1
        script.max_in_flight = max(script.max_in_flight, script.in_flight)
        together = script.events.setdefault(key, asyncio.Event())
        if script.in_flight >= 2:
            together.set()
        if page > 1:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(together.wait(), 1.0)
        script.in_flight -= 1
        last = -(-total // per_page)
        links = [f'<{request.url.include_query_params(page=n)}>; rel="{rel}"'
                 for rel, n in (("next", page + 1), ("last", last)) if page < last]  # fmt: skip
        items = list(range((page - 1) * per_page, min(total, page * per_page)))
        return JSONResponse(items, headers={"link": ", ".join(links)} if links else {})

    return Starlette(routes=[
        Route("/pages/{key}", pages),
        Route("/flaky/{key}", flaky, methods=["GET", "POST"]),
        Route("/body/{key}", body_code),
        Route("/slow", slow),
        Route("/leak", leak),
    ])


@pytest.fixture(scope="module")
def vendor() -> Iterator[tuple[str, Script]]:
    script = Script()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(scripted_app(script), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", script
    server.should_exit = True
    thread.join(timeout=5)


def _key() -> str:
    return f"k{random.getrandbits(48)}"


# -- the status map (pure) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (401, {}, AuthError),
        (403, {}, PermissionDenied),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}, RateLimited),
        (403, {"retry-after": "3"}, RateLimited),
        (404, {}, NotFound),
        (400, {}, InvalidRequest),
        (409, {}, InvalidRequest),
        (422, {}, InvalidRequest),
        (429, {}, RateLimited),
        (500, {}, VendorUnavailable),
        (502, {}, VendorUnavailable),
        (503, {}, VendorUnavailable),
    ],
)
def test_status_map(status: int, headers: dict[str, str], error: type[ConnectorError]) -> None:
    response = httpx.Response(status, json={"message": "why"}, headers=headers)
    with pytest.raises(error) as caught:
        raise_for_vendor("kind", "op", response)
    assert type(caught.value) is error
    assert (caught.value.kind, caught.value.operation, caught.value.status) == ("kind", "op", status)
    assert "why" in str(caught.value)


@pytest.mark.parametrize("status", [200, 201, 204, 302])
def test_success_statuses_pass(status: int) -> None:
    raise_for_vendor("kind", "op", httpx.Response(status))


def test_classifier_runs_before_the_status_map() -> None:
    def classify(kind: str, operation: str, response: httpx.Response) -> ConnectorError | None:
        return RateLimited(kind, operation, "body says slow down") if response.json()["code"] == 40100 else None

    with pytest.raises(RateLimited):
        raise_for_vendor("tiktok", "op", httpx.Response(200, json={"code": 40100}), classify)
    raise_for_vendor("tiktok", "op", httpx.Response(200, json={"code": 0}), classify)


def test_retry_after_hints() -> None:
    now = 1_700_000_000.0
    assert retry_after_hint(httpx.Response(429, headers={"retry-after": "7"}), now) == 7
    date = formatdate(now + 30, usegmt=True)
    assert retry_after_hint(httpx.Response(429, headers={"retry-after": date}), now) == pytest.approx(30, abs=1)
    epoch = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 12)}
    assert retry_after_hint(httpx.Response(403, headers=epoch), now) == 12
    delta = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "60"}  # Calendly: seconds until reset
    assert retry_after_hint(httpx.Response(429, headers=delta), now) == 60
    assert retry_after_hint(httpx.Response(429), now) is None
    assert retry_after_hint(httpx.Response(403, headers={"x-ratelimit-reset": "60"}), now) is None


@given(
    attempt=st.integers(0, 30),
    base=st.floats(0.001, 5),
    cap=st.floats(0.01, 60),
    jitter=st.floats(0, 1),
    seed=st.integers(0, 2**32),
)
def test_backoff_is_bounded_and_jittered(attempt: int, base: float, cap: float, jitter: float, seed: int) -> None:
    settings = HTTPSettings(backoff_base=base, backoff_max=cap, jitter=jitter)
    ceiling = min(cap, base * 2**attempt)
    delay = settings.backoff(attempt, random.Random(seed))
    assert ceiling * (1 - jitter) - 1e-9 <= delay <= ceiling + 1e-9


@given(hint=st.floats(0, 10_000), cap=st.floats(0, 100))
def test_wait_honours_the_hint_up_to_the_cap(hint: float, cap: float) -> None:
    settings = HTTPSettings(max_retry_wait=cap)
    assert settings.wait_for(RateLimited("k", "op", retry_after=hint), 0, random.Random(0)) == min(hint, cap)


# -- the policy over real HTTP --------------------------------------------------------------------


async def test_retries_retryable_errors_until_success(vendor: tuple[str, Script]) -> None:
    base, _script = vendor
    key = _key()
    http = VendorHTTP("kind", base, settings=FAST)
    try:
        response = await http.request("GET", f"flaky/{key}", operation="op", params={"fail": 2, "code": 503})
    finally:
        await http.aclose()
    assert response.json() == {"ok": True, "attempt": 3}


async def test_gives_up_after_max_attempts(vendor: tuple[str, Script]) -> None:
    base, script = vendor
    key = _key()
    http = VendorHTTP("kind", base, settings=FAST)
    try:
        with pytest.raises(RateLimited):
            await http.request("GET", f"flaky/{key}", operation="op", params={"fail": 99, "code": 429})
    finally:
        await http.aclose()
    assert script.calls[key] == FAST.max_attempts


@pytest.mark.parametrize("code", [401, 403, 404, 422])
async def test_non_retryable_errors_fail_at_once(vendor: tuple[str, Script], code: int) -> None:
    base, script = vendor
    key = _key()
    http = VendorHTTP("kind", base, settings=FAST)
    try:
        with pytest.raises(ConnectorError) as caught:
            await http.request("GET", f"flaky/{key}", operation="op", params={"fail": 99, "code": code})
    finally:
        await http.aclose()
    assert caught.value.status == code and script.calls[key] == 1


async def test_retry_off_means_one_attempt(vendor: tuple[str, Script]) -> None:
    base, script = vendor
    key = _key()
    http = VendorHTTP("kind", base, settings=FAST)
    try:
        with pytest.raises(VendorUnavailable):
            await http.request("POST", f"flaky/{key}", operation="op", params={"fail": 1}, retry=False)
    finally:
        await http.aclose()
    assert script.calls[key] == 1


async def test_waits_what_the_vendor_says_capped(vendor: tuple[str, Script]) -> None:
    base, _ = vendor
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    settings = HTTPSettings(max_attempts=3, max_retry_wait=0.5)
    http = VendorHTTP("kind", base, settings=settings, sleep=record)
    try:
        await http.request("GET", f"flaky/{_key()}", operation="op",
                           params={"fail": 2, "code": 429, "retry_after": "0.2"})
        await http.request("GET", f"flaky/{_key()}", operation="op",
                           params={"fail": 1, "code": 429, "retry_after": "9000"})
    finally:
        await http.aclose()
    assert waits == [0.2, 0.2, 0.5]


async def test_classifier_signals_are_retried(vendor: tuple[str, Script]) -> None:
    base, _ = vendor

    def classify(kind: str, operation: str, response: httpx.Response) -> ConnectorError | None:
        body = response.json()
        return RateLimited(kind, operation, body["message"], vendor_code="40100") if body["code"] == 40100 else None

    http = VendorHTTP("tiktok_business", base, settings=FAST, classifier=classify)
    try:
        response = await http.request("GET", f"body/{_key()}", operation="op")
    finally:
        await http.aclose()
    assert response.json()["code"] == 0


async def test_timeouts_are_vendor_unavailable(vendor: tuple[str, Script]) -> None:
    base, _ = vendor
    settings = HTTPSettings(timeout=0.05, max_attempts=2, backoff_base=0.001)
    http = VendorHTTP("kind", base, settings=settings)
    try:
        with pytest.raises(VendorUnavailable, match="timeout"):
            await http.request("GET", "slow", operation="op", params={"s": 0.5})
    finally:
        await http.aclose()


async def test_connection_errors_are_vendor_unavailable() -> None:
    http = VendorHTTP("kind", f"http://127.0.0.1:{_free_port()}", settings=FAST)
    try:
        with pytest.raises(VendorUnavailable):
            await http.request("GET", "anything", operation="op")
    finally:
        await http.aclose()


async def test_concurrency_is_limited_per_app(vendor: tuple[str, Script]) -> None:
    base, script = vendor
    script.max_in_flight = 0
    http = VendorHTTP("kind", base, settings=HTTPSettings(concurrency=3))
    try:
        await asyncio.gather(*(http.request("GET", "slow", operation="op", params={"group": "limit"})
                               for _ in range(12)))
    finally:
        await http.aclose()
    assert 1 <= script.max_in_flight <= 3


async def test_credentials_are_sent_but_never_in_errors(vendor: tuple[str, Script]) -> None:
    base, script = vendor
    http = VendorHTTP("kind", base, auth_headers={"Authorization": f"Bearer {SECRET}"},
                      auth_params={"access_token": SECRET}, settings=FAST)
    try:
        with pytest.raises(InvalidRequest) as caught:
            await http.request("GET", "leak", operation="op")
    finally:
        await http.aclose()
    assert script.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert "***" in str(caught.value)


def test_an_absent_sniffio_fails_to_import_at_once() -> None:
    """httpcore imports sniffio for every lock and event of every request; when it is not
    installed, the policy module marks it absent so that import stops failing the slow way
    (a search of every path entry each time)."""
    import importlib.util
    import sys

    if importlib.util.find_spec("sniffio") is not None and sys.modules.get("sniffio") is not None:
        pytest.skip("sniffio is installed")
    assert "sniffio" in sys.modules and sys.modules["sniffio"] is None
    with pytest.raises(ModuleNotFoundError):
        import sniffio  # noqa: F401


async def _numbered(base: str, key: str, read_ahead: int, **query: object) -> list[int]:
    http = VendorHTTP("kind", base, settings=HTTPSettings(concurrency=8, read_ahead=read_ahead))
    try:
        return [item async for page in iter_numbered_pages(http, f"pages/{key}", operation="op",
                                                            params={"per_page": 3, **query})
                for item in page.json()]  # fmt: skip
    finally:
        await http.aclose()


async def test_numbered_pages_are_read_ahead_and_yielded_in_order(vendor: tuple[str, Script]) -> None:
    base, script = vendor
    script.max_in_flight = 0
    assert await _numbered(base, _key(), 3, total=20) == list(range(20))
    assert script.max_in_flight >= 2


async def test_numbered_pages_one_at_a_time_and_past_the_advertised_last(vendor: tuple[str, Script]) -> None:
    base, script = vendor
    script.max_in_flight = 0
    assert await _numbered(base, _key(), 1, total=7) == list(range(7))
    assert script.max_in_flight == 1
    assert await _numbered(base, _key(), 4, total=7, grow=1) == list(range(10))  # a page more than page 1 said
    assert await _numbered(base, _key(), 4, total=2) == [0, 1]  # a single page: no Link header


async def test_leaving_a_numbered_listing_early_cancels_the_pages_ahead(vendor: tuple[str, Script]) -> None:
    base, _ = vendor
    http = VendorHTTP("kind", base, settings=HTTPSettings(read_ahead=4))
    pages = iter_numbered_pages(http, f"pages/{_key()}", operation="op", params={"per_page": 1, "total": 50})
    try:
        assert [(await anext(pages)).json() for _ in range(3)] == [[0], [1], [2]]
        await pages.aclose()
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    finally:
        await http.aclose()
