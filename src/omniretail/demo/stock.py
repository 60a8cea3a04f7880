"""Stock for the demo network: lots in every location, some near or past expiry, gifts running low."""

from __future__ import annotations

import random
from datetime import timedelta

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import select

from omniretail.catalog.models import Product
from omniretail.core import clock
from omniretail.core.db import Database
from omniretail.core.security import SYSTEM
from omniretail.inventory import service
from omniretail.locations.models import Location

ASSORTMENT = {"store": 160, "warehouse": 900, "hub": 300}
SAFETY_STOCK = {"store": 2, "warehouse": 0, "hub": 0}


def build_stock(db: Database, *, console: Console, seed: int = 11) -> int:
    """Receive lots everywhere; returns the number of receipts."""
    rng = random.Random(seed)
    with db.read() as s:
        products = list(s.execute(select(Product.sku, Product.perishable, Product.is_gift).order_by(Product.id)))
        network = list(s.execute(select(Location.id, Location.type).order_by(Location.id)))
    gifts = [p for p in products if p.is_gift]
    goods = [p for p in products if not p.is_gift]
    plan = []
    for location_id, kind in network:
        for product in rng.sample(goods, min(ASSORTMENT[kind], len(goods))):
            plan.append((location_id, product))
        if kind == "store":
            # Gifts: a handful each, a few of them down to their last units.
            plan.extend((location_id, gift) for gift in rng.sample(gifts, min(6, len(gifts))))
    with db.write() as s:
        for location in s.scalars(select(Location)):
            location.safety_stock = SAFETY_STOCK[location.type]
    today = clock.utcnow().date()
    with Progress(console=console) as bar:
        task = bar.add_task("demo stock", total=len(plan))
        for start in range(0, len(plan), 200):
            with db.write() as s:
                for location_id, product in plan[start:start + 200]:
                    _receive_lots(s, rng, location_id, product, today)
            bar.advance(task, len(plan[start:start + 200]))
    return len(plan)


def _receive_lots(session, rng: random.Random, location_id: str, product, today) -> None:  # type: ignore[no-untyped-def]
    if product.is_gift:
        service.receive(session, actor=SYSTEM, location_id=location_id, sku=product.sku,
                        quantity=rng.choice([1, 2, 3, 8, 15, 25]), lot=f"G{today:%y%m}")
        return
    if not product.perishable:
        for n in range(rng.randint(1, 2)):
            service.receive(session, actor=SYSTEM, location_id=location_id, sku=product.sku,
                            quantity=rng.randint(4, 60), lot=f"B{n + 1}-{rng.randint(1000, 9999)}")
        return
    for n in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.08:
            # Received ten days ago, expired two days ago: on hand, not sellable, awaiting write-off.
            with clock.travel(-timedelta(days=10)):
                service.receive(session, actor=SYSTEM, location_id=location_id, sku=product.sku,
                                quantity=rng.randint(2, 12), lot=f"L{n + 1}-OLD",
                                production_date=today - timedelta(days=20), expiry_date=today - timedelta(days=2))
            continue
        days = rng.randint(0, 3) if roll < 0.25 else rng.randint(5, 60)
        service.receive(session, actor=SYSTEM, location_id=location_id, sku=product.sku, quantity=rng.randint(3, 40),
                        lot=f"L{n + 1}-{days:02d}", production_date=today - timedelta(days=rng.randint(1, 10)),
                        expiry_date=today + timedelta(days=days))
