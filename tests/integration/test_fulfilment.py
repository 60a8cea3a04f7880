"""Fulfilment on both databases: release to one fulfilment per location, pick/pack/ship, pickups with codes and
expiry, short picks written off and re-sourced, returns anywhere, store attribution and loyalty points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core.clock import utcnow
from omniretail.core.config import Settings
from omniretail.core.errors import DomainError
from omniretail.core.models import OutboxEvent
from omniretail.core.security import SYSTEM, Actor, Role
from omniretail.customers.models import Profile
from omniretail.fulfilment import attribution, picking, returns, service
from omniretail.fulfilment.invariants import fulfilment_violations
from omniretail.fulfilment.models import Fulfilment, SalesCredit
from omniretail.inventory import atp, transfers
from omniretail.inventory import service as inventory
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import LedgerEntry, Reservation
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn
from omniretail.loyalty import service as loyalty
from omniretail.orders import service as orders
from omniretail.orders.invariants import order_violations
from omniretail.orders.models import Order
from omniretail.orders.schemas import DeliveryAddressIn, FulfilmentIn, PaymentIn

SETTINGS = Settings(secret_key="x" * 20)
PAID = PaymentIn(status="authorised", method="card")
TRANSFERABLE = FulfilmentIn(type="pickup", location_id="store-a", allow_transfer=True)
# Near store-b (Göttingen), far from store-a (Kassel) and the warehouse (Hanover).
HOME = DeliveryAddressIn(name="Ada Meyer", line1="Weender Str. 5", city="Göttingen", postcode="37073", country="DE",
                         phone="0551 123456", lat=51.54, lon=9.93)
ASSOCIATE_A = Actor(name="key:a", role=Role.ASSOCIATE, location_ids=frozenset({"store-a"}), key_id=11)
ASSOCIATE_B = Actor(name="key:b", role=Role.ASSOCIATE, location_ids=frozenset({"store-b"}), key_id=12)


@pytest.fixture
def shop(db):
    """A warehouse (Hanover) and two stores (Kassel with pickup, Göttingen shipping from store); milk, soap,
    yoghurt (perishable); customer Ada (a loyalty member)."""
    with db.write() as s:
        for id_, type_, lat, lon, pickup in (("wh", "warehouse", 52.37, 9.73, False),
                                             ("store-a", "store", 51.31, 9.49, True),
                                             ("store-b", "store", 51.53, 9.92, False)):
            locations.register_location(s, actor=SYSTEM, data=LocationIn(
                id=id_, name=f"Location {id_}", type=type_, lat=lat, lon=lon, pickup=pickup, ship_from_store=True,
                opening_hours="mon-sat 09:00-20:00; sun closed"))
        for sku, price, perishable in (("MILK", "1.20", False), ("SOAP", "2.50", False), ("YOG", "0.80", True)):
            catalog.create_product(s, actor=SYSTEM, default_currency="EUR", data=ProductIn(
                sku=sku, name=f"Product {sku}", price={"amount": price}, perishable=perishable))
        for location_id, sku, units in (("store-a", "MILK", 5), ("store-a", "SOAP", 3), ("store-b", "MILK", 4),
                                        ("wh", "MILK", 20), ("wh", "SOAP", 20)):
            inventory.receive(s, actor=SYSTEM, location_id=location_id, sku=sku, quantity=units, lot="L1")
        inventory.receive(s, actor=SYSTEM, location_id="store-a", sku="YOG", quantity=10, lot="Y1",
                          expiry_date=utcnow().date() + timedelta(days=10))
        s.add(Profile(status="active", given_name="Ada", family_name="Meyer"))
        s.flush()
        loyalty.earn(s, actor=SYSTEM, profile_id=1, points=10, channel="web", cause_type="signup", cause_id="1")
    yield db
    with db.read() as s:
        assert stock_violations(s) == []
        assert order_violations(s) == []
        assert fulfilment_violations(s) == []


def place(db, lines, fulfilment=None, payment=PAID):
    with db.write() as s:
        order = orders.place_order(s, actor=SYSTEM, channel="web", customer_id=1,
                                   lines=[orders.OrderLine(sku, q) for sku, q in lines],
                                   fulfilment=fulfilment or FulfilmentIn(type="pickup", location_id="store-a"),
                                   payment=payment, settings=SETTINGS)
        assert order.status == "confirmed", order.hold_reasons
        return order.id


def release(db, order_id):
    with db.write() as s:
        return [(f.id, f.location_id, f.kind) for f in service.release(s, actor=SYSTEM, order_id=order_id)]


def status(db, order_id):
    with db.read() as s:
        return s.get(Order, order_id).status


def fstatus(db, fulfilment_id):
    with db.read() as s:
        return s.get(Fulfilment, fulfilment_id).status


def level(db, location_id, sku):
    with db.read() as s:
        d = atp.level_detail(s, location_id=location_id, sku=sku)
        return d.on_hand, d.reserved


def events(db, prefix):
    with db.read() as s:
        return [(e.type, e.data) for e in s.scalars(select(OutboxEvent).where(OutboxEvent.type.like(f"{prefix}%"))
                                                    .order_by(OutboxEvent.seq))]


def test_release_makes_one_fulfilment_per_location_and_credits_the_pickup_store(shop):
    order_id = place(shop, [("MILK", 2), ("SOAP", 1)])

    made = release(shop, order_id)

    assert [(loc, kind) for _, loc, kind in made] == [("store-a", "pickup")]
    assert status(shop, order_id) == "in_fulfilment"
    assert release(shop, order_id) == made  # releasing again answers the same
    with shop.read() as s:
        credit = s.scalars(select(SalesCredit)).one()
        assert (credit.location_id, credit.rule, credit.kind, credit.amount_minor) == ("store-a", "pickup_store",
                                                                                        "sale", 490)
    assert [t for t, _ in events(shop, "fulfilment.")] == ["fulfilment.created"]


def test_a_delivery_is_picked_packed_and_shipped_and_the_order_completes_when_its_units_left(shop):
    order_id = place(shop, [("MILK", 3)], FulfilmentIn(type="delivery", address=HOME))
    [(fid, location_id, kind)] = release(shop, order_id)
    assert (location_id, kind) == ("store-b", "delivery")  # nearest location sending every line
    with shop.write() as s:
        f = service.start_picking(s, actor=ASSOCIATE_B, fulfilment_id=fid)
        assert picking.pick_list(s, f) == [{"sku": "MILK", "quantity": 3, "picked": None,
                                            "lots": [{"lot": "L1", "quantity": 3, "expiry_date": None}]}]
        service.pack(s, actor=ASSOCIATE_B, fulfilment_id=fid)
    with pytest.raises(DomainError) as missing:
        with shop.write() as s:
            service.ship(s, actor=ASSOCIATE_B, fulfilment_id=fid, carrier="DHL", waybill=" ")
    assert missing.value.code == "waybill_required"
    with shop.write() as s:
        service.ship(s, actor=ASSOCIATE_B, fulfilment_id=fid, carrier="DHL", waybill="00340434161094042557")

    assert fstatus(shop, fid) == "shipped"
    assert status(shop, order_id) == "completed"
    assert level(shop, "store-b", "MILK") == (1, 0)
    assert [t for t, _ in events(shop, "fulfilment.")] == ["fulfilment.created", "fulfilment.picking",
                                                           "fulfilment.packed", "fulfilment.shipped"]
    with shop.read() as s:
        credit = s.scalars(select(SalesCredit)).one()
        assert (credit.location_id, credit.rule) == ("store-b", "nearest_store")


def test_an_associate_works_only_on_their_stores_fulfilments(shop):
    order_id = place(shop, [("MILK", 1)])
    [(fid, _, _)] = release(shop, order_id)

    with pytest.raises(DomainError) as refused:
        with shop.write() as s:
            service.start_picking(s, actor=ASSOCIATE_B, fulfilment_id=fid)
    assert refused.value.code == "location_out_of_scope"


def test_a_pickup_is_collected_against_its_code_at_its_store_only_and_earns_points(shop):
    order_id = place(shop, [("MILK", 2), ("SOAP", 1)])
    [(fid, _, _)] = release(shop, order_id)
    with shop.write() as s:
        service.start_picking(s, actor=ASSOCIATE_A, fulfilment_id=fid)
        f = service.ready(s, actor=ASSOCIATE_A, fulfilment_id=fid)
        code, expires = f.pickup_code, f.expires_at
    assert status(shop, order_id) == "ready_for_pickup"
    assert len(code) == 8 and expires - utcnow() > timedelta(days=6, hours=23)
    (_, ready_event), = [e for e in events(shop, "fulfilment.ready")]
    assert (ready_event["pickup_code"], ready_event["store"], ready_event["customer_id"]) == (
        code, "Location store-a", 1)
    assert ready_event["opening_hours"]["sun"] == []

    for actor, wrong, expected in ((ASSOCIATE_A, "WRONG123", "unknown_pickup_code"),
                                   (ASSOCIATE_B, code, "location_out_of_scope")):
        with pytest.raises(DomainError) as refused:
            with shop.write() as s:
                service.collect(s, actor=actor, code=wrong)
        assert refused.value.code == expected
    with shop.write() as s:
        service.collect(s, actor=ASSOCIATE_A, code=code.lower())

    assert (fstatus(shop, fid), status(shop, order_id)) == ("collected", "completed")
    assert level(shop, "store-a", "MILK") == (3, 0)
    with shop.read() as s:
        assert loyalty.points_earned(s, 1, cause_type="order", cause_id=str(order_id)) == 4  # 4.90 EUR


def test_an_uncollected_pickup_expires_its_units_return_to_stock_and_the_order_is_cancelled(shop):
    order_id = place(shop, [("MILK", 2)])
    [(fid, _, _)] = release(shop, order_id)
    with shop.write() as s:
        service.start_picking(s, actor=ASSOCIATE_A, fulfilment_id=fid)
        service.ready(s, actor=ASSOCIATE_A, fulfilment_id=fid)
    with shop.write() as s:
        assert service.expire_pickups(s, actor=SYSTEM, now=utcnow() + timedelta(days=6)) == []
    with shop.write() as s:
        assert service.expire_pickups(s, actor=SYSTEM, now=utcnow() + timedelta(days=8)) == [fid]

    assert (fstatus(shop, fid), status(shop, order_id)) == ("expired", "cancelled")
    assert level(shop, "store-a", "MILK") == (5, 0)


def test_a_short_pick_is_written_off_and_re_sourced_to_the_next_best_location(shop):
    order_id = place(shop, [("MILK", 3)], FulfilmentIn(type="delivery", address=HOME))
    [(fid, _, _)] = release(shop, order_id)
    with shop.write() as s:
        picking.record_pick(s, actor=ASSOCIATE_B, fulfilment_id=fid, found={"MILK": 1})

    assert level(shop, "store-b", "MILK") == (2, 1)  # 4 on hand, 2 not found written off, 1 still reserved
    with shop.read() as s:
        counted = s.scalars(select(LedgerEntry.delta).where(LedgerEntry.location_id == "store-b",
                                                            LedgerEntry.kind == "adjustment")).all()
        made = s.scalars(select(Fulfilment).where(Fulfilment.order_id == order_id).order_by(Fulfilment.id)).all()
        assert counted == [-2]
        # The next best location: Kassel's store, nearer Göttingen than the warehouse in Hanover.
        assert [(f.location_id, f.status) for f in made] == [("store-b", "picking"), ("store-a", "created")]
        assert [(ln.sku, ln.quantity) for ln in service.lines_of(s, made[1].id)] == [("MILK", 2)]
        assert picking.unfilled_units(s, order_id) == {}
    assert level(shop, "store-a", "MILK") == (5, 2)


def test_units_found_nowhere_are_reported_unfilled_never_dropped(shop):
    order_id = place(shop, [("SOAP", 3)])
    [(fid, _, _)] = release(shop, order_id)
    with shop.write() as s:  # nothing else anywhere sends soap once the warehouse is closed
        s.execute(select(func.count()).select_from(Fulfilment))
        inventory.adjust(s, actor=SYSTEM, location_id="wh", sku="SOAP", quantity=-20, reason="damage")
    with shop.write() as s:
        picking.record_pick(s, actor=ASSOCIATE_A, fulfilment_id=fid, found={"SOAP": 1})

    (_, short), = events(shop, "fulfilment.short")
    assert short["unfilled"] == [{"sku": "SOAP", "quantity": 2}]
    with shop.read() as s:
        assert picking.unfilled_units(s, order_id) == {"SOAP": 2}


def test_cancelling_an_order_in_fulfilment_cancels_its_fulfilments(shop):
    order_id = place(shop, [("MILK", 2)])
    [(fid, _, _)] = release(shop, order_id)
    with shop.write() as s:
        orders.cancel_order(s, actor=SYSTEM, order_id=order_id, reason="changed mind")

    assert (fstatus(shop, fid), status(shop, order_id)) == ("cancelled", "cancelled")
    assert level(shop, "store-a", "MILK") == (5, 0)


def test_release_due_releases_every_confirmed_order_without_fulfilments(shop):
    first, second = place(shop, [("MILK", 1)]), place(shop, [("SOAP", 1)])
    with shop.write() as s:
        assert service.release_due(s, actor=SYSTEM) == [first, second]
    with shop.write() as s:
        assert service.release_due(s, actor=SYSTEM) == []


def _completed_delivery(db, lines):
    order_id = place(db, lines, FulfilmentIn(type="delivery", address=HOME))
    with db.write() as s:
        for f in service.release(s, actor=SYSTEM, order_id=order_id):
            service.start_picking(s, actor=SYSTEM, fulfilment_id=f.id)
            service.pack(s, actor=SYSTEM, fulfilment_id=f.id)
            service.ship(s, actor=SYSTEM, fulfilment_id=f.id, waybill="W1")
    assert status(db, order_id) == "completed"
    return order_id


def test_an_online_order_returned_in_a_store_is_restocked_there_refunded_and_debits_the_credited_store(shop):
    order_id = _completed_delivery(shop, [("MILK", 3)])  # sent from store-b, credited to store-b
    with shop.read() as s:
        earned = loyalty.points_earned(s, 1, cause_type="order", cause_id=str(order_id))
    with shop.write() as s:
        returned = returns.create_return(s, actor=ASSOCIATE_A, order_id=order_id, location_id="store-a",
                                         channel="pos", lines=[returns.ReturnLineIn("MILK", 2)], reason="too many")
        refund, method, points = returned.refund_minor, returned.refund_method, returned.points_reversed

    assert (refund, method) == (240, "card")
    assert earned == 3 and points == 2
    assert level(shop, "store-a", "MILK") == (7, 0)  # restocked where it came back
    assert status(shop, order_id) == "completed"  # one unit is still out
    with shop.read() as s:
        rows = attribution.report(s, start=utcnow() - timedelta(days=1), end=utcnow() + timedelta(days=1))
    assert [(r["location_id"], r["sales_minor"], r["returns_minor"], r["net_minor"]) for r in rows] == [
        ("store-b", 360, 240, 120)]

    with pytest.raises(DomainError) as too_many:
        with shop.write() as s:
            returns.create_return(s, actor=SYSTEM, order_id=order_id, location_id="wh", channel="web",
                                  lines=[returns.ReturnLineIn("MILK", 2)])
    assert too_many.value.code == "return_exceeds_order"
    assert too_many.value.extra["lines"] == [{"sku": "MILK", "bought": 3, "returned": 2, "asked": 2}]

    with shop.write() as s:
        returns.create_return(s, actor=SYSTEM, order_id=order_id, location_id="wh", channel="web",
                              lines=[returns.ReturnLineIn("MILK", 1, "write_off", "opened")])
    assert status(shop, order_id) == "returned"
    assert level(shop, "wh", "MILK") == (20, 0)  # written off: not restocked


@pytest.mark.parametrize("lines, code", [
    ([returns.ReturnLineIn("SOAP", 1)], "sku_not_in_order"),
    ([returns.ReturnLineIn("MILK", 1, "write_off")], "reason_required"),
    ([returns.ReturnLineIn("MILK", 0)], "invalid_quantity"),
    ([], "empty_return"),
])
def test_bad_returns_are_refused_and_write_nothing(shop, lines, code):
    order_id = _completed_delivery(shop, [("MILK", 1)])
    with pytest.raises(DomainError) as refused:
        with shop.write() as s:
            returns.create_return(s, actor=SYSTEM, order_id=order_id, location_id="store-a", channel="pos",
                                  lines=lines)
    assert refused.value.code == code
    assert level(shop, "store-a", "MILK") == (5, 0)


def test_a_perishable_comes_back_written_off_and_an_unfinished_order_cannot_be_returned(shop):
    order_id = place(shop, [("YOG", 2)])
    for case, code in (("open", "order_not_returnable"), ("perishable", "perishable_not_restocked")):
        if case == "perishable":
            [(fid, _, _)] = release(shop, order_id)
            with shop.write() as s:
                service.start_picking(s, actor=SYSTEM, fulfilment_id=fid)
                code_ = service.ready(s, actor=SYSTEM, fulfilment_id=fid).pickup_code
                service.collect(s, actor=SYSTEM, code=code_)
        with pytest.raises(DomainError) as refused:
            with shop.write() as s:
                returns.create_return(s, actor=SYSTEM, order_id=order_id, location_id="store-a", channel="pos",
                                      lines=[returns.ReturnLineIn("YOG", 1)])
        assert refused.value.code == code


def test_an_address_without_coordinates_is_placed_by_its_city(shop):
    with shop.write() as s:
        order = s.get(Order, place(shop, [("MILK", 1)], FulfilmentIn(type="delivery", address=HOME.model_copy(
            update={"lat": None, "lon": None}))))
        assert attribution.credited_store(s, order) == ("store-b", "nearest_store")
        order.delivery_address = {"line1": "Somewhere 1", "city": "Nowhere-upon-Nothing", "country": "DE"}
        assert attribution.credited_store(s, order) is None


def test_reservations_of_a_released_order_are_its_fulfilment_lines(shop):
    order_id = place(shop, [("MILK", 2), ("SOAP", 1)])
    release(shop, order_id)
    with shop.read() as s:
        held = {r.id for r in s.scalars(select(Reservation).where(Reservation.owner_id == str(order_id)))}
        lined = {ln.reservation_id for f in service.fulfilments_of(s, order_id) for ln in service.lines_of(s, f.id)}
    assert held == lined and len(held) == 2


def test_a_pickup_the_store_cannot_fill_waits_for_a_transfer_from_the_nearest_location(shop):
    order_id = place(shop, [("MILK", 8)], TRANSFERABLE)  # store-a holds 5
    assert level(shop, "store-a", "MILK") == (5, 5)
    assert level(shop, "store-b", "MILK") == (4, 3)  # Göttingen is nearer Kassel than the Hanover warehouse

    made = release(shop, order_id)
    with shop.read() as s:
        found = {f.status: f for f in service.fulfilments_of(s, order_id)}
        transfer_id = found["awaiting_transfer"].transfer_id
        assert [(loc, kind) for _, loc, kind in made] == [("store-a", "pickup"), ("store-a", "pickup")]
        assert set(found) == {"created", "awaiting_transfer"}
    assert level(shop, "store-b", "MILK") == (4, 3)  # now held for the transfer
    with shop.write() as s:
        assert service.arrivals(s, actor=SYSTEM) == []
        transfers.pick(s, actor=SYSTEM, transfer_id=transfer_id)
        transfers.ship(s, actor=SYSTEM, transfer_id=transfer_id)
        transfers.receive(s, actor=SYSTEM, transfer_id=transfer_id)
    with shop.write() as s:
        assert service.arrivals(s, actor=SYSTEM) == [found["awaiting_transfer"].id]
    assert level(shop, "store-a", "MILK") == (8, 8)
    codes = []
    with shop.write() as s:
        for f in service.fulfilments_of(s, order_id):
            service.start_picking(s, actor=ASSOCIATE_A, fulfilment_id=f.id)
            codes.append(service.ready(s, actor=ASSOCIATE_A, fulfilment_id=f.id).pickup_code)
    assert status(shop, order_id) == "ready_for_pickup"
    with shop.write() as s:
        for code in codes:
            service.collect(s, actor=ASSOCIATE_A, code=code)
    assert status(shop, order_id) == "completed"
    assert level(shop, "store-a", "MILK") == (0, 0)


def test_cancelling_a_pickup_waiting_for_a_transfer_cancels_the_transfer(shop):
    order_id = place(shop, [("MILK", 7)], TRANSFERABLE)
    release(shop, order_id)
    with shop.write() as s:
        orders.cancel_order(s, actor=SYSTEM, order_id=order_id, reason="changed mind")
    assert level(shop, "store-b", "MILK") == (4, 0)
    assert level(shop, "store-a", "MILK") == (5, 0)


def test_a_pickup_the_store_cannot_fill_is_refused_unless_the_customer_accepts_a_transfer(shop):
    with pytest.raises(DomainError) as refused:
        place(shop, [("MILK", 8)])
    assert refused.value.code == "insufficient_stock"
    assert level(shop, "store-b", "MILK") == (4, 0)
