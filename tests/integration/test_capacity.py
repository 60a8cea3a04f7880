"""Daily capacity of ship-from-store stores and warehouses (`locations.capacity`): every unit sent out for
delivery is counted on the location's day, and a full location is passed over for the next best one — by the
transactional path (SQLite) and by the fast path with its guard (PostgreSQL), also under concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omniretail.core import clock
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.security import Actor, Role
from omniretail.customers.models import Profile
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import Reservation
from omniretail.locations import capacity
from omniretail.locations.models import LocationLoad
from omniretail.orders import fastpath
from omniretail.orders.invariants import order_violations
from omniretail.orders.schemas import OrderIn

ORDERS = "/api/v1/orders"
KASSEL = {"name": "Ada Meyer", "line1": "Lindenstraße 5", "city": "Kassel", "postcode": "34117", "country": "DE",
          "phone": "+49 561 123456", "lat": 51.31, "lon": 9.49}


@pytest.fixture
def shops(client: TestClient, admin: dict[str, str], db: Database) -> int:
    """A ship-from-store store in Kassel that can send 3 units a day, a warehouse in Hamburg without a limit."""
    response = client.post("/api/v1/products", headers=admin, json={
        "sku": "TEA", "name": "Tea", "price": {"amount": "3.00", "currency": "EUR"}})
    assert response.status_code == 201, response.text
    for id_, type_, lat, lon, daily in (("kassel", "store", 51.31, 9.48, 3), ("hamburg", "warehouse", 53.55, 10.0, 0)):
        response = client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": id_.title(), "type": type_, "lat": lat, "lon": lon, "timezone": "Europe/Berlin",
            "pickup": False, "ship_from_store": True, "daily_capacity": daily})
        assert response.status_code == 201, response.text
        response = client.post("/api/v1/inventory/receipts", headers=admin, json={
            "location_id": id_, "sku": "TEA", "quantity": 50, "lot": "L1"})
        assert response.status_code == 201, response.text
    with db.write() as s:
        profile = Profile(status="active", given_name="Ada")
        s.add(profile)
        s.flush()
        return profile.id


def _delivery(customer_id: int, units: int = 1) -> dict[str, Any]:
    return {"channel": "web", "customer_id": customer_id, "lines": [{"sku": "TEA", "quantity": units}],
            "fulfilment": {"type": "delivery", "address": KASSEL}, "payment": {"status": "authorised",
                                                                              "method": "card"}}


def _sent_from(db: Database) -> dict[str, int]:
    with db.read() as s:
        units: dict[str, int] = {}
        for location_id, quantity in s.execute(select(Reservation.location_id, Reservation.quantity)
                                               .where(Reservation.owner_type == "order")):
            units[location_id] = units.get(location_id, 0) + quantity
        return units


def _loads(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {row.location_id: row.units for row in s.scalars(select(LocationLoad))}


def test_a_full_store_is_passed_over_for_the_next_location(client: TestClient, admin: dict[str, str],
                                                            db: Database, shops: int) -> None:
    answers = [client.post(ORDERS, headers=admin, json=_delivery(shops, units)) for units in (2, 1, 1, 2)]
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    # 2 + 1 fill Kassel's 3; the next orders go to Hamburg (an order is never split to use a last unit)
    assert _sent_from(db) == {"kassel": 3, "hamburg": 3}
    assert _loads(db) == {"kassel": 3, "hamburg": 3}
    decision = client.get(f"{ORDERS}/{answers[2].json()['id']}/sourcing", headers=admin).json()
    assert [s["location_id"] for s in decision["decision"]["shipments"]] == ["hamburg"]


def test_the_next_day_the_store_sends_again_and_no_limit_means_none(client: TestClient, admin: dict[str, str],
                                                                     db: Database, shops: int) -> None:
    for _ in range(3):
        assert client.post(ORDERS, headers=admin, json=_delivery(shops)).status_code == 201
    with clock.travel(timedelta(days=1)):
        assert client.post(ORDERS, headers=admin, json=_delivery(shops)).status_code == 201
        tomorrow = capacity.today("Europe/Berlin")  # the store's own day
    with db.read() as s:
        assert s.get(LocationLoad, ("kassel", tomorrow)).units == 1
    response = client.patch("/api/v1/locations/kassel", headers=admin, json={"daily_capacity": 0})
    assert response.status_code == 200, response.text
    assert client.post(ORDERS, headers=admin, json=_delivery(shops)).status_code == 201
    assert _sent_from(db)["kassel"] == 5  # no limit: the nearest store again


def test_a_pickup_does_not_count_against_the_day(client: TestClient, admin: dict[str, str], db: Database,
                                                  shops: int) -> None:
    response = client.patch("/api/v1/locations/kassel", headers=admin, json={"pickup": True})
    assert response.status_code == 200, response.text
    body = {**_delivery(shops, 5), "fulfilment": {"type": "pickup", "location_id": "kassel"}}
    assert client.post(ORDERS, headers=admin, json=body).status_code == 201
    assert _loads(db) == {}


def test_left_is_what_remains_and_zero_capacity_is_no_limit() -> None:
    assert capacity.left(10, 4) == 6
    assert capacity.left(10, 12) == 0
    assert capacity.left(0, 12) is None
    assert capacity.left(5, None) == 5


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_concurrent_fast_path_orders_never_overfill_a_day(db: Database, shops: int) -> None:
    actor = Actor(name="key:web", role=Role.INTEGRATION, channel="web", key_id=7)

    async def race() -> list[Any]:
        try:
            return await asyncio.gather(*[
                fastpath.place(db, actor=actor, body=OrderIn.model_validate(_delivery(shops)), settings=Settings(),
                               idempotency=None) for _ in range(12)])
        finally:
            await db.close_async_pools()

    answers = asyncio.run(race())

    placed = [a for a in answers if a is not None]  # the rest go to the transactional path
    assert placed
    sent = _sent_from(db)
    assert sent.get("kassel", 0) <= 3
    assert _loads(db) == {k: v for k, v in sent.items() if v}
    with db.read() as s:
        assert stock_violations(s) == [] and order_violations(s) == []


def test_units_moved_away_are_given_back_never_below_nothing(db: Database, shops: int) -> None:
    with db.write() as s:
        capacity.take(s, {"kassel": 3})
        capacity.take(s, {"kassel": -2, "hamburg": 1})  # re-batched: two units went to Hamburg... one came
    assert _loads(db) == {"kassel": 1, "hamburg": 1}
    with db.write() as s:
        capacity.take(s, {"kassel": -5, "hamburg": 2})
    assert _loads(db) == {"kassel": 0, "hamburg": 3}


def test_a_refusal_counts_only_what_can_still_be_sent_today(client: TestClient, admin: dict[str, str],
                                                             db: Database, shops: int) -> None:
    assert client.post(ORDERS, headers=admin, json=_delivery(shops, 2)).status_code == 201  # Kassel: 1 left today
    response = client.post(ORDERS, headers=admin, json=_delivery(shops, 100))
    assert response.status_code == 409, response.text
    # Hamburg's 50 and the 1 unit Kassel may still send, not Kassel's 48 on the shelf
    assert response.json()["short"] == [{"sku": "TEA", "requested": 100, "available": 51}]


def test_a_day_filled_while_an_order_was_decided_is_sourced_again(client: TestClient, admin: dict[str, str],
                                                                   db: Database, shops: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from omniretail.orders import placement

    async def transactional(*_: Any, **__: Any) -> None:
        return None  # every order through the transactional path, on both databases

    monkeypatch.setattr(fastpath, "place", transactional)
    with db.write() as s:
        capacity.take(s, {"kassel": 3})  # another order filled Kassel's day ...
    read, calls = placement.candidate_rows, []

    def stale_first(*args: Any, **kwargs: Any) -> list[Any]:
        rows = read(*args, **kwargs)
        calls.append(len(rows))
        if len(calls) == 1:  # ... after this order read the levels
            return [SimpleNamespace(**{**row._asdict(), "load": 0}) for row in rows]
        return rows

    monkeypatch.setattr(placement, "candidate_rows", stale_first)
    response = client.post(ORDERS, headers=admin, json=_delivery(shops, 1))

    assert response.status_code == 201, response.text
    assert [a["location_id"] for a in response.json()["allocations"]] == ["hamburg"]
    assert len(calls) == 2  # decided twice: the guard refused the first plan
    assert _loads(db) == {"kassel": 3, "hamburg": 1}


def test_a_day_that_keeps_filling_is_refused_after_three_tries(client: TestClient, admin: dict[str, str],
                                                                db: Database, shops: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from omniretail.orders import placement

    async def transactional(*_: Any, **__: Any) -> None:
        return None

    monkeypatch.setattr(fastpath, "place", transactional)
    with db.write() as s:
        capacity.take(s, {"kassel": 3})
    read, calls = placement.candidate_rows, []

    def always_stale(*args: Any, **kwargs: Any) -> list[Any]:
        calls.append(1)
        return [SimpleNamespace(**{**row._asdict(), "load": 0}) for row in read(*args, **kwargs)]

    monkeypatch.setattr(placement, "candidate_rows", always_stale)
    response = client.post(ORDERS, headers={**admin, "Idempotency-Key": "busy"}, json=_delivery(shops, 1))

    assert response.status_code == 409 and response.json()["code"] == "concurrent_change", response.text
    assert len(calls) == 3
    assert _loads(db) == {"kassel": 3}
    with db.read() as s:
        assert s.scalars(select(Reservation)).all() == []  # nothing of the three tries was kept
