"""Fixtures for the job tests: the queue's database and workspace (tests/jobs/test_queue.py) and
the admin API ones (admin client, sandbox, seeded GitHub org)."""

from tests.admin.conftest import admin, github, sandbox, scim_client  # noqa: F401
from tests.jobs.test_queue import db, ws  # noqa: F401
