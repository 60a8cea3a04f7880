"""The `omniretail` command: serve, demo, db, keys, import, export, bench, check, pos."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from omniretail.core.config import InsecureSettings, Settings, get_settings
from omniretail.core.db import Database
from omniretail.fulfilment.commands import fulfilment_app
from omniretail.integration.pos_commands import pos_app
from omniretail.sourcing.commands import sourcing_app

app = typer.Typer(help="omniretail: one retailer, every channel.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
customers_app = typer.Typer(help="Customer profiles.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(customers_app, name="customers")
app.add_typer(sourcing_app, name="sourcing")
app.add_typer(fulfilment_app, name="fulfilment")
app.add_typer(pos_app, name="pos")

err = Console(stderr=True)
out = Console()


class Kind(StrEnum):
    products = "products"
    locations = "locations"
    stock = "stock"
    customers = "customers"


def _database(settings: Settings | None = None, *, check: bool = True) -> Database:
    from omniretail.core.command_db import command_database

    return command_database(settings, check=check)


def progress_bar(description: str) -> Progress:
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err, transient=False)


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
          workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes sharing the port (about one "
                                                                   "per core)")] = 1) -> None:
    """Serve the API and pages on OMNIRETAIL_DATABASE_URL (migrated first)."""
    settings = get_settings()
    try:
        settings.require_secret()
    except InsecureSettings as exc:
        err.print(f"[red]refusing to start:[/red] {exc}")
        raise typer.Exit(2) from None
    from omniretail.core import migrate
    from omniretail.server import run

    db = _database(settings, check=False)
    migrate.upgrade(db)
    run(settings, db, host=host, port=port, workers=workers)


@app.command()
def demo(port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
         host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
         fresh: Annotated[bool, typer.Option("--fresh", help="Rebuild the demo data from scratch")] = False,
         database: Annotated[Path, typer.Option(help="SQLite file of the demo")] = Path("omniretail-demo.db"),
         products: Annotated[int, typer.Option(min=100, help="Number of demo products")] = 1500,
         no_serve: Annotated[bool, typer.Option("--no-serve", help="Build the data and exit")] = False) -> None:
    """Build a realistic demo retailer in an embedded SQLite file, print the URL and an admin key, serve."""
    from omniretail.demo.build import ensure_demo

    settings = Settings(database_url=f"sqlite:///{database.resolve()}", demo=True)
    db, key = ensure_demo(settings, fresh=fresh, products=products, console=err)
    url = f"http://{host}:{port}"
    print(f"\nomniretail demo on {database}\n  URL:       {url}/  (API docs: {url}/docs)\n"
          f"  Admin key: {key}\n"
          f"  Try:       curl -H 'Authorization: Bearer {key}' '{url}/api/v1/products?q=chocolate'\n")
    if no_serve:
        return
    from omniretail.server import run

    run(settings, db, host=host, port=port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to OMNIRETAIL_DATABASE_URL."""
    from omniretail.core import migrate

    db = _database(check=False)
    migrate.upgrade(db)
    out.print(f"database at revision {migrate.current_revision(db)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision and the newest one."""
    from omniretail.core import migrate

    db = _database(check=False)
    out.print(f"current {migrate.current_revision(db)}, head {migrate.head_revision()}")


@app.command()
def worker(name: Annotated[str | None, typer.Option(help="Name in the delivery log (default host:pid:random)")]
           = None) -> None:
    """Deliver outbox events to webhooks and NATS JetStream until stopped; several may run at once."""
    import logging

    from omniretail.integration.worker import run_worker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("omniretail").setLevel(logging.INFO)
    settings = get_settings()
    db = _database(settings)  # reachable and migrated, or exit 2
    err.print(f"relay worker on {db.engine.url.render_as_string(hide_password=True)}"
              + (f", NATS {settings.nats_url}" if settings.nats_url else ", no NATS (OMNIRETAIL_NATS_URL unset)"))
    run_worker(db, settings, name=name)


@keys_app.command("create")
def keys_create(role: Annotated[str, typer.Option(help="admin, operations, associate, agent, integration, customer")],
                location: Annotated[list[str] | None,
                                    typer.Option("--location", help="Location id (associate)")] = None,
                channel: Annotated[str | None, typer.Option(help="Channel code (integration)")] = None,
                customer: Annotated[str | None, typer.Option(help="Customer id (customer)")] = None,
                name: Annotated[str, typer.Option(help="What the key is for")] = "") -> None:
    """Create an API key and print it alone on stdout."""
    from omniretail.core.errors import DomainError
    from omniretail.core.security import Role, cli_actor
    from omniretail.keys import service

    try:
        role_value = Role(role)
    except ValueError:
        err.print(f"[red]unknown role {role!r}[/red]; use one of {', '.join(r.value for r in Role)}")
        raise typer.Exit(2) from None
    db = _database()
    try:
        with db.write() as s:
            _, secret = service.create_key(s, actor=cli_actor(), role=role_value, name=name,
                                           location_ids=location or [], channel=channel, customer_id=customer)
    except DomainError as exc:
        err.print(f"[red]{exc.detail}[/red] ({exc.code})")
        raise typer.Exit(2) from None
    print(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""
    from omniretail.keys import service

    table = Table("id", "prefix", "role", "scope", "name", "created", "revoked")
    with _database().read() as s:
        for k in service.list_keys(s, limit=10_000):
            scope = ",".join(k.location_ids) or k.channel or k.customer_id or ""
            table.add_row(str(k.id), k.prefix, k.role, scope, k.name, f"{k.created_at:%Y-%m-%d %H:%M}",
                          f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke an API key by id."""
    from omniretail.core.errors import DomainError
    from omniretail.core.security import cli_actor
    from omniretail.keys import service

    try:
        with _database().write() as s:
            service.revoke_key(s, actor=cli_actor(), key_id=key_id)
    except DomainError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from None
    out.print(f"key {key_id} revoked")


@customers_app.command("dedupe")
def customers_dedupe(workers: Annotated[int, typer.Option(min=1, max=16, help="Processes that compare pairs")] = 1
                     ) -> None:
    """Find duplicate profiles: merge those above the automatic threshold, queue doubtful pairs for review."""
    from omniretail.core.security import cli_actor
    from omniretail.customers.batch import dedupe

    labels = {"load": "loading profiles", "match": "comparing", "merge": "merging"}
    with progress_bar("{task.description}") as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=total or None)
            bar.update(tasks[phase], completed=done, total=total or None)

        report = dedupe(_database(), actor=cli_actor(), workers=workers, progress=progress)
    timings = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in report.seconds.items())
    out.print(f"{report.profiles} profiles: {report.merged} merged automatically, {report.queued} pairs queued for "
              f"review, {report.already_decided} pairs already decided by staff ({timings})")


@app.command("import")
def import_(kind: Kind, file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Load a CSV file; bad rows are reported with their line number, good rows still load."""
    from omniretail.core import csvio

    settings = get_settings()
    db = _database(settings)
    spec = _import_spec(kind, settings)
    total = csvio.count_data_lines(file)
    try:
        with progress_bar(f"importing {kind.value}") as bar:
            task = bar.add_task("rows", total=total)
            report = csvio.import_csv(db, file, spec, progress=lambda n: bar.advance(task, n))
    except csvio.HeaderError as exc:
        err.print(f"[red]{file}: nothing loaded:[/red] {exc}")
        raise typer.Exit(2) from None
    for problem in report.errors:
        err.print(f"{file}:{problem.line}: {problem.reason}")
    out.print(f"{report.rows} rows: {report.created} created, {report.updated} updated, "
              f"{report.unchanged} unchanged, {len(report.errors)} refused")
    if report.errors:
        raise typer.Exit(1)


def _import_spec(kind: Kind, settings: Settings):  # type: ignore[no-untyped-def]
    from omniretail.core.security import cli_actor

    if kind is Kind.products:
        from omniretail.catalog.importer import ProductImport

        return ProductImport(actor=cli_actor(), default_currency=settings.default_currency)
    if kind is Kind.stock:
        from omniretail.inventory.importer import StockImport

        return StockImport(actor=cli_actor())
    if kind is Kind.customers:
        from omniretail.customers.importer import CustomerImport

        return CustomerImport(actor=cli_actor())
    from omniretail.locations.importer import LocationImport

    return LocationImport(actor=cli_actor())


@app.command()
def export(kind: Kind,
           output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default stdout)")] = None) -> None:
    """Write every product, location, stock lot or customer as CSV (the format `import` reads)."""
    from omniretail.core.csvio import write_csv

    if kind is Kind.products:
        from omniretail.catalog.importer import COLUMNS, export_rows
    elif kind is Kind.stock:
        from omniretail.inventory.importer import COLUMNS, export_rows  # type: ignore[assignment]
    elif kind is Kind.customers:
        from omniretail.customers.importer import COLUMNS, export_rows  # type: ignore[assignment]
    else:
        from omniretail.locations.importer import COLUMNS, export_rows  # type: ignore[assignment]
    with _database().read() as s:
        if output is None:
            count = write_csv(sys.stdout, COLUMNS, export_rows(s))
        else:
            with output.open("w", newline="", encoding="utf-8") as handle:
                count = write_csv(handle, COLUMNS, export_rows(s))
    err.print(f"{count} {kind.value} exported")


@app.command()
def check() -> None:
    """Verify stored invariants; exit non-zero on any violation."""
    from omniretail.checks import run_checks

    failures = 0
    with _database().read() as s:
        for name, ok, detail in run_checks(s):
            failures += not ok
            out.print(f"{'[green]ok[/green]  ' if ok else '[red]FAIL[/red]'} {name}: {detail}")
    if failures:
        raise typer.Exit(1)


@app.command()
def bench(name: Annotated[str, typer.Argument(help="catalog, inventory, identity, orders or sourcing")],
          output: Annotated[Path | None, typer.Option(help="JSON results (default bench-NAME.json)")] = None,
          products: Annotated[int, typer.Option(help="catalog: number of products")] = 100_000,
          database: Annotated[str | None, typer.Option(help="Database URL (default: a fresh SQLite file); "
                                                        "the benchmark makes its own database on that server")] = None,
          requests: Annotated[int, typer.Option(help="Requests per measured latency")] = 1000,
          locations: Annotated[int, typer.Option(help="inventory: number of locations")] = 500,
          skus: Annotated[int, typer.Option(help="inventory: number of SKUs")] = 20_000,
          fill: Annotated[float, typer.Option(min=0.01, max=1.0, help="inventory: share of SKUs each location stocks")
                          ] = 0.5,
          seconds: Annotated[int, typer.Option(min=1, help="inventory: seconds per throughput run")] = 15,
          clients: Annotated[int, typer.Option(min=1, help="inventory: concurrent clients")] = 8,
          profiles: Annotated[int, typer.Option(min=100, help="identity: number of profiles")] = 1_000_000,
          people: Annotated[int, typer.Option(min=100, help="identity: people in the labelled quality set")] = 20_000,
          workers: Annotated[int, typer.Option(min=1, max=16, help="identity: processes of the batch pass")] = 1,
          stores: Annotated[int, typer.Option(min=1, help="orders: stores, each stocking every SKU")] = 50,
          order_skus: Annotated[int, typer.Option(min=3, help="orders: number of SKUs")] = 2000,
          customers: Annotated[int, typer.Option(min=1, help="orders: number of customers")] = 10_000,
          order_clients: Annotated[int, typer.Option(min=1, help="orders: concurrent HTTP clients")] = 64,
          hot_units: Annotated[int, typer.Option(min=1, help="orders: units of the hot SKU to sell out")] = 1000,
          server_workers: Annotated[int, typer.Option(min=1, max=64, help="orders: server processes, as "
                                                                          "`serve --workers`")] = 1,
          instance: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="sourcing: instance "
                                                        "JSON (default: a generated one)")] = None,
          no_batch: Annotated[bool, typer.Option("--no-batch", help="sourcing: skip optimal_batch (minutes on "
                                                                   "large tight instances)")] = False,
          scenarios: Annotated[int, typer.Option(min=1, max=256, help="sourcing: demand scenarios each bid-price "
                                                                      "solve averages over")] = 8
          ) -> None:
    """Run a benchmark, print a table and write JSON."""
    target = output or Path(f"bench-{name}.json")
    if name == "catalog":
        from omniretail.bench.catalog import run_catalog_bench

        run_catalog_bench(products=products, database=database, requests=requests, output=target, console=out)
    elif name == "inventory":
        from omniretail.bench.inventory import run_inventory_bench

        run_inventory_bench(database=database, locations=locations, skus=skus, fill=fill, seconds=seconds,
                            clients=clients, requests=requests, output=target, console=out)
    elif name == "identity":
        from omniretail.bench.identity import run_identity_bench

        run_identity_bench(database=database, profiles=profiles, requests=requests, workers=workers,
                           quality_people=people, output=target, console=out)
    elif name == "orders":
        from omniretail.bench.orders import run_orders_bench

        run_orders_bench(database=database, locations=stores, skus=order_skus, customers=customers,
                         clients=order_clients, seconds=seconds, hot_units=hot_units, output=target, console=out,
                         server_workers=server_workers)
    elif name == "sourcing":
        from omniretail.bench.sourcing import run_sourcing_bench

        run_sourcing_bench(instance=instance, output=target, console=out, batch=not no_batch, scenarios=scenarios)
    else:
        err.print(f"[red]unknown benchmark {name!r}[/red]; available: catalog, inventory, identity, orders, "
                  "sourcing")
        raise typer.Exit(2)


if __name__ == "__main__":  # pragma: no cover
    app()
