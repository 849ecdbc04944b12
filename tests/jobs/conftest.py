"""The admin API fixtures (admin client, sandbox, seeded GitHub org) for the job tests."""

from tests.admin.conftest import admin, github, sandbox, scim_client  # noqa: F401
