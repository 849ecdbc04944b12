"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database.

PostgreSQL is the server at ``SCIM_BRIDGE_TEST_POSTGRES_URL`` (default: the local one with
trust auth, database ``test``); each use creates its own database and drops it afterwards,
so parallel test workers never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = os.environ.get(
    "SCIM_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_database() -> Iterator[str]:
    """Yield the URL of a new, empty PostgreSQL database, dropped on exit."""
    name = f"sb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    yield f"sqlite:///{directory / f'sb-{uuid.uuid4().hex[:8]}.db'}"


@contextmanager
def database_url(kind: str, directory: Path) -> Iterator[str]:
    """A fresh database of ``kind`` ("sqlite" or "postgres")."""
    factory = postgres_database() if kind == "postgres" else sqlite_database(directory)
    with factory as url:
        yield url
