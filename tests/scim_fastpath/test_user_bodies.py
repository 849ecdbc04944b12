"""The validation fast path gives exactly what the scim2-models path gives (document, key
order, password, errors), and it really runs on the bodies IdPs send."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from scim2_models import Context

from scim_server.scim import fastpath
from scim_server.scim.resources import (
    _manager_ref,
    _require_schema,
    _tolerate_foreign_urns,
    validate_user_doc,
)
from tests.scim_fastpath.strategies import mutated_bodies, plain_bodies

CONTEXTS = [Context.RESOURCE_CREATION_REQUEST, Context.RESOURCE_REPLACEMENT_REQUEST]
SAMPLES = Path(__file__).resolve().parent.parent / "scim" / "samples"


def outcome(body: Any, ctx: Context, fast: bool) -> tuple:
    """What validate_user_doc answers: the document as bytes (so key order counts) and the
    password, or the exception's type and message."""
    try:
        doc, password = validate_user_doc(copy.deepcopy(body), ctx, fast=fast)
    except Exception as exc:  # noqa: BLE001 (the comparison is the point: whatever is raised)
        return "error", type(exc).__name__, str(exc)
    return "ok", orjson.dumps(doc), password


def takes_fast_path(body: dict) -> bool:
    prepared = _tolerate_foreign_urns(_require_schema(copy.deepcopy(body), fastpath.CORE_USER))
    _manager_ref(prepared)
    return fastpath.user_doc(prepared) is not None


@pytest.mark.parametrize("ctx", CONTEXTS)
@given(body=plain_bodies())
def test_plain_bodies_take_the_fast_path_and_agree_with_the_model(ctx: Context, body: dict) -> None:
    assert takes_fast_path(body)
    fast, model = outcome(body, ctx, True), outcome(body, ctx, False)
    assert fast[0] == "ok", fast
    assert fast == model


@pytest.mark.parametrize("ctx", CONTEXTS)
@given(body=mutated_bodies())
def test_any_body_gives_what_the_model_path_gives(ctx: Context, body: dict) -> None:
    assert outcome(body, ctx, True) == outcome(body, ctx, False)


def _idp_create_bodies() -> list[tuple[str, dict]]:
    """The create bodies of the IdP replay samples (tests/scim/samples), where there are some."""
    found = []
    for path in sorted(SAMPLES.glob("**/*.json")):
        data = json.loads(path.read_text())
        for key, value in _walk(data):
            if isinstance(value, dict) and fastpath.CORE_USER in (value.get("schemas") or []) and "userName" in value:
                found.append((f"{path.name}:{key}", value))
    return found


def _walk(value: Any, key: str = "") -> list[tuple[str, Any]]:
    out = [(key, value)]
    if isinstance(value, dict):
        for k, item in value.items():
            out += _walk(item, f"{key}.{k}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _walk(item, f"{key}[{i}]")
    return out


OKTA_CREATE = {  # Okta SCIM 2.0 reference, "Create the user" (developer.okta.com/docs/api/openapi/okta-scim)
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}


def test_okta_create_body_takes_the_fast_path() -> None:
    assert takes_fast_path(OKTA_CREATE)
    fast = outcome(OKTA_CREATE, CONTEXTS[0], True)
    assert fast == outcome(OKTA_CREATE, CONTEXTS[0], False)
    assert fast[0] == "ok" and fast[2] == "1mz050nq"
    assert b"password" not in fast[1]


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_replayed_idp_bodies_agree(ctx: Context) -> None:
    bodies = _idp_create_bodies()
    for name, body in bodies:
        assert outcome(body, ctx, True) == outcome(body, ctx, False), name
