"""``GET /jobs/{id}?wait=``: the answer is held until the job ends (or the wait runs out), so a
caller waiting for a job asks once and wakes on its end."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from connectors.sandbox import SandboxClient
from tests.admin.helpers import connect

pytestmark = pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)


def test_a_wait_is_answered_when_the_job_ends(admin: httpx.Client, sandbox: SandboxClient,
                                              github: dict[str, Any]) -> None:  # fmt: skip
    app_id = connect(admin, sandbox, github)
    sandbox.faults("github", latency_ms=400)  # each vendor call of the check takes 0.4 s
    try:
        job_id = admin.post(f"/apps/{app_id}/check").json()["job_id"]
        started = time.monotonic()
        held = admin.get(f"/jobs/{job_id}", params={"wait": 0.2})
        assert held.status_code == 200
        assert held.json()["status"] in ("queued", "running")  # not ended: held the full 0.2 s
        assert time.monotonic() - started >= 0.2
        ended = admin.get(f"/jobs/{job_id}", params={"wait": 50}).json()
        assert ended["status"] == "completed", ended
        assert time.monotonic() - started < 50  # answered at the job's end, not at the wait's
    finally:
        sandbox.clear_faults()
    again = admin.get(f"/jobs/{job_id}", params={"wait": 50})
    assert again.json()["status"] == "completed"


@pytest.mark.parametrize("wait", ["-1", "61", "nan", "inf", "soon"])
def test_a_wait_out_of_bounds_is_refused(admin: httpx.Client, sandbox: SandboxClient,
                                         github: dict[str, Any], wait: str) -> None:  # fmt: skip
    app_id = connect(admin, sandbox, github)
    job_id = admin.post(f"/apps/{app_id}/check").json()["job_id"]
    response = admin.get(f"/jobs/{job_id}", params={"wait": wait})
    assert response.status_code == 400, response.text
    assert "wait" in response.text


def test_a_wait_on_an_unknown_job_is_404_at_once(admin: httpx.Client) -> None:
    started = time.monotonic()
    response = admin.get("/jobs/00000000-0000-0000-0000-000000000000", params={"wait": 30})
    assert response.status_code == 404
    assert time.monotonic() - started < 10
