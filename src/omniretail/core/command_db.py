"""The database a command-line command works on: OMNIRETAIL_DATABASE_URL, reachable and migrated to this code's
newest revision — or a clear message and exit status 2 instead of a traceback."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError

from omniretail.core import migrate
from omniretail.core.config import Settings, get_settings
from omniretail.core.db import Database


def command_database(settings: Settings | None = None, *, check: bool = True) -> Database:
    """Open the database; with `check`, refuse one that cannot be reached or is not at the newest migration."""
    import omniretail.models  # noqa: F401  (every domain's tables, so merges and erasures carry their rows)

    settings = settings or get_settings()
    db = Database(settings.database_url, echo=settings.sql_echo)
    if not check:
        return db
    err = Console(stderr=True)
    where = db.engine.url.render_as_string(hide_password=True)
    try:
        current = migrate.current_revision(db)
    except OperationalError as exc:
        err.print(f"[red]cannot reach the database[/red] {where}: {str(exc.orig).strip().splitlines()[0]}")
        raise typer.Exit(2) from None
    head = migrate.head_revision()
    if current != head:
        err.print(f"[red]the database {where} is at migration {current or 'none (empty)'}[/red], this omniretail "
                  f"needs {head}: run `omniretail db upgrade` (`omniretail serve` upgrades it when it starts)")
        raise typer.Exit(2)
    return db
