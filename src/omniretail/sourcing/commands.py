"""`omniretail sourcing ...`: sourcing instances, batch re-sourcing, live bid prices."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from omniretail.sourcing.instances import CAPACITY_MODES, generate_instance, write_instance

sourcing_app = typer.Typer(help="Sourcing: where orders are fulfilled from.", no_args_is_help=True)
err = Console(stderr=True)


@sourcing_app.command("instance")
def instance(locations: Annotated[int, typer.Option(min=1, help="Fulfilment locations (in real cities)")] = 50,
             orders: Annotated[int, typer.Option(min=0, help="Orders of 1-10 items")] = 5000,
             skus: Annotated[int, typer.Option(min=1, help="SKUs")] = 500,
             seed: Annotated[int, typer.Option(help="Random seed (same seed, same file)")] = 1,
             capacity: Annotated[str, typer.Option(help="loose or tight stock and picking capacity")] = "loose",
             country: Annotated[str, typer.Option(help="ISO country code of the cities")] = "US",
             history: Annotated[int | None, typer.Option(min=0, help="Orders in the history sample the forecast is "
                                                                    "made of (default: as many as --orders; 0: none)")
                                ] = None,
             history_seed: Annotated[int | None, typer.Option(help="Seed of the history sample (default: seed + "
                                                                  "1,000,000)")] = None,
             output: Annotated[Path, typer.Option("--output", "-o", help="JSON file to write")] = Path(
                 "sourcing-instance.json")) -> None:
    """Write a generated sourcing instance (the JSON format `omniretail bench sourcing --instance` reads), with a
    forecast made of an independent history sample from the same distribution."""
    if capacity not in CAPACITY_MODES:
        err.print(f"[red]--capacity must be one of {', '.join(CAPACITY_MODES)}[/red]")
        raise typer.Exit(2)
    try:
        document = generate_instance(locations=locations, orders=orders, skus=skus, seed=seed, capacity=capacity,
                                     country=country.upper(), history=history, history_seed=history_seed)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    write_instance(document, output)
    forecast = document.get("forecast")
    told = "" if forecast is None else f", forecast from a history of {forecast['orders']:,} orders"
    err.print(f"{len(document['locations'])} locations, {len(document['orders']):,} orders, {skus:,} SKUs "
              f"({capacity} capacity{told}) written to {output}")


@sourcing_app.command("rebatch")
def rebatch_command(hours: Annotated[float, typer.Option(min=0.01, help="Orders placed this many hours back")] = 24,
                    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only, move nothing")] = False,
                    output: Annotated[Path | None, typer.Option(help="Also write the report as JSON")] = None
                    ) -> None:
    """Re-source the confirmed, not yet picked delivery orders of the window together (capacity and stock
    shared) and move them if that costs less; print the cost and splits saved."""
    import json
    from datetime import timedelta

    import omniretail.models  # noqa: F401  (every table)
    from omniretail.core.clock import utcnow
    from omniretail.core.command_db import command_database
    from omniretail.core.config import get_settings
    from omniretail.core.security import cli_actor
    from omniretail.sourcing.rebatch import rebatch

    settings = get_settings()
    db = command_database(settings)
    with db.write() as s:
        report = rebatch(s, actor=cli_actor(), since=utcnow() - timedelta(hours=hours), settings=settings,
                         apply=not dry_run).to_dict()
    typer.echo(f"{report['orders']} order(s) re-sourced together; {report['moved']} would move"
               if dry_run else f"{report['orders']} order(s) re-sourced together; {report['moved']} moved")
    typer.echo(f"cost {report['cost_before']} -> {report['cost_after']} (saved {report['saved']}); splits "
               f"{report['splits_before']} -> {report['splits_after']}; packages {report['packages_before']} -> "
               f"{report['packages_after']}")
    if output is not None:
        output.write_text(json.dumps(report, indent=2))


@sourcing_app.command("bid-prices")
def bid_prices_command(compute: Annotated[bool, typer.Option("--compute", help="Compute them now (what the worker "
                                                                                "does every "
                                                                                "OMNIRETAIL_BID_PRICE_MINUTES)")
                                          ] = False,
                       top: Annotated[int, typer.Option(min=0, max=1000, help="Dearest prices to list")] = 20) -> None:
    """Show the bid prices live deliveries choose with (the last run and the dearest prices), or compute them."""
    import omniretail.models  # noqa: F401  (every table)
    from omniretail.core.command_db import command_database
    from omniretail.core.config import get_settings
    from omniretail.sourcing import live

    settings = get_settings()
    db = command_database(settings)
    if compute:
        stored = live.compute(db, settings=settings)
        typer.echo(f"{stored} bid price(s) stored")
    with db.read() as s:
        run, rows = live.listing(s, limit=max(top, 1))
    if run is None:
        typer.echo("no bid prices computed yet: run `omniretail sourcing bid-prices --compute` or start a worker")
        return
    typer.echo(f"last run {run['computed_at']}: {run['status']}; {run['history_orders']} delivery order(s) of the "
               f"last {run['history_days']} day(s), {run['forecast_units']:g} units, priced for "
               f"{run['horizon_hours']:g} h over {run['locations']} location(s) and {run['scenarios']} scenario(s); "
               f"{run['stock_prices']} stock and {run['capacity_prices']} capacity price(s) in {run['seconds']:g} s"
               + ("" if settings.bid_prices else " (not used: OMNIRETAIL_BID_PRICES=0)"))
    for row in rows[:top]:
        typer.echo(f"  {row.location_id:<20} {row.resource:<8} {row.sku or '-':<24} {row.price:12.4f}")
