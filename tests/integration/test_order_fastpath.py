"""Order placement in two statements on PostgreSQL (`orders.fastpath`): it writes exactly what the transactional
path writes, writes nothing when a line is short, never oversells under concurrency, never deadlocks on
multi-line orders, and hands every case it does not decide alone to the transactional path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from omniretail.catalog.models import Product
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.errors import DomainError
from omniretail.core.models import AuditEntry, IdempotencyRecord, OutboxEvent
from omniretail.core.security import Actor, Role
from omniretail.customers.models import Profile, TimelineEntry
from omniretail.inventory.errors import InsufficientStock
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import Reservation, StockLevel
from omniretail.orders import fastpath, service
from omniretail.orders.invariants import order_violations
from omniretail.orders.models import Order, OrderEvent, OrderItem
from omniretail.orders.schemas import FulfilmentIn, OrderIn, PaymentIn
from tests.helpers import assert_problem

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)

ORDERS = "/api/v1/orders"
ADDRESS = {"name": "Ada Meyer", "line1": "Lindenstraße 5", "city": "Kassel", "postcode": "34117", "country": "DE",
           "phone": "+49 561 123456"}
ACTOR = Actor(name="key:web", role=Role.INTEGRATION, channel="web", key_id=99)


@pytest.fixture
def network(client: TestClient, admin: dict[str, str], db: Database) -> dict[str, int]:
    """A pickup store and a warehouse; milk 1.20, soap 2.50 and a scarce lamp; customers Ada, Bo and Cy."""
    for sku, price in (("MILK", "1.20"), ("SOAP", "2.50"), ("LAMP", "30.00")):
        response = client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": f"Product {sku}", "price": {"amount": price, "currency": "EUR"}})
        assert response.status_code == 201, response.text
    for id_, type_, pickup in (("store-a", "store", True), ("wh", "warehouse", False)):
        response = client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": f"Location {id_}", "type": type_, "lat": 51.3, "lon": 9.5, "timezone": "Europe/Berlin",
            "pickup": pickup, "ship_from_store": True})
        assert response.status_code == 201, response.text
    for location_id, sku, units in (("store-a", "MILK", 50), ("store-a", "SOAP", 50), ("store-a", "LAMP", 10),
                                    ("wh", "MILK", 50), ("wh", "SOAP", 50)):
        response = client.post("/api/v1/inventory/receipts", headers=admin, json={
            "location_id": location_id, "sku": sku, "quantity": units, "lot": "L1"})
        assert response.status_code == 201, response.text
    with db.write() as s:
        people = [Profile(status="active", given_name=name) for name in ("Ada", "Bo", "Cy")]
        s.add_all(people)
        s.flush()
        return {"ada": people[0].id, "bo": people[1].id, "cy": people[2].id}


def _body(customer_id: int, lines: list[tuple[str, int]], fulfilment: dict[str, Any]) -> dict[str, Any]:
    return {"channel": "web", "customer_id": customer_id, "lines": [{"sku": s, "quantity": q} for s, q in lines],
            "fulfilment": fulfilment, "payment": {"status": "authorised", "method": "card"}}


def _written(db: Database, order_id: int) -> dict[str, Any]:
    """Everything written for one order, without what differs between any two orders (ids, times, the
    order's and its customer's number in texts)."""
    def plain(value: Any) -> Any:
        if isinstance(value, str):
            return "<order>" if value == str(order_id) else \
                value.replace(f"Order {order_id} ", "Order <order> ").replace(f"order {order_id}", "order <order>")
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k not in ("reservation_id", "order_id", "customer_id")}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    def rows(objects: Any, skip: tuple[str, ...]) -> list[dict[str, Any]]:
        return [plain({c.key: getattr(o, c.key) for c in o.__table__.columns if c.key not in skip}) for o in objects]

    with db.read() as s:
        order = s.get(Order, order_id)
        reservations = list(s.scalars(select(Reservation).where(Reservation.owner_type == "order",
                                                                Reservation.owner_id == str(order_id))
                                      .order_by(Reservation.id)))
        events = list(s.scalars(select(OutboxEvent).where(
            ((OutboxEvent.object_type == "order") & (OutboxEvent.object_id == str(order_id)))
            | ((OutboxEvent.object_type == "reservation")
               & OutboxEvent.object_id.in_([str(r.id) for r in reservations]))).order_by(OutboxEvent.seq)))
        return {
            "order": rows([order], ("id", "customer_id", "created_at", "updated_at", "actor")),
            "lines": rows(s.scalars(select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)),
                          ("id",)),
            "steps": rows(s.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)),
                          ("id", "at", "actor")),
            "timeline": rows(s.scalars(select(TimelineEntry).where(TimelineEntry.profile_id == order.customer_id)
                                       .order_by(TimelineEntry.id)), ("id", "at", "profile_id", "actor")),
            "audit": rows(s.scalars(select(AuditEntry).where(AuditEntry.object_type == "order",
                                                             AuditEntry.object_id == str(order_id))
                                    .order_by(AuditEntry.id)), ("id", "at", "actor")),
            "events": rows(events, ("seq", "id", "occurred_at", "object_id")),
            "reservations": rows(reservations, ("id", "created_at", "updated_at", "actor")),
        }


@pytest.mark.parametrize("fulfilment", [
    {"type": "pickup", "location_id": "store-a"},
    {"type": "delivery", "address": ADDRESS},
    {"type": "delivery", "address": {**ADDRESS, "phone": "12"}},  # held: invalid phone
], ids=["pickup", "delivery", "held"])
def test_the_fast_path_writes_exactly_what_the_transactional_path_writes(
        client: TestClient, admin: dict[str, str], db: Database, network: dict[str, int],
        fulfilment: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    transactional = []
    original = service.place
    monkeypatch.setattr(service, "place", lambda *a, **k: transactional.append(1) or original(*a, **k))
    lines = [("MILK", 2), ("SOAP", 1)]
    fast = client.post(ORDERS, headers=admin, json=_body(network["ada"], lines, fulfilment))
    assert fast.status_code == 201, fast.text
    assert transactional == []  # decided by the fast path

    with db.write() as s:
        slow = service.place(s, actor=_admin_actor(db), channel="web", customer_id=network["bo"],
                             lines=[service.OrderLine(sku, q) for sku, q in lines],
                             fulfilment=FulfilmentIn.model_validate(fulfilment),
                             payment=PaymentIn(status="authorised", method="card"), settings=Settings()).order.id

    assert _written(db, fast.json()["id"]) == _written(db, slow)
    assert client.get(f"{ORDERS}/{fast.json()['id']}", headers=admin).json() == fast.json()
    with db.read() as s:
        assert stock_violations(s) == [] and order_violations(s) == []


def _admin_actor(db: Database) -> Actor:
    """The actor of the test's admin key (the fixture's), so both orders name the same actor."""
    with db.read() as s:
        key_id = s.execute(text("SELECT id FROM api_keys WHERE role = 'admin' ORDER BY id LIMIT 1")).scalar_one()
    return Actor(name=f"key:{key_id}", role=Role.ADMIN, key_id=key_id)


def test_a_short_line_writes_nothing_and_is_refused_naming_what_is_available(
        client: TestClient, admin: dict[str, str], db: Database, network: dict[str, int]) -> None:
    with db.read() as s:
        before = {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("orders", "order_lines", "order_timeline", "reservations", "outbox_events", "audit_log")}

    response = client.post(ORDERS, headers={**admin, "Idempotency-Key": "short-1"},
                           json=_body(network["ada"], [("MILK", 1), ("LAMP", 11)],
                                      {"type": "pickup", "location_id": "store-a"}))

    body = assert_problem(response, 409, "insufficient_stock")
    assert [(x["sku"], x["requested"], x["available"]) for x in body["short"]] == [("LAMP", 11, 10)]
    with db.read() as s:
        after = {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in before}
        levels = dict(s.execute(select(StockLevel.product_id, StockLevel.reserved)
                                .where(StockLevel.location_id == "store-a")).all())
    assert after == before
    assert set(levels.values()) == {0}
    replay = client.post(ORDERS, headers={**admin, "Idempotency-Key": "short-1"},
                         json=_body(network["ada"], [("MILK", 1), ("LAMP", 11)],
                                    {"type": "pickup", "location_id": "store-a"}))
    assert replay.status_code == 409 and replay.headers["Idempotent-Replayed"] == "true"


def test_a_key_sent_again_answers_the_first_order_and_with_another_body_is_refused(
        client: TestClient, admin: dict[str, str], db: Database, network: dict[str, int]) -> None:
    headers = {**admin, "Idempotency-Key": "checkout-7"}
    body = _body(network["ada"], [("MILK", 1)], {"type": "pickup", "location_id": "store-a"})
    first = client.post(ORDERS, headers=headers, json=body)
    again = client.post(ORDERS, headers=headers, json=body)
    other = client.post(ORDERS, headers=headers, json={**body, "lines": [{"sku": "MILK", "quantity": 2}]})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 409, "idempotency_key_reused")
    with db.read() as s:
        assert s.scalar(select(IdempotencyRecord.response)) == first.json()
        assert len(s.scalars(select(Order.id)).all()) == 1


def _run(db: Database, work: Any) -> Any:
    """Run `work` (a coroutine) on a fresh event loop and close that loop's connection pool after it."""
    async def main() -> Any:
        try:
            return await work
        finally:
            await db.close_async_pools()

    return asyncio.run(main())


