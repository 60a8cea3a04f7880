"""Order use cases on both databases: all or nothing, inspection holds and releases, POS sales, timelines,
and orders following their customer through merges and erasure."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core import clock
from omniretail.core.config import Settings
from omniretail.core.errors import DomainError
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM, Actor, Role
from omniretail.customers import addresses, merging, privacy
from omniretail.customers.models import Profile, TimelineEntry
from omniretail.inventory import atp
from omniretail.inventory import service as inventory
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import LedgerEntry, Reservation
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn
from omniretail.orders import service
from omniretail.orders.invariants import order_violations
from omniretail.orders.models import Order, OrderEvent, OrderItem, VerifiedDetail
from omniretail.orders.schemas import DeliveryAddressIn, FulfilmentIn, PaymentIn
from omniretail.orders.service import OrderLine
from omniretail.sourcing.models import SourcingDecision

SETTINGS = Settings(secret_key="x" * 20, order_new_customer_limit=Decimal("100"))
PAID = PaymentIn(status="authorised", method="card")
HOME = DeliveryAddressIn(name="Ada Meyer", line1="Lindenstraße 5", city="Kassel", postcode="34117", country="DE",
                         phone="0561 123456", lat=51.31, lon=9.49)
DELIVERY = FulfilmentIn(type="delivery", address=HOME)
PICKUP = FulfilmentIn(type="pickup", location_id="store-ks")


@pytest.fixture
def shop(db):
    """A warehouse and two stores (one without pickup); milk 1.20, soap 2.50 and a TV 150.00 EUR in stock."""
    with db.write() as s:
        for id_, type_, lat, pickup in (("wh-1", "warehouse", 51.0, False), ("store-ks", "store", 51.3, True),
                                        ("store-nopick", "store", 52.0, False)):
            locations.register_location(s, actor=SYSTEM, data=LocationIn(
                id=id_, name=f"Location {id_}", type=type_, lat=lat, lon=9.5, pickup=pickup, ship_from_store=True))
        for sku, price in (("MILK", "1.20"), ("SOAP", "2.50"), ("TV", "150.00")):
            catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                                   data=ProductIn(sku=sku, name=f"Product {sku}", price={"amount": price}))
        for location_id, sku, units in (("wh-1", "MILK", 10), ("wh-1", "SOAP", 10), ("store-ks", "MILK", 5),
                                        ("store-ks", "SOAP", 3), ("store-nopick", "SOAP", 4), ("wh-1", "TV", 2),
                                        ("store-ks", "TV", 1)):
            inventory.receive(s, actor=SYSTEM, location_id=location_id, sku=sku, quantity=units, lot="L1")
        profile = Profile(status="active", given_name="Ada", family_name="Meyer")
        s.add(profile)
        s.flush()
    yield db
    clock._offset = timedelta(0)
    with db.read() as s:
        assert stock_violations(s) == []
        assert order_violations(s) == []


def customer(db, given_name: str = "Ada") -> int:
    with db.write() as s:
        profile = Profile(status="active", given_name=given_name)
        s.add(profile)
        s.flush()
        return profile.id


def place(db, lines, fulfilment=PICKUP, payment=PAID, customer_id=1, actor=SYSTEM, channel="web", **kw):
    with db.write() as s:
        order = service.place_order(s, actor=actor, channel=channel, customer_id=customer_id, lines=lines,
                                    fulfilment=fulfilment, payment=payment, settings=SETTINGS, **kw)
        return order.id, order.status, list(order.hold_reasons)


def level(db, location_id, sku):
    with db.read() as s:
        d = atp.level_detail(s, location_id=location_id, sku=sku)
        return d.on_hand, d.reserved


def count(db, model, *where) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_a_clean_pickup_order_is_confirmed_with_every_unit_reserved_at_catalogue_prices(shop):
    order_id, status, reasons = place(shop, [OrderLine("MILK", 2), OrderLine("SOAP", 1)])

    assert (status, reasons) == ("confirmed", [])
    assert level(shop, "store-ks", "MILK") == (5, 2)
    assert level(shop, "store-ks", "SOAP") == (3, 1)
    with shop.read() as s:
        order = s.get(Order, order_id)
        assert (order.total_minor, order.currency, order.location_id) == (490, "EUR", "store-ks")
        items = s.execute(select(OrderItem.sku, OrderItem.quantity, OrderItem.unit_price_minor)
                          .order_by(OrderItem.line_no)).all()
    assert items == [("MILK", 2, 120), ("SOAP", 1, 250)]


def test_a_short_line_refuses_the_whole_order_and_nothing_is_written(shop):
    with pytest.raises(DomainError) as refused:
        place(shop, [OrderLine("MILK", 2), OrderLine("SOAP", 4)])

    assert refused.value.code == "insufficient_stock"
    assert refused.value.extra["short"] == [{"location_id": "store-ks", "sku": "SOAP", "requested": 4,
                                             "available": 3}]
    assert level(shop, "store-ks", "MILK") == (5, 0)
    assert [count(shop, m) for m in (Order, OrderItem, OrderEvent, Reservation)] == [0, 0, 0, 0]
    assert count(shop, OutboxEvent, OutboxEvent.type.like("order.%")) == 0
    assert count(shop, TimelineEntry, TimelineEntry.kind.like("order_%")) == 0


def test_a_delivery_no_single_location_can_send_is_refused_naming_what_the_network_has(shop):
    with pytest.raises(DomainError) as refused:
        place(shop, [OrderLine("SOAP", 18)], fulfilment=DELIVERY)

    assert refused.value.code == "insufficient_stock"
    assert refused.value.extra["short"] == [{"sku": "SOAP", "requested": 18, "available": 17}]
    assert count(shop, Order) == 0


def test_a_delivery_is_reserved_at_the_nearest_location_that_sends_every_line(shop):
    order_id, status, _ = place(shop, [OrderLine("MILK", 3), OrderLine("SOAP", 2)], fulfilment=DELIVERY)

    assert status == "confirmed"
    with shop.read() as s:
        held = s.execute(select(Reservation.location_id, Reservation.quantity)
                         .where(Reservation.owner_id == str(order_id)).order_by(Reservation.id)).all()
    assert held == [("store-ks", 3), ("store-ks", 2)]


def test_a_delivery_no_location_holds_whole_goes_in_the_cheapest_parcels(shop):
    order_id, _, _ = place(shop, [OrderLine("SOAP", 12)], fulfilment=DELIVERY)

    with shop.read() as s:
        held = s.execute(select(Reservation.location_id, Reservation.quantity)
                         .where(Reservation.owner_id == str(order_id)).order_by(Reservation.location_id)).all()
    # Two parcels either way; the store next door (3 units) and the warehouse 35 km off cost less in distance
    # than the far store's 4 with the warehouse's 10.
    assert held == [("store-ks", 3), ("wh-1", 9)]
    with shop.read() as s:
        decision = s.get(SourcingDecision, order_id)
        assert (decision.policy, decision.packages, decision.split) == ("default", 2, True)
        assert {x["location_id"] for x in decision.decision["shipments"]} == {"store-ks", "wh-1"}
        assert decision.decision["cost"]["packages"] == round(2 * 8.759, 6)


def test_a_held_order_keeps_its_reservation_and_confirming_it_remembers_the_details(shop):
    address = HOME.model_copy(update={"phone": "12"})
    first, status, reasons = place(shop, [OrderLine("MILK", 1)], fulfilment=FulfilmentIn(type="delivery",
                                                                                         address=address))
    assert status == "on_hold"
    assert [r["code"] for r in reasons] == ["invalid_phone"]
    assert level(shop, "store-ks", "MILK") == (5, 1)

    with shop.write() as s:
        service.confirm_order(s, actor=SYSTEM, order_id=first, reason="Called the customer")
    assert level(shop, "store-ks", "MILK") == (5, 1)
    assert count(shop, VerifiedDetail) == 2

    _, again, _ = place(shop, [OrderLine("SOAP", 1)], fulfilment=FulfilmentIn(type="delivery", address=address))
    assert again == "confirmed"


def test_cancelling_a_held_order_releases_every_reserved_unit(shop):
    order_id, status, _ = place(shop, [OrderLine("MILK", 2)], payment=PaymentIn(status="pending"))
    assert status == "on_hold"

    with shop.write() as s:
        service.cancel_order(s, actor=SYSTEM, order_id=order_id, reason="Customer did not pay")

    assert level(shop, "store-ks", "MILK") == (5, 0)
    with shop.read() as s:
        assert s.get(Order, order_id).status == "cancelled"
        assert s.scalars(select(Reservation.status)).all() == ["released"]


def test_a_cancelled_order_cannot_be_confirmed(shop):
    order_id, _, _ = place(shop, [OrderLine("MILK", 1)])
    with shop.write() as s:
        service.cancel_order(s, actor=SYSTEM, order_id=order_id)

    with pytest.raises(DomainError) as refused, shop.write() as s:
        service.confirm_order(s, actor=SYSTEM, order_id=order_id)
    assert (refused.value.status, refused.value.code) == (409, "illegal_transition")


def test_the_same_lines_again_within_the_window_are_held_as_a_repeat(shop):
    first, status, _ = place(shop, [OrderLine("MILK", 1), OrderLine("SOAP", 1)])
    assert status == "confirmed"

    _, again, reasons = place(shop, [OrderLine("SOAP", 1), OrderLine("MILK", 1)])
    assert again == "on_hold"
    assert [r["code"] for r in reasons] == ["repeat_order"]
    assert f"order {first}" in reasons[0]["detail"]

    clock._offset = timedelta(minutes=31)
    assert place(shop, [OrderLine("MILK", 1), OrderLine("SOAP", 1)])[1] == "confirmed"


def test_a_new_customers_large_first_order_is_held_and_once_confirmed_the_next_is_not(shop):
    first, status, reasons = place(shop, [OrderLine("TV", 1)])  # 150.00 EUR, above the 100.00 limit

    assert (status, [r["code"] for r in reasons]) == ("on_hold", ["new_customer_high_value"])
    assert place(shop, [OrderLine("MILK", 1)])[1] == "confirmed"  # small orders pass meanwhile
    with shop.write() as s:
        service.confirm_order(s, actor=SYSTEM, order_id=first)
    assert place(shop, [OrderLine("TV", 1), OrderLine("SOAP", 1)], fulfilment=DELIVERY)[1] == "confirmed"


def test_a_delivery_to_an_address_where_deliveries_failed_is_held_until_staff_confirm_it(shop):
    with shop.write() as s:
        profile = s.get(Profile, 1)
        fields = addresses.validate(addresses.AddressInput(line1="Lindenstr. 5", city="Kassel", postcode="34117",
                                                           country="DE"), field="address", default_region="DE")
        saved, _ = addresses.save(s, actor=SYSTEM, profile=profile, fields=fields)
        addresses.flag_failed_delivery(s, actor=SYSTEM, profile=profile, address_id=saved.id)

    order_id, status, reasons = place(shop, [OrderLine("MILK", 1)], fulfilment=DELIVERY)
    assert (status, [r["code"] for r in reasons]) == ("on_hold", ["address_failed_before"])
    with shop.write() as s:
        service.confirm_order(s, actor=SYSTEM, order_id=order_id)
    assert place(shop, [OrderLine("SOAP", 1)], fulfilment=DELIVERY)[1] == "confirmed"


def test_a_sale_handed_over_at_the_till_is_a_completed_order_with_its_stock_consumed(shop):
    till = Actor(name="key:9:till", role=Role.ASSOCIATE, location_ids=frozenset({"store-ks"}))
    order_id, status, _ = place(shop, [OrderLine("MILK", 2)], channel="pos", actor=till,
                                fulfilment=FulfilmentIn(type="in_store", location_id="store-ks"),
                                payment=PaymentIn(status="captured", method="cash"))

    assert status == "completed"
    assert level(shop, "store-ks", "MILK") == (3, 0)
    with shop.read() as s:
        consumed = s.execute(select(LedgerEntry.delta, LedgerEntry.kind, LedgerEntry.cause_type, LedgerEntry.cause_id)
                             .where(LedgerEntry.kind == "consume")).all()
        assert consumed == [(-2, "consume", "order", str(order_id))]
        assert s.get(Order, order_id).origin_location_id == "store-ks"
        steps = s.execute(select(OrderEvent.from_status, OrderEvent.to_status).order_by(OrderEvent.id)).all()
        assert steps == [(None, "created"), ("created", "completed")]
        events = s.scalars(select(OutboxEvent.type).where(OutboxEvent.type.like("order.%"))
                           .order_by(OutboxEvent.seq)).all()
    assert events == ["order.created", "order.completed"]


def test_every_state_change_is_in_the_order_and_customer_timelines_with_audit_and_events(shop):
    order_id, _, _ = place(shop, [OrderLine("MILK", 1)], payment=PaymentIn(status="failed"))
    with shop.write() as s:
        service.cancel_order(s, actor=SYSTEM, order_id=order_id, reason="No payment", channel="call_centre")

    with shop.read() as s:
        steps = s.execute(select(OrderEvent.from_status, OrderEvent.to_status, OrderEvent.channel, OrderEvent.reason)
                          .order_by(OrderEvent.id)).all()
        kinds = s.execute(select(TimelineEntry.kind, TimelineEntry.summary).where(TimelineEntry.profile_id == 1)
                          .order_by(TimelineEntry.id)).all()
        audits = s.execute(select(AuditEntry.action, AuditEntry.changes).where(AuditEntry.object_type == "order")
                           .order_by(AuditEntry.id)).all()
        events = s.scalars(select(OutboxEvent.type).where(OutboxEvent.type.like("order.%"))
                           .order_by(OutboxEvent.seq)).all()
    assert steps == [(None, "created", "web", None), ("created", "inspecting", "web", None),
                     ("inspecting", "on_hold", "web", None), ("on_hold", "cancelled", "call_centre", "No payment")]
    # The customer's timeline and the audit log: one entry per move (placed and held in one request).
    assert kinds == [("order_created", f"Order {order_id} placed via web: 1 item(s), 1.20 EUR; held for "
                                       "confirmation: payment_failed"),
                     ("order_cancelled", f"Order {order_id} cancelled: No payment")]
    assert audits == [("order.created", {"status": {"from": None, "to": "on_hold"}, "via": ["created", "inspecting"]}),
                      ("order.cancelled", {"status": {"from": "on_hold", "to": "cancelled"}})]
    assert events == ["order.created", "order.held", "order.cancelled"]


def test_a_merge_moves_the_absorbed_profiles_orders_to_the_survivor(shop):
    twin = customer(shop, "Ada")
    order_id, _, _ = place(shop, [OrderLine("MILK", 1)], customer_id=twin)

    with shop.write() as s:
        merging.merge(s, actor=SYSTEM, survivor_id=1, absorbed_id=twin)
    with shop.read() as s:
        assert s.get(Order, order_id).customer_id == 1
    later, _, _ = place(shop, [OrderLine("SOAP", 1)], customer_id=twin)  # the old id still places orders
    with shop.read() as s:
        assert s.get(Order, later).customer_id == 1


def test_erasing_a_customer_keeps_their_orders_and_drops_where_they_were_delivered(shop):
    order_id, _, _ = place(shop, [OrderLine("MILK", 1)], fulfilment=DELIVERY)
    held, _, reasons = place(shop, [OrderLine("SOAP", 1)], fulfilment=FulfilmentIn(
        type="delivery", address=HOME.model_copy(update={"phone": "12"})))
    assert reasons[0]["detail"] == "'12' is not a valid phone number in DE"
    pickup, _, _ = place(shop, [OrderLine("MILK", 1)])

    with shop.write() as s:
        privacy.erase(s, actor=SYSTEM, profile=s.get(Profile, 1), reason="asked")

    with shop.read() as s:
        order = s.get(Order, order_id)
        assert (order.customer_id, order.total_minor, order.delivery_address) == (1, 120, {"erased": True})
        assert s.get(Order, pickup).delivery_address is None  # it never had one
        assert s.scalar(select(func.count()).select_from(Order).where(Order.delivery_address.is_(None))) == 1
        assert s.get(Order, held).hold_reasons == [{"code": "invalid_phone", "detail": "(erased)"}]
        assert s.scalar(select(func.count()).select_from(OrderItem)) == 3
    with pytest.raises(DomainError) as refused:
        place(shop, [OrderLine("MILK", 1)])
    assert refused.value.code == "profile_erased"


@pytest.mark.parametrize(("lines", "fulfilment", "payment", "code"), [
    ([], PICKUP, PAID, "empty_order"),
    ([OrderLine("NOPE", 1)], PICKUP, PAID, "unknown_sku"),
    ([OrderLine("MILK", 0)], PICKUP, PAID, "invalid_quantity"),
    ([OrderLine("MILK", -2)], PICKUP, PAID, "invalid_quantity"),
    ([OrderLine("MILK", 1)], FulfilmentIn(type="pickup", location_id="store-nopick"), PAID, "pickup_not_offered"),
    ([OrderLine("MILK", 1)], FulfilmentIn(type="pickup"), PAID, "location_required"),
    ([OrderLine("MILK", 1)], FulfilmentIn(type="pickup", location_id="nowhere"), PAID, "unknown_location"),
    ([OrderLine("MILK", 1)], FulfilmentIn(type="delivery"), PAID, "address_required"),
    ([OrderLine("MILK", 1)], DELIVERY, PaymentIn(status="cash_on_pickup"), "invalid_payment"),
    ([OrderLine("MILK", 1)], FulfilmentIn(type="in_store", location_id="store-ks"), PAID, "payment_not_captured"),
])
def test_bad_orders_are_refused_with_their_code_and_nothing_is_written(shop, lines, fulfilment, payment, code):
    with pytest.raises(DomainError) as refused:
        place(shop, lines, fulfilment=fulfilment, payment=payment)

    assert (refused.value.status, refused.value.code) == (422, code)
    assert [count(shop, m) for m in (Order, Reservation)] == [0, 0]


def test_an_unknown_customer_is_refused(shop):
    with pytest.raises(DomainError) as refused:
        place(shop, [OrderLine("MILK", 1)], customer_id=999)
    assert (refused.value.status, refused.value.code) == (422, "unknown_customer")
