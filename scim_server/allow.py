"""The methods a path really answers, for the ``Allow`` header of a 405 (RFC 9110 §15.5.6).

Starlette answers a 405 from the first route whose path matched, so a path served by several
routes (one per method, as the admin and SCIM tables are written) advertised only that first
route's methods. ``allowed_methods`` walks the whole route tree instead (through mounts) and
collects every method of every route whose path matches, so the header lists exactly what the
path serves, whichever order the routes were declared in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope


def _methods(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            match, child = route.matches(scope)
            if match is not Match.NONE:
                found |= _methods(route.routes, {**scope, **child})
        elif isinstance(route, Route):
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                found |= set(route.methods or ())
    return found


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route of ``routes`` serves at ``scope``'s path, sorted.

    ``scope`` may be one a mount has already rewritten (its ``root_path``); the walk starts
    again from the application's own root path, so ``routes`` are the application's routes.
    """
    root = {
        "type": "http",
        "path": scope["path"],
        "root_path": scope.get("app_root_path", ""),
        "method": "OPTIONS",  # a method no route serves: every path match is a partial one
        "path_params": {},
    }
    return sorted(_methods(routes, root))
