"""Build the demo retailer into an embedded SQLite file."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from omniretail.catalog import service as catalog
from omniretail.catalog.importer import ProductImport
from omniretail.catalog.models import Product
from omniretail.core import migrate
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.security import SYSTEM, Role
from omniretail.demo.carts import build_carts
from omniretail.demo.customers import build_customers
from omniretail.demo.locations import demo_locations
from omniretail.demo.orders import build_orders
from omniretail.demo.products import generate_products
from omniretail.demo.stock import build_stock
from omniretail.keys import service as keys
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn

BATCH = 500


def remove_sqlite_files(url: str) -> None:
    path = make_url(url).database
    if path:
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


def ensure_demo(settings: Settings, *, fresh: bool, products: int, console: Console) -> tuple[Database, str]:
    """Create (or reuse) the demo database; return it and a new admin key."""
    if fresh:
        remove_sqlite_files(settings.database_url)
    db = Database(settings.database_url)
    migrate.upgrade(db)
    with db.read() as s:
        existing = s.scalar(select(func.count(Product.id))) or 0
    if existing == 0:
        build_demo(db, products=products, console=console, currency=settings.default_currency)
    else:
        console.print(f"reusing the demo data in {make_url(settings.database_url).database} (--fresh rebuilds it)")
    with db.write() as s:
        _, key = keys.create_key(s, actor=SYSTEM, role=Role.ADMIN, name="demo admin")
    return db, key


def build_demo(db: Database, *, products: int, console: Console, currency: str = "EUR") -> None:
    network = demo_locations()
    with db.write() as s:
        for location in network:
            locations.register_location(s, actor=SYSTEM, data=LocationIn.model_validate(location.as_input()))
    console.print(f"{len(network)} locations: {sum(loc.type == 'store' for loc in network)} stores in real cities, "
                  "2 warehouses, 2 hubs")

    spec = ProductImport(actor=SYSTEM, default_currency=currency)
    generated = list(generate_products(products))
    with Progress(console=console) as bar:
        task = bar.add_task("demo products", total=len(generated))
        for start in range(0, len(generated), BATCH):
            chunk = generated[start:start + BATCH]
            items = [(start + i + 2, spec.parse({k: str(v) for k, v in p.csv_row(currency).items()}))
                     for i, p in enumerate(chunk)]
            with db.write() as s:
                spec.load(s, items)
            bar.advance(task, len(chunk))

    by_type: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in generated:
        if not p.is_gift:
            by_type[(p.category, p.product_type)].append(p.sku)
    with db.write() as s:
        curated = 0
        for p in generated[:400]:
            others = [sku for sku in by_type.get((p.category, p.product_type), []) if sku != p.sku][:3]
            if others and not p.is_gift:
                catalog.set_alternatives(s, actor=SYSTEM, sku=p.sku, skus=others)
                curated += 1
    console.print(f"{len(generated)} products ({sum(p.perishable for p in generated)} perishable, "
                  f"{sum(p.is_gift for p in generated)} gifts), {curated} with curated alternatives")
    receipts = build_stock(db, console=console)
    console.print(f"stock: {receipts} SKU assortments received in lots, some near or past expiry")
    build_customers(db, console=console)
    build_orders(db, console=console)
    build_carts(db, console=console)