def _order(customer_id: int, lines: list[tuple[str, int]]) -> OrderIn:
    return OrderIn.model_validate(_body(customer_id, lines, {"type": "pickup", "location_id": "store-a"}))


def test_concurrent_orders_for_the_last_units_never_oversell(db: Database, network: dict[str, int]) -> None:
    async def race() -> list[Any]:
        return await asyncio.gather(*[
            fastpath.place(db, actor=ACTOR, body=_order(network["ada"], [("LAMP", 1)]), settings=Settings(),
                           idempotency=None) for _ in range(25)], return_exceptions=True)

    answers = _run(db, race())

    assert sum(1 for a in answers if isinstance(a, dict)) == 10
    refused = [a for a in answers if isinstance(a, InsufficientStock)]
    assert len(refused) + sum(a is None for a in answers) == 15  # refused here, or by the transactional path
    assert all(r.extra["short"] == [{"location_id": "store-a", "sku": "LAMP", "requested": 1, "available": 0}]
               for r in refused)
    with db.read() as s:
        level = s.execute(select(StockLevel.on_hand, StockLevel.reserved)
                          .join(Product, Product.id == StockLevel.product_id)
                          .where(StockLevel.location_id == "store-a", Product.sku == "LAMP")).one()
        assert tuple(level) == (10, 10)
        assert stock_violations(s) == [] and order_violations(s) == []


