"""The document and the application agree on which (method, path) pairs exist.

The route table is read from the application ``create_app`` really builds (every ``Route``,
through every ``Mount``), not from a list kept beside it, so a route added anywhere under the
two API faces (``/api/...`` and ``/scim/...``) fails here until openapi/openapi.yaml
describes it, and an operation left in the document after its route is gone fails too.
Operational endpoints outside the API faces (``/healthz``, ``/metrics``...) are not part of
the document.

To add a route: add its path under ``paths:`` in openapi/openapi.yaml exactly as the client
sees it (mount prefix included, ``{name}`` for each path parameter, no ``:convertor``), one
key per method with an ``operationId`` and every status the handler can answer; then
tests/openapi/test_schemathesis.py fuzzes it with every schemathesis check on both databases.

The 405 test asks the live server: for each documented path, a method it does not serve is a
405 whose ``Allow`` lists exactly the documented methods (plus HEAD with GET, which Starlette
serves implicitly).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from starlette.routing import BaseRoute, Mount, Route

from scim_server.app import create_app
from scim_server.settings import Settings
from tests.openapi.spec import raw_spec
from tests.servers import RunningServer

API_FACES = ("/api/", "/scim/", "/.well-known/")
HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}
_CONVERTOR = re.compile(r"\{(\w+):\w+\}")


def _walk(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _walk(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = _CONVERTOR.sub(r"{\1}", prefix + route.path)
            for method in route.methods or ():
                if method != "HEAD":  # implied by GET (RFC 9110 §9.3.2); not an operation of its own
                    yield method, path


def served_operations(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path) for every route of the application under the API faces."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}",
                        secret_key=Fernet.generate_key().decode())  # fmt: skip
    app = create_app(settings)  # nothing is opened before the lifespan starts
    return {(method, path) for method, path in _walk(app.routes) if path.startswith(API_FACES)}


def documented_operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in raw_spec()["paths"].items()
            for method in item if method.upper() in HTTP_METHODS}  # fmt: skip


def test_every_served_route_is_documented_and_every_documented_route_served(tmp_path: Path) -> None:
    served, documented = served_operations(tmp_path), documented_operations()
    assert served, "no routes found under the API faces"
    assert served - documented == set(), "served but not in openapi/openapi.yaml"
    assert documented - served == set(), "in openapi/openapi.yaml but not served"


def test_the_walk_finds_a_route_added_under_a_mount(tmp_path: Path) -> None:
    """The check above would catch an undocumented route (the walk reaches into mounts)."""
    routes: list[BaseRoute] = [
        Mount("/api/v1", routes=[Route("/new/{x:path}", lambda r: None, methods=["PUT"])])
    ]
    assert set(_walk(routes)) == {("PUT", "/api/v1/new/{x}")}


def _concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "some-id", path)


def _documented_methods() -> dict[str, set[str]]:
    methods: dict[str, set[str]] = {}
    for method, path in documented_operations():
        methods.setdefault(path, set()).add(method)
    return methods


def test_405_allow_lists_the_documented_methods(server: RunningServer) -> None:
    tokens = {scope: server.token("allow-405", scope) for scope in ("scim", "admin")}
    wrong = []
    for path, documented in sorted(_documented_methods().items()):
        expected = documented | ({"HEAD"} if "GET" in documented else set())
        token = tokens["scim" if path.startswith("/scim/") else "admin"]
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            for method in sorted({"OPTIONS", "PUT", "PATCH", "DELETE", "POST"} - documented):
                answer = client.request(method, _concrete(path), json={})
                allow = {m.strip() for m in answer.headers.get("allow", "").split(",") if m.strip()}
                if answer.status_code != 405 or allow != expected:
                    wrong.append(
                        f"{method} {path}: {answer.status_code} Allow: {sorted(allow)}, documented {sorted(expected)}"
                    )
    assert not wrong, "\n".join(wrong)


def test_the_documented_app_kinds_are_the_catalog() -> None:
    """``ConnectApp.kind`` enumerates the catalog: a kind added to connectors/registry.py must
    be added to the document too (schemathesis generates only documented kinds)."""
    from connectors.registry import CATALOG

    assert raw_spec()["components"]["schemas"]["ConnectApp"]["properties"]["kind"]["enum"] == list(CATALOG)
