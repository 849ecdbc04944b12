"""Shared fixtures-as-functions for the PATCH tests: IdP samples and canonical documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scim2_models import Context, Group

from scim_server.scim.patch import UserModel

SAMPLES = Path(__file__).parent / "samples"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def sample(name: str) -> dict[str, Any]:
    """The PATCH body of ``samples/<name>.json`` (each file names its public source)."""
    data = json.loads((SAMPLES / f"{name}.json").read_text())
    assert data["source"].startswith("https://")
    return dict(data["body"])


def body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def canonical_user(**attributes: Any) -> dict[str, Any]:
    """A User document as the server stores it: validated, then dumped by scim2-models."""
    schemas = [CORE_USER] + ([ENTERPRISE] if ENTERPRISE in attributes else [])
    model = UserModel.model_validate(
        {"schemas": schemas, **attributes}, scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    doc: dict[str, Any] = model.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    return doc


def canonical_group(**attributes: Any) -> dict[str, Any]:
    model = Group.model_validate(
        {"schemas": [CORE_GROUP], **attributes}, scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    doc: dict[str, Any] = model.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    doc.pop("members", None)
    return doc


def bjensen() -> dict[str, Any]:
    """The stored user most tests patch: core attributes, a work email, the enterprise extension."""
    return canonical_user(
        userName="bjensen@example.com",
        externalId="bjensen",
        displayName="Babs Jensen",
        active=True,
        name={"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
        emails=[{"value": "bjensen@example.com", "type": "work", "primary": True}],
        **{ENTERPRISE: {"department": "Tour Operations", "employeeNumber": "701984",
                        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d",
                                    "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"}}},
    )  # fmt: skip
