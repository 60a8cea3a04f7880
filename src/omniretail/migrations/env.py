"""Alembic environment: the database comes from `omniretail.core.migrate`, not an ini file."""

from __future__ import annotations

from alembic import context

import omniretail.models  # noqa: F401  (registers every table on Base.metadata)
from omniretail.core.config import get_settings
from omniretail.core.db import Base, Database

config = context.config
database = config.attributes.get("database") or Database(get_settings().database_url)

with database.engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # Alembic manages its own transaction; SQLite needs the write lock from the start.
        connection = connection.execution_options(omniretail_write=True)
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
