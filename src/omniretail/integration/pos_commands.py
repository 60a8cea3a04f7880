"""`omniretail pos sync FILE.json`: upload a till's offline batch to a running server through `omniretail.client`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

pos_app = typer.Typer(help="Point of sale: tills that worked offline.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

#: Exit codes: every entry recorded cleanly; the server refused the request; the file is not a batch; some
#: entries were refused or conflict with online orders (the rest applied).
OK, FAILED, BAD_FILE, ATTENTION = 0, 1, 2, 3


@pos_app.command("sync")
def sync(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                              help="The batch as POST /api/v1/pos/sync takes it")],
         url: Annotated[str, typer.Option(envvar="OMNIRETAIL_API_URL", help="The server")] = "http://127.0.0.1:8000",
         key: Annotated[str, typer.Option(envvar="OMNIRETAIL_API_KEY", help="An API key (associate of the store, "
                                                                         "operations, or integration of channel pos)")
                        ] = "",
         as_json: Annotated[bool, typer.Option("--json", help="Print the server's whole answer as JSON")] = False
         ) -> None:
    """Upload the sales, returns and counts a till made offline; sending the same file again is safe."""
    from omniretail.client import Client, ProblemError

    if not key:
        err.print("[red]no API key:[/red] pass --key or set OMNIRETAIL_API_KEY")
        raise typer.Exit(BAD_FILE)
    try:
        batch = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        err.print(f"[red]{file}: not JSON:[/red] {exc}")
        raise typer.Exit(BAD_FILE) from None
    if not isinstance(batch, dict):
        err.print(f"[red]{file}: a batch is a JSON object with till_id, location_id and entries[/red]")
        raise typer.Exit(BAD_FILE)
    try:
        with Client(url, key) as api:
            answer = api.pos_sync(batch)
    except ProblemError as problem:
        err.print(f"[red]refused ({problem.status} {problem.code}):[/red] {problem.detail}")
        for error in problem.errors:
            err.print(f"  {error.get('field')}: {error.get('message')} ({error.get('code')})")
        raise typer.Exit(FAILED) from None
    except httpx.HTTPError as exc:
        err.print(f"[red]cannot reach {url}:[/red] {exc}")
        raise typer.Exit(FAILED) from None
    if as_json:
        out.print_json(answer.model_dump_json())
    else:
        table = Table("entry", "kind", "at", "status", "code", "order", "re-sourced", "unfilled")
        for entry in answer.entries:
            table.add_row(entry.entry_id, entry.kind, entry.at.isoformat(), entry.status, entry.code or "",
                          str(entry.order_id or ""), str(sum(r.quantity for r in entry.resourced) or ""),
                          str(sum(u.quantity for u in entry.unfilled) or ""))
        out.print(table)
        out.print(f"{len(answer.entries)} entries: {answer.applied} applied, {answer.replayed} replayed, "
                  f"{answer.conflicts} conflict, {answer.refused} refused")
    if answer.conflicts or answer.refused:
        raise typer.Exit(ATTENTION)
