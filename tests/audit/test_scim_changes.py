"""SCIM writes carry the before/after of the fields they changed, and no secret in any form: the
password Okta sends (create, PUT, PATCH by path and without one), the tokens used, searched for
in every event, every export format and every log line written meanwhile."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
import pytest

from tests.audit.test_api import PASSWORD, USER_SCHEMA, _all, _export, clients  # noqa: F401  (fixture)

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _events_of(audit: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    return list(reversed(_all(audit, target=f"User/{user_id}")))


def test_writes_record_before_and_after_without_secrets(clients: dict[str, Any],  # noqa: F811
                                                        caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    scim, audit = clients["scim"], clients["audit"]
    created = scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "okta@example.com", "password": PASSWORD,
                                        "title": "Engineer", "active": True})  # fmt: skip
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "CFO"},
                                                {"op": "replace", "path": "password", "value": PASSWORD + "-p"}]}  # fmt: skip
    assert scim.patch(f"/Users/{uid}", json=patch).status_code == 200
    no_path = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"password": PASSWORD + "-np"}}]}
    assert scim.patch(f"/Users/{uid}", json=no_path).status_code == 200
    assert scim.put(f"/Users/{uid}", json={"schemas": [USER_SCHEMA], "userName": "okta@example.com",
                                           "password": PASSWORD + "-put", "title": "CEO"}).status_code == 200  # fmt: skip
    assert scim.delete(f"/Users/{uid}").status_code == 204

    events = _events_of(audit, uid)
    assert [e["action"] for e in events] == ["scim.user.create", "scim.user.patch", "scim.user.patch",
                                             "scim.user.replace", "scim.user.delete"]  # fmt: skip
    create, patched, password_only, replaced, deleted = (e["changes"] for e in events)
    assert create["title"] == {"before": None, "after": "Engineer"} and "password" not in create
    assert patched == {"title": {"before": "Engineer", "after": "CFO"}}
    assert "password" in events[1]["detail"] and password_only is None  # the fact, as "[redacted]"
    assert replaced["title"] == {"before": "CFO", "after": "CEO"} and "password" not in replaced
    assert deleted["userName"] == {"before": "okta@example.com", "after": None}

    everything = orjson.dumps(_all(audit)).decode()
    for fmt in ("csv", "jsonl", "ocsf"):
        everything += _export(audit, fmt)[0].decode()
    everything += "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (PASSWORD, clients["scim_token"], clients["audit_token"]):
        assert secret not in everything


def test_group_writes_record_before_and_after(clients: dict[str, Any]) -> None:  # noqa: F811
    scim, audit = clients["scim"], clients["audit"]
    group_schema = "urn:ietf:params:scim:schemas:core:2.0:Group"
    member = scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "member@example.com"}).json()["id"]
    created = scim.post("/Groups", json={"schemas": [group_schema], "displayName": "Sales"})
    assert created.status_code == 201, created.text
    gid = created.json()["id"]
    ops = [{"op": "replace", "value": {"displayName": "Sales EMEA"}},
           {"op": "add", "path": "members", "value": [{"value": member}]}]  # fmt: skip
    assert scim.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": ops}).status_code in (200, 204)
    remove = [{"op": "remove", "path": f'members[value eq "{member}"]'}]
    assert scim.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": remove}).status_code in (200, 204)
    assert scim.delete(f"/Groups/{gid}").status_code == 204

    events = list(reversed(_all(audit, target=f"Group/{gid}")))
    assert [e["action"] for e in events] == ["scim.group.create", "scim.group.patch", "scim.group.patch",
                                             "scim.group.delete"]  # fmt: skip
    create, renamed, removed, deleted = (e["changes"] for e in events)
    assert create["displayName"] == {"before": None, "after": "Sales"}
    assert renamed["displayName"] == {"before": "Sales", "after": "Sales EMEA"}
    assert renamed["members"] == {"before": {"removed": []}, "after": {"added": [member]}}
    assert removed == {"members": {"before": {"removed": [member]}, "after": {"added": []}}}
    assert deleted["displayName"] == {"before": "Sales EMEA", "after": None}
