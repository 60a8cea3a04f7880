"""Stock use cases on both databases: expiry over time, holds that lapse, counts, found units."""

from __future__ import annotations

from datetime import timedelta

import pytest

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core import clock
from omniretail.core.errors import DomainError
from omniretail.core.security import SYSTEM
from omniretail.inventory import atp, reservations, service
from omniretail.inventory.invariants import stock_violations
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn


@pytest.fixture
def shop(db):
    with db.write() as s:
        locations.register_location(s, actor=SYSTEM, data=LocationIn(id="s1", name="Store", type="store", lat=52.5,
                                                                    lon=13.4, pickup=True, safety_stock=1))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                               data=ProductIn(sku="MILK", name="Milk", price={"amount": "1.00"}, perishable=True))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                               data=ProductIn(sku="SOAP", name="Soap", price={"amount": "2.00"}))
    yield db
    clock._offset = timedelta(0)
    with db.read() as s:
        assert stock_violations(s) == []


def receive(db, sku, quantity, lot, days=None):
    expiry = clock.utcnow().date() + timedelta(days=days) if days is not None else None
    with db.write() as s:
        service.receive(s, actor=SYSTEM, location_id="s1", sku=sku, quantity=quantity, lot=lot, expiry_date=expiry)


def detail(db, sku):
    with db.read() as s:
        return atp.level_detail(s, location_id="s1", sku=sku)


def reserve(db, sku, quantity, **kw):
    with db.write() as s:
        return reservations.reserve(s, actor=SYSTEM, lines=[reservations.Line("s1", sku, quantity)],
                                    owner_type=kw.pop("owner_type", "order"), owner_id="o1", **kw)[0].id


def test_a_lot_stops_counting_the_day_after_its_expiry_even_before_the_sweep(shop):
    receive(shop, "MILK", 5, "A", days=1)
    receive(shop, "MILK", 3, "B", days=10)
    assert detail(shop, "MILK").available == 8 - 1  # safety stock 1
    clock._offset = timedelta(days=2)
    level = detail(shop, "MILK")
    assert (level.on_hand, level.expired, level.available) == (8, 5, 2)
    with pytest.raises(DomainError) as info:
        reserve(shop, "MILK", 3)
    assert info.value.code == "insufficient_stock" and info.value.extra["short"][0]["available"] == 2
    assert reserve(shop, "MILK", 2) > 0


def test_the_sweep_marks_expired_lots_for_write_off_and_the_write_off_removes_them(shop):
    receive(shop, "MILK", 5, "A", days=1)
    receive(shop, "MILK", 3, "B", days=10)
    clock._offset = timedelta(days=2)
    with shop.write() as s:
        marked = service.sweep_expired(s, actor=SYSTEM)
        assert [(lot.lot_code, lot.quantity) for _, lot in marked] == [("A", 5)]
    with shop.write() as s:
        service.adjust(s, actor=SYSTEM, location_id="s1", sku="MILK", quantity=-5, reason="expired")
    level = detail(shop, "MILK")
    assert (level.on_hand, level.expired, [(lot.lot_code, lot.quantity) for lot, _ in level.lots]) == (3, 0, [("B", 3)])


def test_reserved_units_whose_lot_expired_cannot_be_consumed(shop):
    receive(shop, "MILK", 4, "A", days=1)
    reservation = reserve(shop, "MILK", 3)
    clock._offset = timedelta(days=2)
    with pytest.raises(DomainError) as info, shop.write() as s:
        reservations.consume(s, actor=SYSTEM, reservation_id=reservation)
    assert info.value.code == "insufficient_sellable_stock" and info.value.extra["sellable"] == 0


def test_consumption_takes_the_soonest_expiring_lot_first(shop):
    receive(shop, "MILK", 2, "LATE", days=9)
    receive(shop, "MILK", 2, "SOON", days=3)
    reservation = reserve(shop, "MILK", 3)
    with shop.write() as s:
        reservations.consume(s, actor=SYSTEM, reservation_id=reservation)
    assert [(lot.lot_code, lot.quantity) for lot, _ in detail(shop, "MILK").lots] == [("LATE", 1)]


def test_a_lapsed_cart_hold_gives_its_units_back_when_someone_else_needs_them(shop):
    receive(shop, "SOAP", 3, "X")
    reserve(shop, "SOAP", 2, owner_type="cart", expires_at=clock.utcnow() + timedelta(minutes=30))
    with pytest.raises(DomainError):
        reserve(shop, "SOAP", 1)  # 3 on hand - 2 held - 1 safety stock
    clock._offset = timedelta(hours=1)
    assert reserve(shop, "SOAP", 2) > 0
    with shop.read() as s:
        statuses = sorted(r.status for r in reservations.reservations_of(s, owner_type="cart", owner_id="o1"))
    assert statuses == ["expired"]


