"""POS sync on both databases: a till's offline batch applied once, in the order it happened, entry by entry;
offline sales of units promised online recorded, the online orders re-sourced or reported."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core.clock import utcnow
from omniretail.core.config import Settings
from omniretail.core.errors import DomainError
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM, Actor, Role
from omniretail.customers.models import Identity, Profile
from omniretail.fulfilment import service as fulfilment
from omniretail.fulfilment.models import Fulfilment
from omniretail.integration import pos
from omniretail.integration.pos_models import PosEntry
from omniretail.integration.pos_schemas import PosSyncIn
from omniretail.inventory import atp, reservations
from omniretail.inventory import service as inventory
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import LedgerEntry, Reservation, StockCountLine
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn
from omniretail.orders import service as orders
from omniretail.orders.invariants import order_violations
from omniretail.orders.models import Order
from omniretail.orders.schemas import FulfilmentIn, PaymentIn

SETTINGS = Settings(secret_key="x" * 20, default_currency="EUR")
#: More than two units of one SKU is unusual here: such an order is held for staff.
HOLDING = Settings(secret_key="x" * 20, default_currency="EUR", order_max_line_quantity=2)
ASSOCIATE_A = Actor(name="key:a", role=Role.ASSOCIATE, location_ids=frozenset({"store-a"}), key_id=11)
ASSOCIATE_B = Actor(name="key:b", role=Role.ASSOCIATE, location_ids=frozenset({"store-b"}), key_id=12)
TILL_KEY = Actor(name="key:till", role=Role.INTEGRATION, channel="pos", key_id=13)
WEB_KEY = Actor(name="key:web", role=Role.INTEGRATION, channel="web", key_id=14)
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone(timedelta(hours=1)))


@pytest.fixture
def shop(db):
    """A warehouse and two stores (store-a with pickup); milk 1.20 and soap 2.50 EUR; customer Ada."""
    with db.write() as s:
        for id_, type_, lat, lon, pickup in (("wh", "warehouse", 52.37, 9.73, False),
                                             ("store-a", "store", 51.31, 9.49, True),
                                             ("store-b", "store", 51.53, 9.92, True)):
            locations.register_location(s, actor=SYSTEM, data=LocationIn(
                id=id_, name=f"Location {id_}", type=type_, lat=lat, lon=lon, pickup=pickup, ship_from_store=True))
        for sku, price in (("MILK", "1.20"), ("SOAP", "2.50")):
            catalog.create_product(s, actor=SYSTEM, default_currency="EUR", data=ProductIn(
                sku=sku, name=f"Product {sku}", price={"amount": price}))
        for location_id, sku, units in (("store-a", "MILK", 5), ("store-a", "SOAP", 3), ("store-b", "MILK", 4),
                                        ("wh", "MILK", 20)):
            inventory.receive(s, actor=SYSTEM, location_id=location_id, sku=sku, quantity=units, lot="L1")
        s.add(Profile(status="active", given_name="Ada", family_name="Meyer"))
    yield db
    with db.read() as s:
        assert stock_violations(s) == []
        assert order_violations(s) == []


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def sale(entry_id: str, minutes: int, *lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    return {"entry_id": entry_id, "kind": "sale", "at": at(minutes), "payment_method": "cash",
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines], **fields}


def sync(db, entries: list[dict[str, Any]], actor: Actor = ASSOCIATE_A, location_id: str = "store-a",
         till_id: str = "till-1", settings: Settings = SETTINGS) -> dict[str, Any]:
    batch = PosSyncIn.model_validate({"till_id": till_id, "location_id": location_id, "entries": entries})
    return pos.sync(db, actor=actor, batch=batch, settings=settings).model_dump(mode="json")


def level(db, location_id: str, sku: str) -> tuple[int, int]:
    with db.read() as s:
        detail = atp.level_detail(s, location_id=location_id, sku=sku)
        return detail.on_hand, detail.reserved


def pickup(db, sku: str, units: int, store: str = "store-a", settings: Settings = SETTINGS) -> int:
    with db.write() as s:
        return orders.place_order(s, actor=SYSTEM, channel="web", customer_id=1,
                                  lines=[orders.OrderLine(sku, units)],
                                  fulfilment=FulfilmentIn(type="pickup", location_id=store),
                                  payment=PaymentIn(status="authorised", method="card"), settings=settings).id


def held_units(db, order_id: int) -> list[tuple[str, int, str]]:
    with db.read() as s:
        return sorted((r.location_id, r.quantity, r.status) for r in s.scalars(select(Reservation).where(
            Reservation.owner_type == "order", Reservation.owner_id == str(order_id),
            Reservation.status == "active")))


def events(db, type_: str) -> list[dict[str, Any]]:
    with db.read() as s:
        return [e.data for e in s.scalars(select(OutboxEvent).where(OutboxEvent.type == type_)
                                          .order_by(OutboxEvent.seq))]


def counts(db) -> tuple[int, int, int, int]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(model))  # type: ignore[return-value]
                     for model in (Order, LedgerEntry, Reservation, PosEntry))


def test_a_batch_is_applied_in_the_order_its_entries_happened_at_the_till(shop):
    answer = sync(shop, [
        {"entry_id": "c-1", "kind": "count", "at": at(30), "lines": [{"sku": "MILK", "counted": 3}]},
        {"entry_id": "r-1", "kind": "return", "at": at(20), "sale_entry_id": "s-1",
         "lines": [{"sku": "MILK", "quantity": 1}], "reason": "changed mind"},
        sale("s-1", 10, ("MILK", 2), ("SOAP", 1)),
    ])

    assert [(e["entry_id"], e["status"]) for e in answer["entries"]] == [("s-1", "applied"), ("r-1", "applied"),
                                                                          ("c-1", "applied")]
    assert (answer["applied"], answer["replayed"], answer["conflicts"], answer["refused"]) == (3, 0, 0, 0)
    sold, returned, counted = answer["entries"]
    assert returned["order_id"] == sold["order_id"] and returned["return_id"] is not None
    with shop.read() as s:
        order = s.get(Order, sold["order_id"])
        assert (order.channel, order.status, order.fulfilment_type, order.location_id, order.total_minor) == (
            "pos", "completed", "in_store", "store-a", 490)
        entry = s.get(PosEntry, ("till-1", "c-1"))
        assert (entry.kind, entry.status, entry.count_id, entry.occurred_at) == ("count", "applied",
                                                                                counted["count_id"], T0 +
                                                                                timedelta(minutes=30))
        line = s.scalars(select(StockCountLine).where(
            StockCountLine.count_id == counted["count_id"])).one()
        assert (line.expected, line.counted, line.variance) == (4, 3, -1)  # 5 - 2 sold + 1 back
    assert level(shop, "store-a", "MILK") == (3, 0)
    assert level(shop, "store-a", "SOAP") == (2, 0)
    [synced] = events(shop, "pos.synced")
    assert synced == {"till_id": "till-1", "location_id": "store-a", "entries": 3, "applied": 3, "replayed": 0,
                      "conflict": 0, "refused": 0}


def test_a_replayed_batch_changes_nothing_and_answers_the_first_results(shop):
    batch = [sale("s-1", 1, ("MILK", 2)), sale("s-2", 2, ("SOAP", 9)),
             {"entry_id": "c-1", "kind": "count", "at": at(3), "lines": [{"sku": "SOAP", "counted": 2}]}]
    first = sync(shop, batch)
    before = counts(shop), level(shop, "store-a", "MILK"), level(shop, "store-a", "SOAP")

    again = sync(shop, batch)

    assert (counts(shop), level(shop, "store-a", "MILK"), level(shop, "store-a", "SOAP")) == before
    assert [e["status"] for e in first["entries"]] == ["applied", "refused", "applied"]
    assert [(e["status"], e["first_status"]) for e in again["entries"]] == [
        ("replayed", "applied"), ("replayed", "refused"), ("replayed", "applied")]
    strip = ("status", "first_status")
    assert [{k: v for k, v in e.items() if k not in strip} for e in again["entries"]] == \
        [{k: v for k, v in e.items() if k not in strip} for e in first["entries"]]
    assert (again["applied"], again["replayed"], again["refused"]) == (0, 3, 0)
    assert [e["replayed"] for e in events(shop, "pos.synced")] == [0, 3]


def test_an_entry_id_sent_again_with_other_contents_is_refused_and_changes_nothing(shop):
    sync(shop, [sale("s-1", 1, ("MILK", 2))])
    before = counts(shop)

    [entry] = sync(shop, [sale("s-1", 1, ("MILK", 3))])["entries"]

    assert (entry["status"], entry["code"]) == ("refused", "entry_id_reused")
    assert counts(shop) == before
    assert level(shop, "store-a", "MILK") == (3, 0)


def test_one_bad_entry_is_refused_with_its_code_while_the_others_apply(shop):
    answer = sync(shop, [
        sale("s-1", 1, ("MILK", 1)),
        sale("s-2", 2, ("CHEESE", 1)),
        {"entry_id": "r-1", "kind": "return", "at": at(3), "sale_entry_id": "s-1",
         "lines": [{"sku": "MILK", "quantity": 2}]},
        {"entry_id": "r-2", "kind": "return", "at": at(4), "sale_entry_id": "s-404",
         "lines": [{"sku": "MILK", "quantity": 1}]},
        sale("s-3", 5, ("SOAP", 0)),
        sale("s-4", 6, ("SOAP", 1)),
    ])

    assert [(e["entry_id"], e["status"], e["code"]) for e in answer["entries"]] == [
        ("s-1", "applied", None), ("s-2", "refused", "unknown_sku"), ("r-1", "refused", "return_exceeds_order"),
        ("r-2", "refused", "unknown_sale_entry"), ("s-3", "refused", "invalid_quantity"), ("s-4", "applied", None)]
    refused = answer["entries"][1]
    assert refused["problem"]["errors"] == [{"field": "lines.0.sku", "message": "No product with SKU 'CHEESE'",
                                             "code": "unknown_sku"}]
    assert answer["entries"][2]["problem"]["lines"] == [{"sku": "MILK", "bought": 1, "returned": 0, "asked": 2}]
    assert level(shop, "store-a", "MILK") == (4, 0)
    assert level(shop, "store-a", "SOAP") == (2, 0)
    with shop.read() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 2
        assert s.get(PosEntry, ("till-1", "s-2")).status == "refused"


def test_an_offline_sale_of_units_reserved_online_is_recorded_and_the_online_order_re_sourced(shop):
    online = pickup(shop, "MILK", 4)  # store-a: 5 on hand, 4 promised, 1 free

    [entry] = sync(shop, [sale("s-1", 1, ("MILK", 3))])["entries"]

    assert (entry["status"], entry["code"], entry["unfilled"]) == ("applied", None, [])
    assert entry["resourced"] == [{"order_id": online, "sku": "MILK", "quantity": 2, "from_location_id": "store-a",
                                   "to_location_id": "wh"}]
    assert level(shop, "store-a", "MILK") == (2, 2)  # 5 - 3 sold; the order keeps 2 here
    assert held_units(shop, online) == [("store-a", 2, "active"), ("wh", 2, "active")]
    with shop.read() as s:
        assert s.get(Order, online).status == "in_fulfilment"  # released to fulfilment to move its units
        made = [(f.location_id, f.status) for f in fulfilment.fulfilments_of(s, online)]
        assert made == [("store-a", "created"), ("wh", "created")]
        assert s.get(Order, entry["order_id"]).status == "completed"
    assert events(shop, "pos.conflict") == []


def test_units_no_other_location_holds_are_recorded_sold_and_reported_as_a_conflict(shop):
    online = pickup(shop, "SOAP", 3)  # store-a holds all the soap there is, all promised

    [entry] = sync(shop, [sale("s-1", 1, ("SOAP", 2))])["entries"]

    assert (entry["status"], entry["code"]) == ("conflict", "online_orders_unfilled")
    assert entry["unfilled"] == [{"order_id": online, "sku": "SOAP", "quantity": 2}]
    assert entry["detail"] == f"Recorded; units promised online are found nowhere else: 2 × SOAP of order {online}"
    assert level(shop, "store-a", "SOAP") == (1, 1)
    [conflict] = events(shop, "pos.conflict")
    assert conflict == {"till_id": "till-1", "location_id": "store-a", "entry_id": "s-1", "kind": "sale",
                        "at": at(1), "code": "online_orders_unfilled", "detail": entry["detail"], "recorded": True,
                        "order_id": entry["order_id"], "unfilled": entry["unfilled"], "short": None}
    [short] = events(shop, "fulfilment.short")
    assert (short["order_id"], short["unfilled"]) == (online, [{"sku": "SOAP", "quantity": 2}])
    with shop.read() as s:
        assert s.get(PosEntry, ("till-1", "s-1")).status == "conflict"


def test_cart_holds_give_way_before_online_orders(shop):
    online = pickup(shop, "MILK", 2)
    with shop.write() as s:
        reservations.reserve(s, actor=SYSTEM, lines=[reservations.Line("store-a", "MILK", 2)], owner_type="cart",
                             owner_id="7", expires_at=utcnow() + timedelta(minutes=10))

    [entry] = sync(shop, [sale("s-1", 1, ("MILK", 3))])["entries"]

    assert entry["released_holds"] == [{"cart_id": 7, "sku": "MILK", "quantity": 2}]
    assert entry["resourced"] == []
    assert held_units(shop, online) == [("store-a", 2, "active")]
    assert level(shop, "store-a", "MILK") == (2, 2)


def test_a_held_order_moves_its_units_only_when_other_locations_take_them_all(shop):
    milk = pickup(shop, "MILK", 4, settings=HOLDING)
    soap = pickup(shop, "SOAP", 3, settings=HOLDING)
    with shop.read() as s:
        assert [s.get(Order, milk).status, s.get(Order, soap).status] == ["on_hold", "on_hold"]

    answer = sync(shop, [sale("s-1", 1, ("MILK", 3)), sale("s-2", 2, ("SOAP", 1))])

    moved, kept = answer["entries"]
    assert (moved["status"], moved["resourced"]) == ("applied", [{
        "order_id": milk, "sku": "MILK", "quantity": 2, "from_location_id": "store-a", "to_location_id": "wh"}])
    assert held_units(shop, milk) == [("store-a", 2, "active"), ("wh", 2, "active")]
    # No other location has soap: the held order keeps it, and the store's record cannot cover the sale.
    assert (kept["status"], kept["code"]) == ("refused", "insufficient_stock")
    assert held_units(shop, soap) == [("store-a", 3, "active")]
    [conflict] = events(shop, "pos.conflict")
    assert (conflict["entry_id"], conflict["recorded"], conflict["short"]) == ("s-2", False, [
        {"location_id": "store-a", "sku": "SOAP", "requested": 1, "available": 0}])


def test_units_being_picked_never_give_way(shop):
    online = pickup(shop, "MILK", 5)
    with shop.write() as s:
        [made] = fulfilment.release(s, actor=SYSTEM, order_id=online)
        fulfilment.start_picking(s, actor=SYSTEM, fulfilment_id=made.id)

    [entry] = sync(shop, [sale("s-1", 1, ("MILK", 1))])["entries"]

    assert (entry["status"], entry["code"]) == ("refused", "insufficient_stock")
    assert held_units(shop, online) == [("store-a", 5, "active")]
    assert level(shop, "store-a", "MILK") == (5, 5)


def test_a_count_that_finds_fewer_units_than_are_promised_re_sources_the_promises(shop):
    online = pickup(shop, "MILK", 4)

    [entry] = sync(shop, [{"entry_id": "c-1", "kind": "count", "at": at(1),
                           "lines": [{"sku": "MILK", "counted": 1}]}])["entries"]

    assert entry["status"] == "applied"
    assert entry["resourced"] == [{"order_id": online, "sku": "MILK", "quantity": 3, "from_location_id": "store-a",
                                   "to_location_id": "wh"}]
    assert level(shop, "store-a", "MILK") == (1, 1)
    assert held_units(shop, online) == [("store-a", 1, "active"), ("wh", 3, "active")]


def test_sales_without_a_customer_go_to_the_store_walk_in_profile_and_identities_find_the_customer(shop):
    first = sync(shop, [sale("s-1", 1, ("MILK", 1)), sale("s-2", 2, ("MILK", 1)),
                        sale("s-3", 3, ("MILK", 1), identities=[{"type": "loyalty_card", "value": "4000 1234"}]),
                        sale("s-4", 4, ("MILK", 1), customer_id=1)])["entries"]
    other = sync(shop, [sale("s-1", 1, ("MILK", 1)),
                        sale("s-2", 2, ("MILK", 1), identities=[{"type": "loyalty_card", "value": "40001234"}])],
                 actor=ASSOCIATE_B, location_id="store-b", till_id="till-b")["entries"]

    walk_in_a, _, card, ada = (e["customer_id"] for e in first)
    walk_in_b, card_again = (e["customer_id"] for e in other)
    assert first[1]["customer_id"] == walk_in_a and ada == 1
    assert len({walk_in_a, walk_in_b, card, ada}) == 4 and card_again == card
    with shop.read() as s:
        walk_ins = s.execute(select(Identity.profile_id, Identity.value).where(
            Identity.type == "pos_customer_id").order_by(Identity.value)).all()
        assert walk_ins == [(walk_in_a, "WALKIN:STORE.A"), (walk_in_b, "WALKIN:STORE.B")]


@pytest.mark.parametrize("actor, location_id, code", [
    (ASSOCIATE_B, "store-a", "location_out_of_scope"),
    (WEB_KEY, "store-a", "channel_out_of_scope"),
    (Actor(name="key:agent", role=Role.AGENT), "store-a", "role_forbidden"),
    (ASSOCIATE_A, "store-404", "unknown_location"),
])
def test_a_batch_nobody_may_send_here_is_refused_whole(shop, actor, location_id, code):
    with pytest.raises(DomainError) as refused:
        sync(shop, [sale("s-1", 1, ("MILK", 1))], actor=actor, location_id=location_id)
    assert refused.value.code == code
    with shop.read() as s:
        assert s.scalar(select(func.count()).select_from(PosEntry)) == 0


def test_duplicate_entry_ids_in_one_batch_refuse_it_whole(shop):
    with pytest.raises(DomainError) as refused:
        sync(shop, [sale("s-1", 1, ("MILK", 1)), sale("s-1", 2, ("MILK", 2))])
    assert (refused.value.code, refused.value.extra["errors"][0]["field"]) == ("duplicate_entry_id",
                                                                               "entries.1.entry_id")
    assert level(shop, "store-a", "MILK") == (5, 0)


def test_a_tills_own_key_records_sales_and_takes_returns_as_its_store_staff(shop):
    answer = sync(shop, [sale("s-1", 1, ("MILK", 2)),
                         {"entry_id": "r-1", "kind": "return", "at": at(2), "sale_entry_id": "s-1",
                          "lines": [{"sku": "MILK", "quantity": 2}]}], actor=TILL_KEY)

    assert [e["status"] for e in answer["entries"]] == ["applied", "applied"]
    with shop.read() as s:
        assert s.get(Order, answer["entries"][0]["order_id"]).status == "returned"
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "key:till")
                            .order_by(AuditEntry.id)).all()
    assert "return.created" in actions and actions[-1] == "pos.synced"
    assert level(shop, "store-a", "MILK") == (5, 0)


def test_released_orders_of_the_till_store_follow_their_fulfilments_after_re_sourcing(shop):
    online = pickup(shop, "MILK", 5)
    with shop.write() as s:
        fulfilment.release(s, actor=SYSTEM, order_id=online)

    [entry] = sync(shop, [sale("s-1", 1, ("MILK", 5))])["entries"]

    assert [(r["quantity"], r["to_location_id"]) for r in entry["resourced"]] == [(5, "wh")]
    with shop.read() as s:
        made = [(f.location_id, f.status) for f in s.scalars(select(Fulfilment).where(
            Fulfilment.order_id == online).order_by(Fulfilment.id))]
    assert made == [("store-a", "cancelled"), ("wh", "created")]
    assert level(shop, "store-a", "MILK") == (0, 0)


def test_two_uploads_of_one_batch_at_the_same_moment_apply_it_once(shop):
    barrier, answers = threading.Barrier(2), []

    def upload() -> None:
        barrier.wait()
        answers.append(sync(shop, [sale("s-1", 1, ("MILK", 2))]))

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(a["entries"][0]["status"] for a in answers) == ["applied", "replayed"]
    assert len({a["entries"][0]["order_id"] for a in answers}) == 1
    assert level(shop, "store-a", "MILK") == (3, 0)
