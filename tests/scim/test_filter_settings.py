"""The list and search routes hold filters to the limits the settings configure
(``SCIM_BRIDGE_FILTER_MAX_*``), not only to the defaults."""

from __future__ import annotations

import httpx

from tests.servers import scim_bridge

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
THREE = "displayName pr or externalId pr or id pr"  # attributes of both Users and Groups
TWO = "displayName pr or externalId pr"


def test_routes_use_the_configured_filter_limits(db_url: str) -> None:
    with scim_bridge(db_url, filter_max_terms=2) as server:
        headers = {"Authorization": f"Bearer {server.token('limits')}", "Content-Type": "application/scim+json"}
        with httpx.Client(base_url=server.scim, headers=headers, timeout=30) as scim:
            for flt, status in ((THREE, 400), (TWO, 200)):
                answers = [
                    scim.get("/Users", params={"filter": flt}),
                    scim.get("/Groups", params={"filter": flt}),
                    scim.post("/Users/.search", json={"schemas": [SEARCH], "filter": flt}),
                    scim.post("/.search", json={"schemas": [SEARCH], "filter": flt}),
                ]
                assert [a.status_code for a in answers] == [status] * 4, [a.text for a in answers]
                if status == 400:
                    assert {a.json()["scimType"] for a in answers} == {"invalidFilter"}