def test_found_units_go_back_into_the_lot_they_were_lost_from(shop):
    receive(shop, "SOAP", 1, "X")
    with shop.write() as s:
        service.adjust(s, actor=SYSTEM, location_id="s1", sku="SOAP", quantity=-1, reason="damage")
    with shop.write() as s:
        service.adjust(s, actor=SYSTEM, location_id="s1", sku="SOAP", quantity=2, reason="found")
    with shop.write() as s:
        service.adjust(s, actor=SYSTEM, location_id="s1", sku="SOAP", quantity=-2, reason="theft")
    with shop.write() as s:
        service.adjust(s, actor=SYSTEM, location_id="s1", sku="SOAP", quantity=1, reason="found")
    assert detail(shop, "SOAP").on_hand == 1


def test_a_count_adjusts_each_variance_and_records_expected_and_counted(shop):
    receive(shop, "SOAP", 10, "X")
    receive(shop, "MILK", 4, "A", days=5)
    with shop.write() as s:
        record, lines = service.count(s, actor=SYSTEM, location_id="s1", lines=[("SOAP", 7, None), ("MILK", 4, None)])
    assert [(x.sku, x.expected, x.counted, x.variance) for x in lines] == [("SOAP", 10, 7, -3), ("MILK", 4, 4, 0)]
    assert detail(shop, "SOAP").on_hand == 7


def test_a_count_below_what_is_reserved_is_refused_whole(shop):
    receive(shop, "SOAP", 10, "X")
    reserve(shop, "SOAP", 6)
    with pytest.raises(DomainError) as info, shop.write() as s:
        service.count(s, actor=SYSTEM, location_id="s1", lines=[("SOAP", 5, None)])
    assert info.value.code == "stock_reserved"
    assert detail(shop, "SOAP").on_hand == 10


@pytest.mark.parametrize("policy", ["flag", "hide"])
def test_a_gift_at_its_minimum_stock_runs_out_once_and_is_flagged_or_hidden(shop, policy):
    from sqlalchemy import select

    from omniretail.core.models import OutboxEvent

    with shop.write() as s:
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR", data=ProductIn(
            sku="TOTE", name="Gift tote bag", price={"amount": "0.00"}, is_gift=True, gift_min_stock=3,
            gift_low_policy=policy))
    receive(shop, "TOTE", 6, "G1")
    with shop.read() as s:
        assert [a.running_out for a in atp.availability(s, sku="TOTE")] == [False]
    reserve(shop, "TOTE", 2)  # 6 - 2 reserved - 1 safety stock = 3 available: at the minimum
    with shop.write() as s:
        service.adjust(s, actor=SYSTEM, location_id="s1", sku="TOTE", quantity=-1, reason="damage")
    with shop.read() as s:
        listed = atp.availability(s, sku="TOTE")
        low_events = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "stock.low")).all()
    assert [(e.object_id, e.data["policy"]) for e in low_events] == [("s1:TOTE", policy)]
    assert [(a.location.id, a.running_out) for a in listed] == ([("s1", True)] if policy == "flag" else [])
    receive(shop, "TOTE", 10, "G1")
    with shop.read() as s:
        assert [a.running_out for a in atp.availability(s, sku="TOTE")] == [False]


def test_the_accuracy_report_uses_each_sku_s_latest_count_and_values_variances(shop):
    from omniretail.inventory.accuracy import accuracy_report

    receive(shop, "SOAP", 10, "X")
    receive(shop, "MILK", 5, "A", days=9)
    with shop.write() as s:
        service.count(s, actor=SYSTEM, location_id="s1", lines=[("SOAP", 7, None), ("MILK", 5, None)])
    with shop.write() as s:
        service.count(s, actor=SYSTEM, location_id="s1", lines=[("SOAP", 8, None)])
    with shop.read() as s:
        exact = accuracy_report(s, location_id="s1")
        loose = accuracy_report(s, location_id="s1", tolerance_units=1)
    assert (exact.counts, exact.skus_counted, exact.skus_within_tolerance, exact.accuracy) == (2, 2, 1, 0.5)
    assert (exact.units_over, exact.units_short, exact.variance_value_minor) == (1, 0, 200)
    assert exact.worst == [("SOAP", 1, 200)] and exact.currency == "EUR"
    assert loose.accuracy == 1.0
