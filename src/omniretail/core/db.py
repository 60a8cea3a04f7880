"""Engine, sessions and the declarative base.

Writes go through `Database.write()`: on SQLite it opens the transaction with
`BEGIN IMMEDIATE` (so two writers queue on the busy timeout instead of failing on a
lock upgrade), on PostgreSQL it is an ordinary short transaction. Reads use
`Database.read()`, a plain deferred transaction that never blocks writers in WAL mode.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from omniretail.core.clock import as_utc
from omniretail.core.config import normalise_database_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: No JIT (it compiled search plans in ~40 ms), a plan per execution (IN lists of varying
#: selectivity), and page costs of data that lives in memory or on SSD.
PG_SESSION_OPTIONS = "-c jit=off -c plan_cache_mode=force_custom_plan -c random_page_cost=1.1"
#: Connections for single prepared statements whose plan does not depend on their values (one row by its key):
#: a generic plan is made once per connection instead of on every execution (~0.2 ms for a reservation).
PG_STATEMENT_OPTIONS = "-c jit=off -c plan_cache_mode=force_generic_plan -c random_page_cost=1.1"
#: Async statement connections per event loop: a handful keep the database busy while the loop works.
ASYNC_POOL_SIZE = 16


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, whatever the backend stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use omniretail.core.clock.utcnow()")
        return as_utc(value) if dialect.name != "sqlite" else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


JSONType = JSON().with_variant(JSONB(), "postgresql")
#: For optional documents: Python None is stored as SQL NULL (plain JSON columns store the JSON value null).
NullableJSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("omniretail_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """One database: an engine plus read and write session factories."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_database_url(url)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs.update(pool_size=10, max_overflow=30, pool_recycle=1800,
                          connect_args={"options": PG_SESSION_OPTIONS})
        self.engine = create_engine(self.url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)
        reader = self.engine
        if self.engine.dialect.name == "postgresql":
            # Under READ COMMITTED every statement takes its own snapshot anyway, so a read-only unit of
            # work loses nothing without BEGIN/ROLLBACK, and saves two round trips.
            reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reader = sessionmaker(bind=reader, expire_on_commit=False, autoflush=True)
        self._statement_connections = threading.local()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()
        self._async_pools: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._on_loop: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
        self._writer = sessionmaker(
            bind=self.engine.execution_options(omniretail_write=True), expire_on_commit=False, autoflush=True
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Open a read-only unit of work; closing it ends the transaction, loaded objects stay readable."""
        session = self._reader()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Open a unit of work that commits when the block ends and rolls back on error."""
        session = self._writer()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def statement_connection(self) -> Iterator[Any]:
        """PostgreSQL only: this thread's own psycopg connection in autocommit, with generic plans, for single
        prepared statements on hot paths. It skips the pool's checkout and reset (~0.05 ms a call); a connection
        that failed is closed and replaced on the next use."""
        import psycopg

        local = self._statement_connections
        connection = getattr(local, "connection", None)
        if connection is None or connection.closed or getattr(local, "pid", None) != os.getpid():
            connection = psycopg.connect(autocommit=True, **self._connect_kwargs())
            local.connection, local.pid = connection, os.getpid()
            with self._opened_lock:
                self._opened.append((os.getpid(), connection))
        try:
            yield connection
        except psycopg.OperationalError:
            connection.close()
            raise

    def _connect_kwargs(self) -> dict[str, Any]:
        url = self.engine.url
        extra = {name: value for name, value in url.query.items() if isinstance(value, str)}
        return {"host": url.host, "port": url.port, "user": url.username, "password": url.password,
                "dbname": url.database, "options": PG_STATEMENT_OPTIONS, **extra}

    @asynccontextmanager
    async def async_statement_connection(self) -> AsyncIterator[Any]:
        """PostgreSQL only: an async psycopg connection in autocommit, with generic plans, from this event loop's
        own small pool, for the few prepared statements of a hot path run on the event loop (no thread hop, no
        wait for the interpreter lock). A connection that failed is discarded by the pool."""
        import psycopg
        from psycopg_pool import AsyncConnectionPool

        loop = asyncio.get_running_loop()
        pool = self._async_pools.get(loop)
        if pool is None or pool.closed:
            kwargs = {**self._connect_kwargs(), "autocommit": True}
            pool = AsyncConnectionPool(conninfo="", kwargs=kwargs, min_size=1, max_size=ASYNC_POOL_SIZE, open=False,
                                       connection_class=psycopg.AsyncConnection, name="omniretail-statements")
            self._async_pools[loop] = pool
            await pool.open()
        async with pool.connection() as connection:
            yield connection

    def on_loop(self, key: Any, make: Any) -> Any:
        """This database's one `make()` for `key` on the running event loop (the fast paths' shared statements
        keep their queues so)."""
        found = self._on_loop.setdefault(asyncio.get_running_loop(), {})
        if key not in found:
            found[key] = make()
        return found[key]

    async def close_async_pools(self) -> None:
        """Close the async pool of the running event loop (at the app's shutdown)."""
        pool = self._async_pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    def analyze(self, tables: list[str]) -> None:
        """After a bulk load on PostgreSQL: VACUUM (index-only scans) and ANALYZE (planner statistics).

        Not on SQLite: with `sqlite_stat1` its planner picked slower plans for the search
        queries (measured: p95 14 ms with statistics, 8.6 ms without, 100,000 products).
        """
        if self.dialect != "postgresql":
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in tables:
                connection.exec_driver_sql(f'VACUUM (ANALYZE) "{table}"')

    def dispose(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for pid, connection in opened:
            if pid == os.getpid():  # a forked child leaves its parent's connections alone
                connection.close()
        self._statement_connections = threading.local()
        self.engine.dispose()


#: From this many rows on, PostgreSQL gets them as arrays in one statement instead of one statement per row.
ARRAY_ROWS = 20


_NAMED = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=128)
def positional(query: str) -> tuple[str, tuple[str, ...]]:
    """A statement written with `%(name)s` placeholders in PostgreSQL's own `$n` form, and the names in order
    (a repeated name is one parameter). psycopg converts a query on every call once it is longer than its cache
    takes (4 KB), which the hot paths' statements are; this converts each once."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _NAMED.sub(number, query), tuple(names)


async def execute_prepared(connection: Any, query: str, params: dict[str, Any]) -> Any:
    """Run a `%(name)s` statement on an async psycopg connection as a prepared statement, without psycopg's
    per-call query conversion (`positional`); returns the cursor."""
    import psycopg

    statement, names = positional(query)
    cursor = psycopg.AsyncRawCursor(connection)
    await cursor.execute(statement, [params[name] for name in names], prepare=True)
    return cursor


def insert_ignore(session: Session, table: Any, rows: list[dict[str, Any]], *, conflict: list[str]) -> None:
    """Insert rows, skipping those that collide on `conflict` (race-safe on both backends)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from omniretail.core.bulk import array_types, insert_ignore_arrays

        if len(rows) >= ARRAY_ROWS and array_types(table, list(rows[0])) is not None:
            insert_ignore_arrays(session, table, rows, conflict=conflict)
            return
    session.execute(dialect_insert(session)(table).on_conflict_do_nothing(index_elements=conflict), rows)


def dialect_insert(session: Session) -> Any:
    """The session's dialect's `insert` (with `on_conflict_do_nothing` / `on_conflict_do_update`)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
