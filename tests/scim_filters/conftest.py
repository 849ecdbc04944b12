"""One real database per test module and kind (SQLite file, PostgreSQL), schema built once;
tests clear the rows they insert. Creating a PostgreSQL database per test would dominate
the run time, so this is a module-scoped sibling of ``tests.conftest.db_url`` built on the
same ``tests.db.database_url``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from scim_server.store import models  # noqa: F401  (registers the tables)
from scim_server.store.db import Base
from tests.db import database_url
from tests.scim_filters.store import FilterStore


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FilterStore]:
    with database_url(request.param, tmp_path_factory.mktemp("filters")) as url:
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        filter_store = FilterStore(engine)
        filter_store.create_workspaces()
        try:
            yield filter_store
        finally:
            engine.dispose()
