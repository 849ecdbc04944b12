"""The scale-out topology, for real, on PostgreSQL: 2 API processes (no worker inside) and 2
``scim-bridge worker`` processes behind HAProxy (``deploy/haproxy.cfg``).

SCIM load and deprovisioning (policy automatic) go through the balancer; both API processes
serve and both workers run jobs; a worker ``kill -9``-ed during removals loses nothing and no
member is removed twice (counted at the vendor sandbox: a call re-sent after the crash may only
meet "already gone"); the API processes restart one by one under load with no failed request.
"""

from __future__ import annotations

import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from connectors.sandbox import SandboxClient, create_sandbox_app
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database
from tests.db import postgres_database
from tests.servers import serve_asgi
from tests.topology.cluster import REQUEST_ID, Cluster, haproxy_binary, request_log
from tests.waiting import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("heavy")]  # not beside timing tests
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MEMBERS = 12
DELETE_MEMBER = re.compile(r"^/github/orgs/[^/]+/members(?:hips)?/([^/]+)$")


class VendorLog:
    """ASGI wrapper around the sandbox: every DELETE of a GitHub org member and its status."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.deletes: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        match = DELETE_MEMBER.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope["method"] != "DELETE":
            await self.app(scope, receive, send)
            return

        async def record(message: Any) -> None:
            if message["type"] == "http.response.start":
                with self.lock:
                    self.deletes.append((match.group(1), int(message["status"])))
            await send(message)

        await self.app(scope, receive, record)

    def removed(self) -> Counter[str]:
        with self.lock:
            return Counter(login for login, status in self.deletes if 200 <= status < 300)


def job_status(admin: httpx.Client, job_id: str) -> str:
    answer = admin.get(f"/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def explain(topology: Cluster, failures: list[tuple[str, str]]) -> str:
    """The failed requests with HAProxy's log lines for them (``{id}`` ... termination state) and
    its servers' state changes. A failed request with no line of its own was closed by HAProxy
    without a response or a log line: what it does when a request sent on a reused server
    connection gets none back (its client may retry; httpx says "server disconnected")."""
    assert topology.balancer is not None
    lines = request_log(topology.balancer.log, [request_id for request_id, _ in failures])
    return "\n".join([*(f"{request_id}: {error}" for request_id, error in failures[:10]),
                      "HAProxy:", *lines[-40:], *topology.server_states()[-20:]])  # fmt: skip


@pytest.fixture
def vendor() -> Iterator[tuple[SandboxClient, VendorLog]]:
    logged = VendorLog(create_sandbox_app("empty"))
    with serve_asgi(logged) as url:
        client = SandboxClient(url)
        yield client, logged
        client.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, str, str]]:
    if haproxy_binary() is None:
        pytest.fail("HAProxy is not installed (.ci/run installs Debian's haproxy)")
    with postgres_database() as url:
        migrate.upgrade(url)
        db = Database(Settings(database_url=url))
        try:
            _, scim = db.write_sync(lambda c: tenancy.create_token(c, "topology", "scim", "test"))
            _, admin = db.write_sync(lambda c: tenancy.create_token(c, "topology", "admin", "test"))
        finally:
            db.close()
        running = Cluster(url, tmp_path, Fernet.generate_key().decode(),
                          extra_env={"SCIM_BRIDGE_WORKER_LEASE_SECONDS": "5",
                                     "SCIM_BRIDGE_WORKER_POLL_SECONDS": "0.2",
                                     "SCIM_BRIDGE_OUTBOX_DEBOUNCE_SECONDS": "0.1",
                                     "SCIM_BRIDGE_SCHEDULER_TICK_SECONDS": "1"})  # fmt: skip
        try:
            running.start(apis=2, workers=2)
            yield running, scim, admin
        finally:
            running.stop()


@pytest.mark.timeout(1200)
def test_two_apis_two_workers_behind_haproxy(cluster: tuple[Cluster, str, str],
                                             vendor: tuple[SandboxClient, VendorLog]) -> None:  # fmt: skip
    topology, scim_token, admin_token = cluster
    sandbox, vendor_log = vendor
    scim = httpx.Client(base_url=topology.url + "/scim/v2", timeout=30,
                        headers={"Authorization": f"Bearer {scim_token}"})  # fmt: skip
    admin = httpx.Client(base_url=topology.url + "/api/v1", timeout=30,
                         headers={"Authorization": f"Bearer {admin_token}"})  # fmt: skip

    # SCIM load through the balancer is shared by both API processes.
    emails = [f"person{n}@example.com" for n in range(MEMBERS)]
    served: Counter[str] = Counter()
    users: dict[str, str] = {}
    for email in emails:
        body = {"schemas": [USER], "userName": email, "active": True,
                "emails": [{"value": email, "type": "work", "primary": True}]}  # fmt: skip
        created = scim.post("/Users", json=body)
        assert created.status_code == 201, created.text
        users[email] = created.json()["id"]
        served[created.headers.get("x-served-by", "?")] += 1
    assert set(served) == {"api0", "api1"}, served

    # An app whose members are those people, deprovisioned automatically.
    org, gh_token = "topology-org", "ghp-topology"
    sandbox.seed("github", {"org": org, "token": gh_token, "members": [
        {"email": e, "name": e.split("@")[0], "role": "member", "status": "active"} for e in emails]})  # fmt: skip
    app = admin.post("/apps", json={"kind": "github", "label": "Eng", "business_id": org,
                                    "automation_account": {"api_token": gh_token},
                                    "api_base_url": sandbox.kind_url("github"), "deprovision_policy": "automatic",
                                    "mass_removal_guard": {"count": 1000, "percent": 100}})  # fmt: skip
    assert app.status_code == 201, app.text
    app_id = app.json()["id"]
    check = admin.post(f"/apps/{app_id}/check")
    assert check.status_code == 202, check.text
    wait_for(lambda: job_status(admin, check.json()["job_id"]) == "completed", "the check", timeout=120)
    matched = admin.get(f"/apps/{app_id}/members", params={"state": "matched", "limit": 500}).json()["items"]
    assert len(matched) == MEMBERS

    # Deactivate everyone through the balancer; kill -9 a worker while the removals run.
    sandbox.faults("github", latency_ms=100)
    for email in emails:
        body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        assert scim.patch(f"/Users/{users[email]}", json=body).status_code == 200
    wait_for(lambda: sum(vendor_log.removed().values()) >= 3, "the first removals", timeout=120)
    victim = topology.workers[0]
    victim.signal(signal.SIGKILL)
    victim.wait()
    sandbox.clear_faults()

    def remaining() -> set[str]:
        return {m["email"] for m in sandbox.state("github", org)["members"]}

    wait_for(lambda: not remaining(), "every member removed", timeout=400)
    removed = vendor_log.removed()
    assert set(removed) == {m["remote_id"] for m in matched}, "a member was never removed"
    assert all(count == 1 for count in removed.values()), f"removed twice: {removed}"

    # The survivor finished the work (the victim may die before completing any: the per-app cap lets
    # either process hold both of the app's slots, so which one ran what is not fixed).
    completed = {w.name: w.log.read_text().count('"job completed"') for w in topology.workers}
    assert completed[topology.workers[1].name] > 0, completed

    # Rolling restart of the API processes under load: not one failed request. Each request
    # carries an id that HAProxy logs, so a failure shows how the balancer saw it.
    failures: list[tuple[str, str]] = []
    done = threading.Event()
    sent = Counter[str]()

    def load(worker: int) -> None:
        with httpx.Client(base_url=topology.url + "/scim/v2", timeout=30,
                          headers={"Authorization": f"Bearer {scim_token}"}) as client:  # fmt: skip
            n = 0
            while not done.is_set() and n < 20_000:
                n += 1
                request_id = {REQUEST_ID: f"load{worker}-{n}"}
                try:
                    if n % 2:
                        answer = client.get("/Users", params={"filter": f'userName eq "{emails[n % MEMBERS]}"'},
                                            headers=request_id)  # fmt: skip
                        ok = answer.status_code == 200
                    else:
                        body = {"schemas": [USER], "userName": f"rolling{n}-{worker}@example.com"}
                        answer = client.post("/Users", json=body, headers=request_id)
                        ok = answer.status_code == 201
                    sent[answer.headers.get("x-served-by", "?")] += 1
                    if not ok:
                        failures.append((request_id[REQUEST_ID], f"{answer.status_code} {answer.text[:200]}"))
                except httpx.HTTPError as exc:
                    failures.append((request_id[REQUEST_ID], repr(exc)))

    threads = [threading.Thread(target=load, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: sum(sent.values()) >= 50, "load running", timeout=120)
        for index in range(len(topology.apis)):
            topology.restart_api(index)
            target = sum(sent.values()) + 50
            wait_for(lambda target=target: sum(sent.values()) >= target, "load after the restart", timeout=120)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == [], explain(topology, failures)
    print("left rotation after (s):", " ".join(f"{s:.2f}" for s in topology.left_rotation))  # shown with -s
    assert sum(sent.values()) > 100

    # The scheduler: whichever worker ticks first leads (a PostgreSQL advisory lock per tick).
    # Kill -9 a worker; the other queues the next due check within a few ticks (1 s each), and
    # each time the app falls due exactly one check is queued and run.
    topology.workers[0] = topology.worker(0).start()
    engine = create_engine(topology.database_url)

    def scheduled_checks() -> list[tuple[str, str]]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, status FROM jobs WHERE app_id = :a AND kind = 'check' "
                                     "AND created_by = 'scheduler'"), {"a": app_id}).all()  # fmt: skip
        return [(str(r[0]), str(r[1])) for r in rows]

    def fall_due() -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE apps SET schedule = 'daily', next_check = now() - interval '1 minute' "
                              "WHERE id = :a"), {"a": app_id})  # fmt: skip

    try:
        before = len(scheduled_checks())
        fall_due()
        wait_for(lambda: len(scheduled_checks()) == before + 1, "the first scheduled check", timeout=120)
        # (A check still queued or running absorbs the next due time: that is the dedupe.)
        wait_for(lambda: all(status == "completed" for _, status in scheduled_checks()), "the first check run", timeout=120)
        topology.workers[1].signal(signal.SIGKILL)
        topology.workers[1].wait()
        fall_due()
        # (The survivor was started at the top of this section; on a loaded host it may still be
        # importing when the other dies, so the bound is the default's, not a few ticks.)
        wait_for(lambda: len(scheduled_checks()) == before + 2, "a check scheduled by the survivor", timeout=120)
        wait_for(lambda: all(status == "completed" for _, status in scheduled_checks()), "the checks run", timeout=120)
        assert len(scheduled_checks()) == before + 2, "a due check was queued twice"
    finally:
        engine.dispose()
