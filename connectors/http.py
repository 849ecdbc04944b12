"""The one HTTP policy every API connector uses, and the one vendor-status-to-error map.

``VendorHTTP`` wraps ``httpx.AsyncClient`` with: a base URL, auth headers/params supplied by the
kind (sent, never logged, scrubbed from error messages, as are credential-named request fields and
URL credentials: ``connectors.redaction``), timeouts, bounded retries with exponential
backoff and jitter on ``RetryableError`` only (honouring ``Retry-After``, ``X-RateLimit-Reset`` and
vendor body hints), and an ``asyncio.Semaphore`` limiting concurrent requests per app.

Vendors whose errors live in the body plug a ``Classifier`` into the same policy::

    def classify(kind: str, operation: str, response: httpx.Response) -> ConnectorError | None:
        body = response.json()
        if body.get("code") == 40100:                       # TikTok: throttled, in an HTTP 200
            return RateLimited(kind, operation, body["message"], vendor_code="40100")
        return None                                         # fall through to the status map

    http = VendorHTTP("tiktok_business", base_url, auth_headers={"Access-Token": token},
                      settings=settings, classifier=classify)

The classifier sees every response (2xx included) before the status map; returning an error raises
it (and retries it if it is a ``RetryableError``); returning ``None`` applies ``raise_for_vendor``.
An ``AuthError`` is never retried, so an expired token fails at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import importlib.util
import logging
import random
import ssl
import sys
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from connectors.base import Secret
from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    RetryableError,
    VendorUnavailable,
)
from connectors.redaction import credential_values, install_log_redaction, scrub

__all__ = [
    "Classifier",
    "HTTPSettings",
    "VendorHTTP",
    "iter_link_pages",
    "iter_numbered_pages",
    "raise_for_vendor",
    "retry_after_hint",
    "vendor_message",
]

log = logging.getLogger("connectors.http")
T = TypeVar("T")

Classifier = Callable[[str, str, httpx.Response], ConnectorError | None]
"""``(kind, operation, response) -> error or None``: a kind's body-level error signals."""


@dataclass(frozen=True, slots=True)
class HTTPSettings:
    """Tunables of the policy. Tests use tiny delays; production keeps the defaults.

    :param timeout: seconds for a whole read/write; ``connect_timeout`` for connecting.
    :param max_attempts: total tries per request (1 = no retry).
    :param backoff_base: first backoff in seconds; doubles per attempt up to ``backoff_max``.
    :param jitter: fraction of each backoff randomised away (0 = none, 1 = full jitter).
    :param max_retry_wait: cap on a vendor's wait hint (a hint beyond it is clipped).
    :param concurrency: concurrent requests per app (per ``VendorHTTP``).
    :param page_size: page size a connector asks for; ``None`` = the vendor's maximum.
    :param read_ahead: pages of one listing in flight at once where the vendor numbers its pages
        (``iter_numbered_pages``), also bounded by ``concurrency``; 1 = one page at a time.
    """

    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 0.5
    max_retry_wait: float = 120.0
    concurrency: int = 8
    page_size: int | None = None
    read_ahead: int = 4

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based) when the vendor gave no hint."""
        delay = min(self.backoff_max, self.backoff_base * (2.0**attempt))
        return delay * (1.0 - self.jitter * rng.random())

    def wait_for(self, error: RetryableError, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after ``error``: the vendor's hint (capped), else exponential backoff."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return max(0.0, min(error.retry_after, self.max_retry_wait))
        return self.backoff(attempt, rng)


def retry_after_hint(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (RFC 9110 10.2.3: seconds or HTTP-date), else from
    ``X-RateLimit-Reset`` when ``X-RateLimit-Remaining`` is 0.

    ``X-RateLimit-Reset`` is an epoch time at GitHub and a delta in seconds at Calendly; a value
    above 10^9 is taken as an epoch time.
    """
    now = time.time() if now is None else now
    value = response.headers.get("retry-after")
    if value:
        return _parse_retry_after(value, now)
    reset = response.headers.get("x-ratelimit-reset")
    if reset and response.headers.get("x-ratelimit-remaining") == "0":
        try:
            number = float(reset)
        except ValueError:
            return None
        return max(0.0, number - now) if number > 1e9 else max(0.0, number)
    return None


def _parse_retry_after(value: str, now: float) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - now) if parsed is not None else None


