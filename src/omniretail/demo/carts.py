"""Demo carts: customers with something in their one cart, added on the web, in the app, at the store's order
station or over the phone; some with a pickup store chosen, some with a line the store lacks sent by delivery
(endless aisle); and a few anonymous device carts of visitors not yet identified. Every cart is opened and
filled through the cart services, so audit entries and events are what the live system writes."""

from __future__ import annotations

import random

from rich.console import Console
from sqlalchemy import select

from omniretail.carts import items, service
from omniretail.catalog.models import Product
from omniretail.core.db import Database
from omniretail.core.errors import DomainError
from omniretail.core.security import Actor, Role
from omniretail.customers.models import Profile
from omniretail.inventory.models import StockLevel
from omniretail.locations.models import Location

CHANNELS = ("web", "web", "app", "app", "pos", "call_centre")


def _actor(channel: str, customer_id: int | None, store: str) -> Actor:
    if channel in ("web", "app") and customer_id is not None:
        return Actor(name=f"customer:{customer_id}", role=Role.CUSTOMER, customer_id=str(customer_id))
    if channel == "pos":
        return Actor(name=f"demo:order-station-{store}", role=Role.ASSOCIATE, location_ids=frozenset({store}))
    return Actor(name=f"demo:{channel}", role=Role.INTEGRATION, channel=channel)


def build_carts(db: Database, *, console: Console, customers: int = 150, devices: int = 25,
                seed: int = 41) -> dict[str, int]:
    """Give `customers` demo people an active cart and open `devices` anonymous ones."""
    rng = random.Random(seed)
    with db.read() as s:
        people = list(s.scalars(select(Profile.id).where(Profile.status == "active").order_by(Profile.id)))
        stores = list(s.scalars(select(Location.id).where(Location.type == "store", Location.pickup)
                                .order_by(Location.id)))
        in_stock: dict[str, list[str]] = {}
        for location_id, sku in s.execute(
                select(StockLevel.location_id, Product.sku).join(Product, Product.id == StockLevel.product_id)
                .where(Product.is_gift.is_(False), Product.active,
                       StockLevel.on_hand - StockLevel.reserved - StockLevel.expired > 3)
                .order_by(StockLevel.location_id, Product.sku)):
            in_stock.setdefault(location_id, []).append(sku)
        everywhere = sorted({sku for skus in in_stock.values() for sku in skus})
    if not people or not stores or not everywhere:
        return {"carts": 0, "lines": 0, "anonymous": 0}
    counts = {"carts": 0, "lines": 0, "anonymous": 0}
    owners = rng.sample(people, min(customers, len(people)))
    for n in range(len(owners) + devices):
        customer_id = owners[n] if n < len(owners) else None
        channel = rng.choice(CHANNELS) if customer_id is not None else rng.choice(("web", "app"))
        store = rng.choice(stores)
        actor = _actor(channel, customer_id, store)
        added = 0
        try:
            with db.write() as s:
                if customer_id is not None:
                    cart = service.open_customer_cart(s, actor=actor, customer_id=customer_id, channel=channel)
                else:
                    cart = service.open_device_cart(s, actor=actor, device_id=f"demo-device-{n:04d}",
                                                    channel=channel)
                if channel == "pos" or rng.random() < 0.3:
                    items.set_pickup_location(s, actor=actor, cart=cart, location_id=store, channel=channel)
                here = in_stock.get(store, [])
                for sku in rng.sample(everywhere, rng.choice((1, 1, 2, 2, 3, 4))):
                    # At the order station a SKU the store lacks is sent by delivery: the endless aisle.
                    hint = items.Hint("delivery") if channel == "pos" and sku not in here else None
                    items.add_item(s, actor=actor, cart=cart, sku=sku, quantity=rng.choice((1, 1, 1, 2, 3)),
                                   channel=channel, hint=hint)
                    added += 1
        except DomainError:  # a profile the duplicate pass merged away meanwhile, or the like: skip it
            continue
        counts["anonymous" if customer_id is None else "carts"] += 1
        counts["lines"] += added
    console.print(f"carts: {counts['carts']} customers with an active cart ({counts['lines']} lines across web, "
                  f"app, order stations and the call centre), {counts['anonymous']} anonymous device carts")
    return counts
