"""`omniretail fulfilment ...`: release confirmed orders to fulfilment, expire uncollected pickups (the worker
does both every few seconds; these run one pass by hand)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from omniretail.core.db import Database
from omniretail.core.security import cli_actor

fulfilment_app = typer.Typer(help="Fulfilment: release orders, expire pickups.", no_args_is_help=True)
out = Console()


def _db() -> Database:
    from omniretail.core.command_db import command_database

    return command_database()


@fulfilment_app.command("release")
def release(limit: Annotated[int, typer.Option(min=1, max=10_000, help="Orders in one pass")] = 500) -> None:
    """Release confirmed orders without fulfilments to fulfilment, oldest first."""
    from omniretail.fulfilment import service

    db = _db()
    with db.write() as s:
        released = service.release_due(s, actor=cli_actor(), limit=limit)
    out.print(f"released {len(released)} order(s)" + (f": {', '.join(map(str, released))}" if released else ""))


@fulfilment_app.command("expire")
def expire() -> None:
    """Return the units of pickups left uncollected past their day to stock."""
    from omniretail.fulfilment import service

    db = _db()
    with db.write() as s:
        expired = service.expire_pickups(s, actor=cli_actor())
    out.print(f"expired {len(expired)} pickup(s)")