def vendor_message(response: httpx.Response, limit: int = 300) -> str:
    """The vendor's human explanation from a JSON error body, best effort, truncated."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:limit]
    return _message_from(body)[:limit]


def _message_from(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "error_description", "detail", "title", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                return _message_from(value)
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return _message_from(errors[0])
    return str(body) if not isinstance(body, dict) else ""


def raise_for_vendor(
    kind: str,
    operation: str,
    response: httpx.Response,
    classifier: Classifier | None = None,
) -> None:
    """Raise the ``ConnectorError`` a vendor response means; return for a success.

    The single status map (baton ``GrpcCodeFromHTTPStatus``): 401 -> ``AuthError``; 403 ->
    ``PermissionDenied``, except a 403 with ``x-ratelimit-remaining: 0`` or ``Retry-After`` (GitHub's
    primary/secondary limits) -> ``RateLimited``; 404 -> ``NotFound``; 400/409/422 and other 4xx ->
    ``InvalidRequest``; 429 -> ``RateLimited``; 5xx -> ``VendorUnavailable``. ``classifier`` runs
    first, for vendors that signal errors in the body.
    """
    if classifier is not None:
        error = classifier(kind, operation, response)
        if error is not None:
            raise error
    status = response.status_code
    if status < 400:
        return
    raise _status_error(kind, operation, response)


def _status_error(kind: str, operation: str, response: httpx.Response) -> ConnectorError:
    status = response.status_code
    detail = vendor_message(response)
    if status == 429 or (status == 403 and _throttled_403(response)):
        return RateLimited(kind, operation, detail, retry_after=retry_after_hint(response), status=status)
    table: dict[int, type[ConnectorError]] = {401: AuthError, 403: PermissionDenied, 404: NotFound}
    if status in table:
        return table[status](kind, operation, detail, status=status)
    if status >= 500:
        return VendorUnavailable(kind, operation, detail, status=status)
    return InvalidRequest(kind, operation, detail, status=status, vendor_code=_first_code(response))


def _throttled_403(response: httpx.Response) -> bool:
    headers = response.headers
    return headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers


def _first_code(response: httpx.Response) -> str | None:
    """``errors[0].code`` when the body carries one (GitHub 422 ``already_exists`` ...)."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
        return str(code) if code is not None else None
    return None


