"""scim2-tester (https://pypi.org/project/scim2-tester/) against the running server, on both
databases: every applicable check must pass.

scim2-tester drives a scim2-client ``BaseSyncSCIMClient``. scim2-client's own network engine
needs ``httpx2``, which this project does not depend on, so ``HttpxSCIMClient`` below is that
engine (``scim2_client.engines.httpx2.SyncSCIMClient``) over plain ``httpx``: it only sends
requests, every SCIM check stays scim2-client's and scim2-tester's.

Statuses: SUCCESS/COMPLIANT/ACCEPTABLE pass (MUST, SHOULD, MAY followed) and SKIPPED is "not
applicable"; DEVIATION (a SHOULD not followed), ERROR (a MUST broken) and CRITICAL fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from scim2_client import BaseSyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

from tests.servers import RunningServer

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED}


class HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client's network engine over an ``httpx.Client`` whose base URL is the SCIM root."""

    def __init__(self, client: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        return same_origin and url.raw_path.startswith(base.raw_path)

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, url, **kwargs)


@pytest.fixture(scope="module")
def results(server: RunningServer) -> Iterator[list[CheckResult]]:
    """One scim2-tester run per database, in a workspace of its own."""
    headers = {"Authorization": f"Bearer {server.token(f'scim2-tester-{uuid.uuid4().hex[:10]}')}"}
    with httpx.Client(base_url=server.scim + "/", headers=headers, timeout=30) as http:
        yield check_server(HttpxSCIMClient(http))


def _describe(result: CheckResult) -> str:
    where = f"[{result.resource_type}] " if result.resource_type else ""
    data = f"\n      data: {result.data!r}"[:600] if result.data is not None else ""
    return f"  {result.status.name} {where}{result.title}: {result.reason}{data}"


def test_every_applicable_check_passes(results: list[CheckResult]) -> None:
    assert results, "scim2-tester ran no check"
    failed = [r for r in results if r.status not in PASSING]
    assert not failed, f"{len(failed)} of {len(results)} scim2-tester checks failed:\n" + "\n".join(
        _describe(r) for r in failed
    )


def test_the_checks_reached_users_and_groups(results: list[CheckResult]) -> None:
    """Guard against a green run that tested nothing: discovery described both resource types
    and the CRUD checks ran on each."""
    ran = {(r.resource_type, tag) for r in results if r.status is not Status.SKIPPED for tag in r.tags}
    for resource_type in ("User", "Group"):
        for tag in ("crud:create", "crud:read", "crud:update", "crud:delete"):
            assert (resource_type, tag) in ran, (resource_type, tag)
