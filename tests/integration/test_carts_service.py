"""Carts on both databases: one active cart per person under concurrency, joins on identification and on
customer merges, holds that are all-or-nothing and lapse, checkout that makes orders or changes nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omniretail.carts import checkout, holds, items, service
from omniretail.carts.models import Cart, CartLine
from omniretail.catalog import service as catalog
from omniretail.catalog.models import Product
from omniretail.catalog.schemas import ProductIn
from omniretail.core import clock
from omniretail.core.errors import DomainError
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM, Actor, Role
from omniretail.customers import identify as identification
from omniretail.customers import merging, privacy
from omniretail.customers.models import Profile, TimelineEntry
from omniretail.inventory import atp, reservations
from omniretail.inventory import service as stock
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import Reservation
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn
from omniretail.orders.models import Order, OrderItem
from omniretail.orders.schemas import DeliveryAddressIn, FulfilmentIn, PaymentIn

THREADS = 12
PAID = PaymentIn(status="authorised", method="card")
HOME = DeliveryAddressIn(name="Ada Lovelace", line1="Torstraße 1", city="Berlin", postcode="10119", country="DE",
                         phone="+49 30 1234567")
ALWAYS_OPEN = "mon-sun 00:00-24:00"


@pytest.fixture
def shop(db) -> None:
    """Two stores with pickup, a warehouse without; soap and rice in stock, tea nowhere."""
    with db.write() as s:
        for id_, type_, pickup in (("store-a", "store", True), ("store-b", "store", True), ("wh", "warehouse", False)):
            locations.register_location(s, actor=SYSTEM, data=LocationIn(
                id=id_, name=id_, type=type_, lat=52.5, lon=13.4, pickup=pickup, opening_hours=ALWAYS_OPEN))
        for sku, price in (("SOAP", "2.50"), ("RICE", "4.00"), ("TEA", "3.00")):
            catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                                   data=ProductIn(sku=sku, name=sku.title(), price={"amount": price}))
        stock.receive(s, actor=SYSTEM, location_id="store-a", sku="SOAP", quantity=5, lot="L1")
        stock.receive(s, actor=SYSTEM, location_id="store-a", sku="RICE", quantity=2, lot="L1")
        stock.receive(s, actor=SYSTEM, location_id="wh", sku="RICE", quantity=50, lot="L1")


def identify(db, *identities: tuple[str, str], channel: str = "web", **attributes: object) -> int:
    with db.write() as s:
        return identification.identify(s, actor=SYSTEM, channel=channel,
                                       identities=[identification.IdentityInput(t, v) for t, v in identities],
                                       attributes=identification.Attributes(**attributes)).profile.id  # type: ignore


def customer_cart(db, customer_id: int) -> int:
    with db.write() as s:
        return service.open_customer_cart(s, actor=SYSTEM, customer_id=customer_id).id


def device_cart(db, device: str) -> int:
    with db.write() as s:
        return service.open_device_cart(s, actor=SYSTEM, device_id=device, channel="app").id


def add(db, cart_id: int, sku: str, quantity: int, channel: str = "web", hint: items.Hint | None = None) -> None:
    with db.write() as s:
        items.add_item(s, actor=SYSTEM, cart=service.get_cart(s, cart_id), sku=sku, quantity=quantity,
                       channel=channel, hint=hint)


def lines(db, cart_id: int) -> list[tuple[str, int, str]]:
    with db.read() as s:
        cart = service.get_cart(s, cart_id)
        return [(s.get(Product, x.product_id).sku, x.quantity, x.channel)  # type: ignore[union-attr]
                for x in service.lines_of(s, cart)]


def count(db, model, *where) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def reserved(db, location_id: str, sku: str) -> int:
    with db.read() as s:
        return atp.level_detail(s, location_id=location_id, sku=sku).reserved


def refusal(db, use_case) -> DomainError:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as info, db.write() as s:
        use_case(s)
    return info.value


def race(work, n: int = THREADS) -> list[object]:  # type: ignore[no-untyped-def]
    start, results, lock = threading.Barrier(n), [], threading.Lock()

    def run(i: int) -> None:
        start.wait()
        outcome = work(i)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- one cart ---------------------------------------------------------------------------------------------


def test_racing_channels_open_exactly_one_active_cart_for_a_new_customer(db, shop):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")

    opened = race(lambda i: customer_cart(db, ada))

    assert len(set(opened)) == 1
    assert count(db, Cart, Cart.customer_id == ada, Cart.status == "active") == 1


def test_racing_requests_of_one_device_open_exactly_one_anonymous_cart(db, shop):
    opened = race(lambda i: device_cart(db, "device-42"))

    assert len(set(opened)) == 1
    assert count(db, Cart, Cart.device_id == "device-42") == 1


def test_racing_adds_of_one_sku_add_up_on_one_line(db, shop):
    cart = customer_cart(db, identify(db, ("email", "ada@example.com")))

    race(lambda i: add(db, cart, "SOAP", 1, channel="web" if i % 2 else "app"))

    assert [(sku, quantity) for sku, quantity, _ in lines(db, cart)] == [("SOAP", THREADS)]


def test_a_line_keeps_the_channel_that_added_it(db, shop):
    cart = customer_cart(db, identify(db, ("email", "ada@example.com")))
    add(db, cart, "SOAP", 1, channel="app")
    add(db, cart, "SOAP", 2, channel="pos")
    add(db, cart, "RICE", 1, channel="call_centre")

    assert lines(db, cart) == [("SOAP", 3, "app"), ("RICE", 1, "call_centre")]


# --- joining ----------------------------------------------------------------------------------------------


def test_an_anonymous_cart_joins_the_customers_cart_once_the_device_is_identified(db, shop):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")
    mine = customer_cart(db, ada)
    add(db, mine, "SOAP", 2, channel="web")
    anonymous = device_cart(db, "phone-7")
    add(db, anonymous, "SOAP", 1, channel="app")
    add(db, anonymous, "RICE", 2, channel="app")

    assert identify(db, ("email", "ada@example.com"), ("device_id", "phone-7"), channel="app") == ada
    joined = customer_cart(db, ada)

    assert joined == mine
    assert lines(db, joined) == [("SOAP", 3, "web"), ("RICE", 2, "app")]
    with db.read() as s:
        old = s.get(Cart, anonymous)
        assert (old.status, old.merged_into_id, old.active_device, old.customer_id) == ("merged", mine, None, ada)
        assert service.get_cart(s, anonymous).id == mine
        kinds = list(s.scalars(select(TimelineEntry.kind).where(TimelineEntry.profile_id == ada)))
    assert "cart_joined" in kinds
    assert count(db, Cart, Cart.status == "active") == 1


def test_an_anonymous_cart_becomes_the_customers_cart_when_they_have_none(db, shop):
    anonymous = device_cart(db, "phone-8")
    add(db, anonymous, "RICE", 1, channel="app")
    ada = identify(db, ("device_id", "phone-8"), ("email", "ada@example.com"), channel="app")

    with db.write() as s:  # the device asks again: it now opens the customer's cart
        reopened = service.open_device_cart(s, actor=SYSTEM, device_id="phone-8", channel="app").id

    assert reopened == anonymous == customer_cart(db, ada)
    with db.read() as s:
        cart = s.get(Cart, anonymous)
        assert (cart.customer_id, cart.active_for, cart.active_device, cart.device_id) == (ada, ada, None, "phone-8")


def test_merging_two_customers_with_active_carts_joins_their_lines_into_one_cart(db, shop):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")
    lovelace = identify(db, ("loyalty_card", "CARD-1"), given_name="Ada", family_name="Lovelace")
    first, second = customer_cart(db, ada), customer_cart(db, lovelace)
    add(db, first, "SOAP", 1, channel="web")
    add(db, second, "SOAP", 2, channel="pos")
    add(db, second, "RICE", 1, channel="pos")

    with db.write() as s:
        merging.merge(s, actor=SYSTEM, survivor_id=ada, absorbed_id=lovelace)

    assert customer_cart(db, lovelace) == first  # the absorbed id leads to the survivor's cart
    assert lines(db, first) == [("SOAP", 3, "web"), ("RICE", 1, "pos")]
    assert count(db, Cart, Cart.status == "active") == 1
    with db.read() as s:
        assert (s.get(Cart, second).status, s.get(Cart, second).merged_into_id) == ("merged", first)
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "cart.joined", AuditEntry.object_id == str(first))) == 1


def test_carts_of_a_merge_that_did_not_carry_them_still_join_the_survivors_cart(db, shop, monkeypatch):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")
    lovelace = identify(db, ("loyalty_card", "CARD-9"), given_name="Ada", family_name="Lovelace")
    add(db, customer_cart(db, ada), "SOAP", 1)
    theirs = customer_cart(db, lovelace)
    add(db, theirs, "SOAP", 1, channel="pos")
    # A batch dedupe from the command line never imports carts: its merges leave carts where they are.
    monkeypatch.setattr(merging, "OWNED", [(t, c) for t, c in merging.OWNED if t.name != "carts"])
    with db.write() as s:
        merging.merge(s, actor=SYSTEM, survivor_id=ada, absorbed_id=lovelace)

    assert lines(db, customer_cart(db, ada)) == [("SOAP", 2, "web")]
    assert count(db, Cart, Cart.status == "active") == 1
    with db.read() as s:
        assert service.get_cart(s, theirs).customer_id == ada


def test_an_unmerge_before_the_carts_were_joined_gives_each_person_their_own_cart_back(db, shop):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")
    other = identify(db, ("loyalty_card", "CARD-2"), given_name="Grace")
    first, second = customer_cart(db, ada), customer_cart(db, other)
    add(db, first, "SOAP", 1)
    add(db, second, "RICE", 2)
    with db.write() as s:
        merge_id = merging.merge(s, actor=SYSTEM, survivor_id=ada, absorbed_id=other).id
    with db.write() as s:
        merging.unmerge(s, actor=SYSTEM, merge_id=merge_id, reason="two people")

    assert (customer_cart(db, ada), customer_cart(db, other)) == (first, second)
    assert (lines(db, first), lines(db, second)) == ([("SOAP", 1, "web")], [("RICE", 2, "web")])


def test_an_unmerge_after_the_join_leaves_the_absorbed_person_a_new_empty_cart(db, shop):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")
    other = identify(db, ("loyalty_card", "CARD-3"), given_name="Grace")
    add(db, customer_cart(db, other), "RICE", 2)
    with db.write() as s:
        merge_id = merging.merge(s, actor=SYSTEM, survivor_id=ada, absorbed_id=other).id
    joined = customer_cart(db, ada)  # Grace's cart was Ada's only cart: it became hers
    with db.write() as s:
        merging.unmerge(s, actor=SYSTEM, merge_id=merge_id, reason="two people")

    graces = customer_cart(db, other)
    adas = customer_cart(db, ada)
    assert graces == joined and lines(db, graces) == [("RICE", 2, "web")]
    assert adas != joined and lines(db, adas) == []
    assert count(db, Cart, Cart.status == "active") == 2


# --- holds ------------------------------------------------------------------------------------------------


def test_a_hold_reserves_every_line_or_nothing(db, shop):
    cart = customer_cart(db, identify(db, ("email", "ada@example.com")))
    add(db, cart, "SOAP", 2, hint=items.Hint("pickup", "store-a"))
    add(db, cart, "RICE", 3, hint=items.Hint("pickup", "store-a"))  # store-a has 2 rice

    error = refusal(db, lambda s: holds.hold(s, actor=SYSTEM, cart=service.get_cart(s, cart), minutes=10))

    assert error.code == "insufficient_stock"
    assert error.extra["short"] == [{"location_id": "store-a", "sku": "RICE", "requested": 3, "available": 2}]
    assert (reserved(db, "store-a", "SOAP"), reserved(db, "store-a", "RICE")) == (0, 0)
    assert count(db, Reservation) == 0
    with db.read() as s:
        assert s.get(Cart, cart).hold_expires_at is None


def test_a_held_delivery_line_is_reserved_where_most_units_are(db, shop):
    cart = customer_cart(db, identify(db, ("email", "ada@example.com")))
    add(db, cart, "RICE", 3)
    with db.write() as s:
        made = holds.hold(s, actor=SYSTEM, cart=service.get_cart(s, cart), minutes=10)
        assert [(r.location_id, r.quantity, r.owner_type, r.owner_id) for r in made] == [("wh", 3, "cart", str(cart))]
    assert reserved(db, "wh", "RICE") == 3


def test_a_hold_lapses_and_its_units_can_be_sold_again(db, shop):
    cart = customer_cart(db, identify(db, ("email", "ada@example.com")))
    add(db, cart, "SOAP", 5, hint=items.Hint("pickup", "store-a"))
    with db.write() as s:
        holds.hold(s, actor=SYSTEM, cart=service.get_cart(s, cart), minutes=5)
    other = [reservations.Line("store-a", "SOAP", 5)]
    assert refusal(db, lambda s: reservations.reserve(s, actor=SYSTEM, lines=other, owner_type="order",
                                                      owner_id="x")).code == "insufficient_stock"

    with clock.travel(timedelta(minutes=6)):
        with db.read() as s:
            assert holds.active_holds(s, service.get_cart(s, cart)) == []
        with db.write() as s:
            made = reservations.reserve(s, actor=SYSTEM, lines=other, owner_type="order", owner_id="x")
        assert [r.quantity for r in made] == [5]
        with db.read() as s:
            statuses = sorted(r.status for r in s.scalars(select(Reservation)))
            assert stock_violations(s) == []
    assert statuses == ["active", "expired"]


def test_changing_the_lines_releases_the_hold(db, shop):
    cart = customer_cart(db, identify(db, ("email", "ada@example.com")))
    add(db, cart, "SOAP", 2, hint=items.Hint("pickup", "store-a"))
    with db.write() as s:
        holds.hold(s, actor=SYSTEM, cart=service.get_cart(s, cart), minutes=10)
    assert reserved(db, "store-a", "SOAP") == 2

    add(db, cart, "RICE", 1)

    assert reserved(db, "store-a", "SOAP") == 0
    with db.read() as s:
        assert s.get(Cart, cart).hold_expires_at is None
        assert [r.status for r in s.scalars(select(Reservation))] == ["released"]


# --- checkout ---------------------------------------------------------------------------------------------


def test_checkout_places_an_order_at_catalogue_prices_and_the_next_access_opens_a_new_cart(db, shop):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")
    cart = customer_cart(db, ada)
    add(db, cart, "SOAP", 2, channel="app")
    add(db, cart, "RICE", 1, channel="pos")
    with db.write() as s:
        holds.hold(s, actor=SYSTEM, cart=service.get_cart(s, cart), minutes=10)
    with db.write() as s:
        done = checkout.checkout(s, actor=SYSTEM, cart=service.get_cart(s, cart), channel="web",
                                 fulfilment=FulfilmentIn(type="pickup", location_id="store-a"),
                                 delivery_address=None, payment=PAID)
        order_id = done.orders[0].id

    with db.read() as s:
        order = s.get(Order, order_id)
        assert (order.customer_id, order.cart_id, order.total_minor, order.fulfilment_type) == \
            (ada, str(cart), 900, "pickup")
        assert [(i.sku, i.quantity, i.unit_price_minor, i.channel) for i in s.scalars(
            select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.line_no))] == \
            [("SOAP", 2, 250, "app"), ("RICE", 1, 400, "pos")]
        closed = s.get(Cart, cart)
        assert (closed.status, closed.active_for, closed.order_ids, closed.hold_expires_at) == \
            ("checked_out", None, [order_id], None)
        assert [r.owner_type for r in s.scalars(select(Reservation).where(Reservation.status == "active"))] == \
            ["order", "order"]
        assert s.scalar(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.type == "cart.checked_out")) == 1
        assert s.scalar(select(func.count()).select_from(TimelineEntry).where(
            TimelineEntry.profile_id == ada, TimelineEntry.kind == "cart_checked_out")) == 1
    assert (reserved(db, "store-a", "SOAP"), reserved(db, "store-a", "RICE")) == (2, 1)
    fresh = customer_cart(db, ada)
    assert fresh != cart and lines(db, fresh) == []


def test_endless_aisle_lines_become_orders_of_their_own(db, shop):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")
    cart = customer_cart(db, ada)
    add(db, cart, "SOAP", 1, channel="pos")
    add(db, cart, "RICE", 10, channel="pos", hint=items.Hint("delivery"))  # the store has 2: the warehouse sends them
    with db.write() as s:
        done = checkout.checkout(s, actor=SYSTEM, cart=service.get_cart(s, cart), channel="pos",
                                 fulfilment=FulfilmentIn(type="pickup", location_id="store-a"),
                                 delivery_address=HOME, payment=PAID)
        placed = [(o.fulfilment_type, o.location_id, o.total_minor) for o in done.orders]
    assert placed == [("pickup", "store-a", 250), ("delivery", None, 4000)]
    assert reserved(db, "wh", "RICE") == 10


def test_a_refused_checkout_leaves_the_cart_and_its_hold_as_they_were(db, shop):
    ada = identify(db, ("email", "ada@example.com"), given_name="Ada")
    cart = customer_cart(db, ada)
    add(db, cart, "RICE", 3)
    with db.write() as s:
        holds.hold(s, actor=SYSTEM, cart=service.get_cart(s, cart), minutes=10)  # held at the warehouse
    before = (lines(db, cart), reserved(db, "wh", "RICE"), count(db, AuditEntry), count(db, OutboxEvent))

    error = refusal(db, lambda s: checkout.checkout(
        s, actor=SYSTEM, cart=service.get_cart(s, cart), channel="web", delivery_address=None, payment=PAID,
        fulfilment=FulfilmentIn(type="pickup", location_id="store-b")))  # store-b has no rice

    assert error.code == "insufficient_stock"
    assert (lines(db, cart), reserved(db, "wh", "RICE"), count(db, AuditEntry), count(db, OutboxEvent)) == before
    assert (count(db, Order), reserved(db, "store-b", "RICE")) == (0, 0)
    with db.read() as s:
        held = s.get(Cart, cart)
        assert (held.status, held.active_for) == ("active", ada)
        assert len(holds.active_holds(s, held)) == 1


@pytest.mark.parametrize(("setup", "fulfilment", "code"), [
    ("empty", FulfilmentIn(type="pickup", location_id="store-a"), "empty_cart"),
    ("anonymous", FulfilmentIn(type="pickup", location_id="store-a"), "anonymous_cart"),
    ("soap", None, "fulfilment_required"),
    ("soap", FulfilmentIn(type="pickup", location_id="wh"), "pickup_not_offered"),
    ("delivered-soap", FulfilmentIn(type="pickup", location_id="store-a"), "address_required"),
])
def test_a_checkout_that_cannot_be_made_is_refused_with_nothing_written(db, shop, setup, fulfilment, code):
    if setup == "anonymous":
        cart = device_cart(db, "tablet-1")
        add(db, cart, "SOAP", 1)
    else:
        cart = customer_cart(db, identify(db, ("email", "ada@example.com")))
        if setup != "empty":
            add(db, cart, "SOAP", 1, hint=items.Hint("delivery") if setup == "delivered-soap" else None)
    before = (count(db, AuditEntry), count(db, OutboxEvent), count(db, CartLine))

    error = refusal(db, lambda s: checkout.checkout(s, actor=SYSTEM, cart=service.get_cart(s, cart), channel="web",
                                                    fulfilment=fulfilment, delivery_address=None, payment=PAID))

    assert error.code == code
    assert (count(db, AuditEntry), count(db, OutboxEvent), count(db, CartLine)) == before
    assert (count(db, Order), count(db, Reservation)) == (0, 0)


# --- who and erasure --------------------------------------------------------------------------------------


def test_a_customer_reaches_only_their_own_cart(db, shop):
    ada = identify(db, ("email", "ada@example.com"))
    grace = identify(db, ("email", "grace@example.com"))
    adas = customer_cart(db, ada)
    as_grace = Actor(name="grace", role=Role.CUSTOMER, customer_id=str(grace))

    with db.read() as s:
        with pytest.raises(DomainError) as info:
            service.authorise(s, as_grace, s.get(Cart, adas))
    assert info.value.code == "not_your_cart"
    error = refusal(db, lambda s: items.add_item(s, actor=as_grace, cart=s.get(Cart, adas), sku="SOAP", quantity=1,
                                                 channel="web", hint=None))
    assert error.code == "not_your_cart" and lines(db, adas) == []


def test_erasure_empties_the_persons_carts_and_releases_their_hold(db, shop):
    ada = identify(db, ("email", "ada@example.com"), ("device_id", "phone-9"))
    cart = customer_cart(db, ada)
    add(db, cart, "SOAP", 2, hint=items.Hint("pickup", "store-a"))
    with db.write() as s:
        holds.hold(s, actor=SYSTEM, cart=service.get_cart(s, cart), minutes=10)

    with db.write() as s:
        privacy.erase(s, actor=SYSTEM, profile=s.get(Profile, ada), reason="GDPR art. 17")

    assert (lines(db, cart), reserved(db, "store-a", "SOAP")) == ([], 0)
    with db.read() as s:
        erased = s.get(Cart, cart)
        assert (erased.status, erased.active_for, erased.device_id) == ("erased", None, None)
    assert refusal(db, lambda s: service.open_customer_cart(s, actor=SYSTEM, customer_id=ada)).code == \
        "profile_erased"