def _settle_sniffio() -> None:
    """Make ``import sniffio`` fail at once when sniffio is not installed (anyio 4 no longer pulls
    it in, and the lock does not carry it). httpcore tries that import for every lock and event
    it sets up, several per request, and a failed import is not remembered: each one searched
    every ``sys.path`` entry again, 3-5 % of a check's CPU. ``None`` in ``sys.modules`` is
    Python's own marker for "this import fails" (``ModuleNotFoundError``, which every caller
    expects); an installed sniffio is left alone."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_settle_sniffio()


@functools.cache
def _tls() -> ssl.SSLContext:
    """The one TLS context every client shares: building one loads the CA bundle, 30-50 ms of
    CPU on the event loop, and a connector (so a client) is built for every job."""
    return httpx.create_ssl_context()


class VendorHTTP:
    """One app's HTTP client: the policy above around ``httpx.AsyncClient``.

    :param kind: catalog kind, used in errors and logs.
    :param base_url: production or sandbox base; paths are relative to it.
    :param auth_headers: credential headers (values are secrets: never logged, scrubbed).
    :param auth_params: credential query parameters (Meta ``access_token``), same treatment.
    :param headers: other headers sent on every request (``Accept``, API version ...).
    :param classifier: body-level error signals of the kind, see the module docstring.
    :param transport: an httpx transport, for in-process use (``httpx.ASGITransport``).
    :param rng: seeded in tests that need repeatable jitter.
    """

    def __init__(
        self,
        kind: str,
        base_url: str,
        *,
        auth_headers: Mapping[str, Secret | str] | None = None,
        auth_params: Mapping[str, Secret | str] | None = None,
        headers: Mapping[str, str] | None = None,
        settings: HTTPSettings | None = None,
        classifier: Classifier | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.kind = kind
        self.settings = settings or HTTPSettings()
        self._classifier = classifier
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        install_log_redaction()  # httpx logs every URL it requests
        self._secrets = _reveal_all(auth_headers) | _reveal_all(auth_params)
        self._auth_params = {k: _reveal(v) for k, v in (auth_params or {}).items()}
        all_headers = dict(headers or {}) | {k: _reveal(v) for k, v in (auth_headers or {}).items()}
        unsendable = sorted(name for name, value in all_headers.items() if not _header_safe(value))
        if unsendable:  # the value is a credential: only the header's name is named
            raise InvalidRequest(kind, "connect", f"{', '.join(unsendable)}: the credential must be printable ASCII")
        timeout = httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=all_headers, timeout=timeout,
            transport=transport, follow_redirects=False, verify=_tls(),
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """Send one request under the policy; return a success response or raise.

        Retries ``RetryableError`` (up to ``settings.max_attempts`` tries) when ``retry`` is true;
        a non-idempotent call that may have taken effect before a timeout must be made idempotent by
        its connector (look the effect up after an ``InvalidRequest`` on the retry).
        """
        attempts = self.settings.max_attempts if retry else 1
        for attempt in range(attempts):
            try:
                return await self._send_once(method, path, operation, params, json, data, headers)
            except RetryableError as error:
                if attempt + 1 >= attempts:
                    raise
                wait = self.settings.wait_for(error, attempt, self._rng)
                log.info("%s %s: %s; retry %d in %.2fs", self.kind, operation,
                         type(error).__name__, attempt + 1, wait)
                await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_json(
        self, path: str, *, operation: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        """``GET`` and decode JSON."""
        return (await self.request("GET", path, operation=operation, params=params)).json()

    async def _send_once(
        self,
        method: str,
        path: str,
        operation: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        merged = {**self._auth_params, **(params or {})} if self._auth_params else params
        async with self._semaphore:
            try:
                response = await self._client.request(
                    method, path, params=merged, json=json, data=data, headers=headers
                )
            except httpx.TimeoutException as exc:
                raise VendorUnavailable(self.kind, operation, f"timeout ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                raise VendorUnavailable(self.kind, operation, type(exc).__name__) from None
        log.debug("%s %s %s %s -> %d", self.kind, operation, method, response.url.path,
                  response.status_code)
        try:
            raise_for_vendor(self.kind, operation, response, self._classifier)
        except ConnectorError as error:
            sent = credential_values(params, data, json if isinstance(json, Mapping) else None)
            raise self._scrubbed(error, sent) from None
        return response

    def _scrubbed(self, error: ConnectorError, sent: set[str]) -> ConnectorError:
        """``error`` with the credentials of this client and of this request (``sent``) and any URL
        credential cut from its detail: a vendor may echo the request back."""
        clean = scrub(error.detail, self._secrets | sent)
        if clean != error.detail:
            error.detail = clean
            error.args = (error._message(),)
        return error


def _header_safe(value: str) -> bool:
    """Whether ``value`` can travel in an HTTP/1.1 header (RFC 9110 §5.5: visible ASCII,
    spaces and tabs); anything else fails to encode, or is refused by the HTTP layer."""
    return all(" " <= c <= "~" or c == "\t" for c in value)


def _reveal(value: Secret | str) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _reveal_all(values: Mapping[str, Secret | str] | None) -> set[str]:
    revealed = {_reveal(v) for v in (values or {}).values()}
    # "Bearer <token>": scrub the bare token too.
    return revealed | {v.split(" ", 1)[1] for v in revealed if " " in v}


async def iter_link_pages(
    http: VendorHTTP,
    path: str,
    *,
    operation: str,
    params: Mapping[str, Any] | None = None,
) -> AsyncIterator[httpx.Response]:
    """Yield each page of an RFC 8288 ``Link``-paged listing (GitHub), following ``rel="next"``.

    The first request uses ``path`` and ``params``; later ones use the absolute ``next`` URL the
    vendor advertised, which already carries the query. Stops when no ``next`` link is present.
    """
    response = await http.request("GET", path, operation=operation, params=params)
    async for page in _follow_next(http, response, operation):
        yield page


async def _follow_next(http: VendorHTTP, response: httpx.Response, operation: str) -> AsyncIterator[httpx.Response]:
    """``response``, then each page its ``rel="next"`` links lead to, one after the other."""
    while True:
        yield response
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            return
        response = await http.request("GET", next_url, operation=operation)


async def iter_numbered_pages(
    http: VendorHTTP,
    path: str,
    *,
    operation: str,
    params: Mapping[str, Any] | None = None,
    page_param: str = "page",
) -> AsyncIterator[httpx.Response]:
    """``iter_link_pages`` for a vendor whose ``Link`` header also names the ``rel="last"`` page
    and whose pages are numbered by a query parameter (GitHub's ``page``): once the first page
    says how many there are, up to ``settings.read_ahead`` of the next pages are requested at
    once and yielded in order. A listing is then paced by the slower of the two sides, not
    by the sum of every page's round trip, vendor time and parsing.

    Without a usable ``last`` link it follows ``next`` links one by one; after the advertised
    last page it keeps following ``next`` too (members added meanwhile).
    """
    first = await http.request("GET", path, operation=operation, params=params)
    yield first
    last_url = first.links.get("last", {}).get("url")
    last = _page_number(last_url, page_param) if last_url else None
    if last_url is None or last is None or "next" not in first.links:
        async for page in _follow_next(http, first, operation):
            if page is not first:
                yield page
        return
    template = httpx.URL(last_url)
    calls = (_getter(http, str(template.copy_set_param(page_param, n)), operation) for n in range(2, last + 1))
    final = first
    async with contextlib.aclosing(_ahead(calls, http.settings.read_ahead)) as ahead:
        async for page in ahead:
            final = page
            yield page
    async for page in _follow_next(http, final, operation):
        if page is not final:
            yield page


def _page_number(url: str, page_param: str) -> int | None:
    value = httpx.URL(url).params.get(page_param)
    return int(value) if value is not None and value.isdigit() else None


def _getter(http: VendorHTTP, url: str, operation: str) -> Callable[[], Awaitable[httpx.Response]]:
    return lambda: http.request("GET", url, operation=operation)


async def _ahead(calls: Iterable[Callable[[], Awaitable[T]]], window: int) -> AsyncGenerator[T, None]:
    """The results of ``calls`` in order, with up to ``window`` of them running at once. The
    first failure is raised in its turn; leaving early cancels what is still running."""
    pending: deque[asyncio.Future[T]] = deque()
    try:
        for call in calls:
            pending.append(asyncio.ensure_future(call()))
            if len(pending) >= max(1, window):
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