def test_multi_line_orders_locking_the_same_rows_in_either_order_all_go_through(
        db: Database, network: dict[str, int]) -> None:
    async def race() -> list[Any]:
        return await asyncio.gather(*[
            fastpath.place(db, actor=ACTOR, settings=Settings(), idempotency=None,
                           body=_order(network["ada"], [("MILK", 1), ("SOAP", 1)] if n % 2 else
                                       [("SOAP", 1), ("MILK", 1)])) for n in range(16)])

    answers = _run(db, race())

    assert all(a is not None for a in answers)
    with db.read() as s:
        assert set(s.scalars(select(StockLevel.reserved).where(StockLevel.location_id == "store-a",
                                                               StockLevel.reserved > 0)).all()) == {16}
        assert order_violations(s) == []


@pytest.mark.parametrize("case", ["merged customer", "till sale", "gift", "unknown sku", "another channel"])
def test_what_the_fast_path_does_not_decide_goes_to_the_transactional_path(
        db: Database, network: dict[str, int], case: str) -> None:
    body = _order(network["ada"], [("MILK", 1)])
    actor = ACTOR
    if case == "merged customer":
        with db.write() as s:
            s.get(Profile, network["cy"]).status = "merged"
            s.get(Profile, network["cy"]).merged_into_id = network["ada"]
        body = _order(network["cy"], [("MILK", 1)])
    elif case == "till sale":
        body = body.model_copy(update={"fulfilment": FulfilmentIn(type="in_store", location_id="store-a"),
                                       "payment": PaymentIn(status="captured")})
    elif case == "gift":
        with db.write() as s:
            s.execute(text("UPDATE products SET is_gift = true, gift_min_stock = 5 WHERE sku = 'MILK'"))
    elif case == "unknown sku":
        body = _order(network["ada"], [("NOPE", 1)])
    else:
        actor = Actor(name="key:app", role=Role.INTEGRATION, channel="app", key_id=98)

    assert _run(db, fastpath.place(db, actor=actor, body=body, settings=Settings(), idempotency=None)) is None
    with db.read() as s:
        assert s.scalars(select(Order.id)).all() == []
        assert s.scalars(select(Reservation.id)).all() == []


def _refusal(work: Any) -> Any:
    try:
        work()
    except DomainError as error:
        return error.problem()
    raise AssertionError("not refused")


@pytest.mark.parametrize("fulfilment", [{"type": "pickup", "location_id": "store-a"},
                                        {"type": "delivery", "address": ADDRESS}], ids=["pickup", "delivery"])
def test_a_refusal_here_is_the_transactional_paths_to_the_letter(db: Database, network: dict[str, int],
                                                                 fulfilment: dict[str, Any]) -> None:
    lines = [("MILK", 1), ("LAMP", 11)]
    body = OrderIn.model_validate(_body(network["cy"], lines, fulfilment))

    def transactional() -> None:
        with db.write() as s:
            service.place(s, actor=ACTOR, channel="web", customer_id=network["cy"],
                          lines=[service.OrderLine(sku, q) for sku, q in lines],
                          fulfilment=FulfilmentIn.model_validate(fulfilment),
                          payment=PaymentIn(status="authorised", method="card"), settings=Settings())

    def fast() -> None:
        _run(db, fastpath.place(db, actor=ACTOR, body=body, settings=Settings(), idempotency=None))

    assert _refusal(fast) == _refusal(transactional)


def test_a_lapsed_hold_is_swept_by_the_transactional_path_not_refused(
        client: TestClient, admin: dict[str, str], db: Database, network: dict[str, int]) -> None:
    response = client.post("/api/v1/inventory/reservations", headers=admin, json={
        "lines": [{"location_id": "store-a", "sku": "LAMP", "quantity": 5}], "owner_type": "cart", "owner_id": "c-1",
        "expires_at": "2099-01-01T00:00:00Z"})
    assert response.status_code == 201, response.text
    with db.write() as s:  # the hold lapsed a minute ago and nobody has swept it yet
        s.execute(text("UPDATE reservations SET expires_at = now() - interval '1 minute' WHERE owner_id = 'c-1'"))

    placed = client.post(ORDERS, headers=admin, json=_body(network["ada"], [("LAMP", 8)],
                                                           {"type": "pickup", "location_id": "store-a"}))

    assert placed.status_code == 201, placed.text
