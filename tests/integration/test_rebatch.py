"""`omniretail sourcing rebatch` on both databases: orders confirmed but not picked are sourced again together
and moved when that costs less; orders being picked stay where they are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core.clock import utcnow
from omniretail.core.config import Settings
from omniretail.core.models import OutboxEvent
from omniretail.core.security import SYSTEM
from omniretail.customers.models import Profile
from omniretail.fulfilment import service as fulfilment
from omniretail.inventory import service as inventory
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import Reservation
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn
from omniretail.orders import service as orders
from omniretail.orders.invariants import order_violations
from omniretail.orders.schemas import DeliveryAddressIn, FulfilmentIn, PaymentIn
from omniretail.sourcing.models import SourcingDecision
from omniretail.sourcing.rebatch import rebatch

SETTINGS = Settings(secret_key="x" * 20)


@pytest.fixture
def shop(db):
    """A store next to two customers holding one X and one Y; a warehouse 100 km away holding plenty."""
    with db.write() as s:
        for id_, type_, lat in (("near", "store", 51.30), ("far", "warehouse", 52.20)):
            locations.register_location(s, actor=SYSTEM, data=LocationIn(
                id=id_, name=id_, type=type_, lat=lat, lon=9.5, ship_from_store=True))
        for sku in ("X", "Y"):
            catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                                   data=ProductIn(sku=sku, name=f"Product {sku}", price={"amount": "5.00"}))
        for location_id, sku, units in (("near", "X", 1), ("near", "Y", 1), ("far", "X", 5), ("far", "Y", 5)):
            inventory.receive(s, actor=SYSTEM, location_id=location_id, sku=sku, quantity=units, lot="L1")
        s.add_all([Profile(status="active", given_name="Ada"), Profile(status="active", given_name="Bo")])
    yield db
    with db.read() as s:
        assert stock_violations(s) == [] and order_violations(s) == []


def place(db, customer_id, lines):
    with db.write() as s:
        order = orders.place_order(
            s, actor=SYSTEM, channel="web", customer_id=customer_id,
            lines=[orders.OrderLine(sku, 1) for sku in lines], payment=PaymentIn(status="authorised", method="card"),
            fulfilment=FulfilmentIn(type="delivery", address=DeliveryAddressIn(
                line1=f"Hauptstr. {customer_id}", city="Kassel", postcode="34117", country="DE", phone="0561 12345",
                lat=51.31, lon=9.5)), settings=SETTINGS)
        assert order.status == "confirmed", order.hold_reasons
        return order.id


def where(db, order_id):
    with db.read() as s:
        return sorted(tuple(r) for r in s.execute(select(Reservation.location_id, Reservation.quantity).where(
            Reservation.owner_id == str(order_id), Reservation.status == "active")))


def test_orders_sourced_one_by_one_are_moved_when_sourcing_them_together_costs_less(shop):
    first = place(shop, 1, ["X"])  # takes the near store's only X
    second = place(shop, 2, ["X", "Y"])  # so it comes from the far warehouse in one parcel
    assert (where(shop, first), where(shop, second)) == ([("near", 1)], [("far", 1), ("far", 1)])
    with shop.write() as s:
        fulfilment.release(s, actor=SYSTEM, order_id=second)  # released, not picked: still movable

    with shop.write() as s:
        dry = rebatch(s, actor=SYSTEM, since=utcnow() - timedelta(hours=1), settings=SETTINGS, apply=False)
    assert (dry.orders, dry.moved, dry.applied) == (2, 2, False)
    assert where(shop, first) == [("near", 1)]
    with shop.write() as s:
        report = rebatch(s, actor=SYSTEM, since=utcnow() - timedelta(hours=1), settings=SETTINGS)

    assert (report.moved, report.applied, report.splits_before, report.splits_after) == (2, True, 0, 0)
    assert report.cost_after < report.cost_before
    assert (where(shop, first), where(shop, second)) == ([("far", 1)], [("near", 1), ("near", 1)])
    with shop.read() as s:
        assert s.get(SourcingDecision, second).policy == "optimal_batch"
        made = [(f.location_id, f.status) for f in fulfilment.fulfilments_of(s, second)]
        assert made == [("far", "cancelled"), ("near", "created")]
        assert s.scalars(select(OutboxEvent.object_id).where(OutboxEvent.type == "order.resourced")).all() == [
            str(first), str(second)]


def test_orders_being_picked_stay_where_they_are(shop):
    first = place(shop, 1, ["X"])
    second = place(shop, 2, ["X", "Y"])
    with shop.write() as s:
        [f] = fulfilment.release(s, actor=SYSTEM, order_id=second)
        fulfilment.start_picking(s, actor=SYSTEM, fulfilment_id=f.id)
    with shop.write() as s:
        report = rebatch(s, actor=SYSTEM, since=utcnow() - timedelta(hours=1), settings=SETTINGS)

    assert (report.orders, report.moved) == (1, 0)
    assert (where(shop, first), where(shop, second)) == ([("near", 1)], [("far", 1), ("far", 1)])
