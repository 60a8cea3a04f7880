"""Fixtures: every database test runs on SQLite and on PostgreSQL (OMNIRETAIL_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

import omniretail.models  # noqa: F401  (every table on Base.metadata)
from omniretail.app import create_app
from omniretail.channels.service import active_seen, standard_channel_rows
from omniretail.core import migrate
from omniretail.core.config import Settings
from omniretail.core.db import Base, Database
from omniretail.core.security import SYSTEM, Role, auth_cache
from omniretail.inventory.reservations import references_seen
from omniretail.keys import service as keys

PG_URL = os.environ.get("OMNIRETAIL_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("OMNIRETAIL_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Database]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("OMNIRETAIL_REQUIRE_POSTGRES=1 but OMNIRETAIL_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need OMNIRETAIL_TEST_DATABASE_URL (CI sets it)")
    db = Database(PG_URL)
    with db.engine.begin() as c:
        c.exec_driver_sql("DROP SCHEMA public CASCADE")
        c.exec_driver_sql("CREATE SCHEMA public")
    migrate.upgrade(db)
    yield db
    db.dispose()


def _reset_postgres(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        c.execute(Base.metadata.tables["channels"].insert(), _channel_rows())


def _channel_rows() -> list[dict[str, object]]:
    from omniretail.core.clock import utcnow

    return [{**row, "created_at": utcnow()} for row in standard_channel_rows()]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A migrated, empty database (only the standard channels), of each backend in turn."""
    auth_cache.clear()
    references_seen.clear()
    active_seen.clear()
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        database = request.getfixturevalue("postgres_database")
        _reset_postgres(database)
        yield database


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(database_url=db.url, secret_key="test-secret-key-0123456789", default_currency="EUR")


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as test_client:
        yield test_client


def make_key(db: Database, role: Role = Role.ADMIN, **scope: object) -> str:
    with db.write() as s:
        _, secret = keys.create_key(s, actor=SYSTEM, role=role, **scope)  # type: ignore[arg-type]
    return secret


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def customer_headers(db: Database, given_name: str = "Casey") -> dict[str, str]:
    """Headers of a customer key acting for a new profile."""
    from omniretail.customers.models import Profile

    with db.write() as s:
        profile = Profile(status="active", given_name=given_name)
        s.add(profile)
        s.flush()
        profile_id = str(profile.id)
    return bearer(make_key(db, Role.CUSTOMER, customer_id=profile_id))


@pytest.fixture
def admin(db: Database) -> dict[str, str]:
    """Headers of an admin key."""
    return bearer(make_key(db, Role.ADMIN, name="test admin"))
