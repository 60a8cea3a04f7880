"""Demo orders: four months of orders from every channel — web and app deliveries and pickups, call-centre and
marketplace orders, sales at the stores' tills — most long since completed, some cancelled, and today a few
confirmed orders waiting for fulfilment and held ones waiting for staff. Each goes through the orders service
at the time it was placed, so stock, timelines, audit and events are what the live system would have written:
settled orders were released to fulfilment, picked, packed and shipped or collected, and a few returned."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import select

from omniretail.catalog.models import Product
from omniretail.core import clock
from omniretail.core.db import Database
from omniretail.core.errors import DomainError
from omniretail.core.security import Actor, Role
from omniretail.customers.models import Address, Profile
from omniretail.fulfilment import returns
from omniretail.fulfilment import service as fulfilments
from omniretail.inventory.models import StockLevel
from omniretail.locations.models import Location
from omniretail.orders import service
from omniretail.orders.models import OrderItem
from omniretail.orders.schemas import DeliveryAddressIn, FulfilmentIn, PaymentIn

DAYS = 120
#: (share, channel, fulfilment): how the demo retailer's orders arrive.
MIX = ((30, "web", "delivery"), (12, "web", "pickup"), (14, "app", "delivery"), (8, "app", "pickup"),
       (22, "pos", "in_store"), (4, "pos", "pickup"), (5, "call_centre", "delivery"), (5, "marketplace", "delivery"))
STAFF = Actor(name="demo:operations", role=Role.OPERATIONS)
CARD_METHODS = ("card", "paypal", "klarna", "apple_pay")
HELD_TODAY = 12
RETURN_SHARE = 0.06
CARRIERS = ("DHL", "DPD", "Hermes", "GLS")
RETURN_REASONS = ("did not fit", "changed my mind", "arrived damaged", "wrong item")


def _actor(channel: str, customer_id: int, store: str | None) -> Actor:
    if channel in ("web", "app"):
        return Actor(name=f"customer:{customer_id}", role=Role.CUSTOMER, customer_id=str(customer_id))
    if channel == "pos":
        return Actor(name=f"demo:till-{store}", role=Role.ASSOCIATE, location_ids=frozenset({store or ""}))
    return Actor(name=f"demo:{channel}", role=Role.INTEGRATION, channel=channel)


def _payment(rng: random.Random, fulfilment: str, trouble: bool = False) -> PaymentIn:
    if fulfilment == "in_store":
        return PaymentIn(status="captured", method=rng.choice(("cash", "card", "card")))
    roll = rng.random() * (0.1 if trouble else 1)
    if roll < 0.03:
        return PaymentIn(status="pending", method="invoice")
    if roll < 0.05:
        return PaymentIn(status="failed", method="card")
    if fulfilment == "pickup" and roll < 0.3:
        return PaymentIn(status="cash_on_pickup", method="cash")
    return PaymentIn(status="authorised", method=rng.choice(CARD_METHODS))


def _address(rng: random.Random, saved: Address | None, lat: float, lon: float,
             trouble: bool = False) -> DeliveryAddressIn:
    fields = {"line1": saved.line1, "city": saved.city, "postcode": saved.postcode, "country": saved.country} \
        if saved else {"line1": "Hauptstraße 12", "city": "Kassel", "postcode": "34117", "country": "DE"}
    roll = rng.random() * (0.1 if trouble else 1)
    phone = rng.choice(("+49 170 1234567", "+49 151 23456789", "+43 660 1234567", None))
    if roll < 0.03:
        fields["postcode"] = None  # held: incomplete address
    elif roll < 0.06:
        phone = "12345"  # held: invalid phone
    return DeliveryAddressIn(**fields, phone=phone, lat=lat + rng.uniform(-0.05, 0.05),
                             lon=lon + rng.uniform(-0.05, 0.05))


def build_orders(db: Database, *, console: Console, orders: int = 800, seed: int = 31) -> dict[str, int]:
    """Place `orders` orders spread over the last DAYS days and settle the older ones."""
    rng = random.Random(seed)
    with db.read() as s:
        customers = list(s.scalars(select(Profile.id).where(Profile.status == "active").order_by(Profile.id)))
        saved = {a.profile_id: a for a in s.scalars(select(Address).where(Address.is_default))}
        stores = {loc.id: loc for loc in s.scalars(select(Location).where(Location.type == "store"))}
        warehouses = list(s.scalars(select(Location).where(Location.type == "warehouse").order_by(Location.id)))
        stock: dict[str, list[list[object]]] = defaultdict(list)
        for location_id, sku, units in s.execute(
                select(StockLevel.location_id, Product.sku, StockLevel.on_hand - StockLevel.reserved
                       - StockLevel.expired).join(Product, Product.id == StockLevel.product_id)
                .where(Product.is_gift.is_(False), StockLevel.on_hand - StockLevel.reserved - StockLevel.expired > 6)
                .order_by(StockLevel.location_id, Product.sku)):
            stock[location_id].append([sku, units])
    store_ids = sorted(stores)
    now = clock.utcnow()
    times = sorted(now - timedelta(days=rng.uniform(0, DAYS)) for _ in range(orders - HELD_TODAY))
    # The last few came in this morning with something for staff to check: today's queue.
    times += sorted(now - timedelta(hours=rng.uniform(0.2, 8)) for _ in range(HELD_TODAY))
    shares = [share for share, _, _ in MIX]
    counts: dict[str, int] = defaultdict(int)
    with Progress(console=console) as bar:
        task = bar.add_task("demo orders", total=len(times))
        for n, at in enumerate(times):
            trouble = n >= len(times) - HELD_TODAY
            _, channel, fulfilment = rng.choices(MIX[:1] if trouble else MIX, weights=shares[:1] if trouble
                                                 else shares)[0]
            customer_id = rng.choice(customers)
            store = rng.choice(store_ids)
            source = store if fulfilment != "delivery" else rng.choice(warehouses).id
            choices = [item for item in stock[source] if int(item[1]) > 2]  # type: ignore[call-overload]
            if not choices:
                continue
            picked = rng.sample(choices, min(len(choices), rng.choice((1, 1, 2, 2, 3, 4))))
            lines = [service.OrderLine(str(sku), rng.choice((1, 1, 1, 2, 3))) for sku, _ in picked]
            how = FulfilmentIn(type=fulfilment, location_id=None if fulfilment == "delivery" else store,  # type: ignore
                               address=_address(rng, saved.get(customer_id), stores[store].lat, stores[store].lon,
                                                trouble) if fulfilment == "delivery" else None)
            outcome = _place(db, rng, at=at, now=now, channel=channel, customer_id=customer_id, store=store,
                             lines=lines, fulfilment=how, payment=_payment(rng, fulfilment, trouble))
            counts[outcome] += 1
            if outcome != "refused":
                counts["placed"] += 1
                counts["till"] += fulfilment == "in_store"
                for item, line in zip(picked, lines, strict=True):
                    item[1] = int(item[1]) - line.quantity  # type: ignore[call-overload]
            bar.advance(task)
    console.print(f"orders: {counts['placed']} over {DAYS} days from {len({c for _, c, _ in MIX})} channels "
                  f"({counts['till']} till sales); {counts['completed']} completed, {counts['cancelled']} cancelled, "
                  f"{counts['confirmed']} confirmed awaiting fulfilment, {counts['on_hold']} held for staff")
    return dict(counts)


def _place(db: Database, rng: random.Random, *, at, now, channel: str, customer_id: int, store: str,  # type: ignore
           lines: list[service.OrderLine], fulfilment: FulfilmentIn, payment: PaymentIn) -> str:
    """Place one order at `at` and, if it is old enough, settle it as staff and couriers would have; returns the
    status it ends in ("refused" when stock ran out)."""
    try:
        with db.write() as s, clock.travel(at - now):
            order = service.place_order(s, actor=_actor(channel, customer_id, store), channel=channel,
                                        customer_id=customer_id, lines=lines, fulfilment=fulfilment,
                                        payment=payment)
            if order.status == "completed" or now - at < timedelta(days=4):
                return order.status
            with clock.travel(timedelta(hours=rng.uniform(1, 20))):
                if order.status == "on_hold":
                    if rng.random() < 0.35:
                        service.cancel_order(s, actor=STAFF, order_id=order.id, reason="Customer not reachable",
                                             channel="call_centre")
                        return "cancelled"
                    service.confirm_order(s, actor=STAFF, order_id=order.id, reason="Confirmed with the customer",
                                          channel="call_centre")
                if rng.random() < 0.05:
                    service.cancel_order(s, actor=STAFF, order_id=order.id, reason="Cancelled by the customer")
                    return "cancelled"
            with clock.travel(timedelta(days=rng.uniform(1, 3))):
                _fulfil(s, rng, order.id)
            if rng.random() < RETURN_SHARE:
                with clock.travel(timedelta(days=rng.uniform(4, 12))):
                    _return(s, rng, order, store)
            return "completed"
    except DomainError:
        return "refused"


def _fulfil(s, rng: random.Random, order_id: int) -> None:  # type: ignore[no-untyped-def]
    """Release, pick and pack, then ship (with a waybill) or hand over at the counter, as the stores would."""
    for f in fulfilments.release(s, actor=STAFF, order_id=order_id):
        fulfilments.start_picking(s, actor=STAFF, fulfilment_id=f.id)
        fulfilments.pack(s, actor=STAFF, fulfilment_id=f.id)
        if f.kind == "delivery":
            fulfilments.ship(s, actor=STAFF, fulfilment_id=f.id, carrier=rng.choice(CARRIERS),
                            waybill=f"{rng.randrange(10**17, 10**18)}")
        else:
            code = fulfilments.ready(s, actor=STAFF, fulfilment_id=f.id).pickup_code or ""
            with clock.travel(timedelta(hours=rng.uniform(2, 48))):
                fulfilments.collect(s, actor=STAFF, code=code)


def _return(s, rng: random.Random, order, store: str) -> None:  # type: ignore[no-untyped-def]
    """Some customers bring a unit back to a store (or send it back to where it came from)."""
    line = s.scalars(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.line_no)).first()
    spoiled = rng.random() < 0.25
    returns.create_return(s, actor=STAFF, order_id=order.id, location_id=store, channel="pos", lines=[
        returns.ReturnLineIn(line.sku, 1, "write_off" if spoiled else "restock",
                             "damaged" if spoiled else None)], reason=rng.choice(RETURN_REASONS))
