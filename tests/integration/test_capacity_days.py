"""Capacity days are the location's own (`locations.capacity`): a store's day starts at its local midnight, on the
transactional path (SQLite) and the fast path (PostgreSQL); an unknown time zone counts UTC days; a cancelled
order gives its units back to the day they were counted on while that is still today there; a short pick, a
re-batch move the units to the day of the location that sends them now."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from omniretail.core import clock
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.security import SYSTEM, Actor, Role
from omniretail.customers.models import Profile
from omniretail.integration import pos
from omniretail.integration.pos_schemas import PosSyncIn
from omniretail.inventory import batching
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import Reservation
from omniretail.locations import capacity
from omniretail.locations.models import Location, LocationLoad
from omniretail.orders import fastpath, reads
from omniretail.orders import service as orders
from omniretail.orders.invariants import order_violations
from omniretail.orders.schemas import OrderIn
from omniretail.sourcing.rebatch import rebatch

ORDERS = "/api/v1/orders"
LOS_ANGELES, AUCKLAND = "America/Los_Angeles", "Pacific/Auckland"  # 7-8 hours behind UTC, 12-13 ahead
CITIES = {LOS_ANGELES: (34.05, -118.24, "US", "+1 213 624 1234"), AUCKLAND: (-36.85, 174.76, "NZ", "+64 9 379 0000")}


@contextmanager
def local_time(timezone: str, days: int, hour: int, minute: int) -> Iterator[date]:
    """The clock at `hour:minute` in `timezone`, `days` after today there; yields that local day."""
    now = clock.utcnow()
    day = now.astimezone(ZoneInfo(timezone)).date() + timedelta(days=days)
    with clock.travel(datetime.combine(day, time(hour, minute), ZoneInfo(timezone)) - now):
        yield day


def before_midnight(timezone: str) -> Any:
    return local_time(timezone, 1, 23, 50)


def after_midnight(timezone: str) -> Any:
    return local_time(timezone, 2, 0, 10)


def network(client: TestClient, admin: dict[str, str], db: Database, timezone: str, store_capacity: int = 2) -> int:
    """A ship-from-store store next to the customer that can send `store_capacity` units a day and a warehouse
    further away without a limit, both in `timezone`, with 50 units of tea each; returns the customer's id."""
    lat, lon, _, _ = CITIES[timezone]
    response = client.post("/api/v1/products", headers=admin, json={
        "sku": "TEA", "name": "Tea", "price": {"amount": "3.00", "currency": "EUR"}})
    assert response.status_code == 201, response.text
    for id_, type_, away, daily in (("store", "store", 0.0, store_capacity), ("wh", "warehouse", 0.8, 0)):
        response = client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": id_.title(), "type": type_, "lat": lat + away, "lon": lon, "timezone": timezone,
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


def delivery(customer_id: int, timezone: str, units: int = 1) -> dict[str, Any]:
    lat, lon, country, phone = CITIES[timezone]
    return {"channel": "web", "customer_id": customer_id, "lines": [{"sku": "TEA", "quantity": units}],
            "fulfilment": {"type": "delivery", "address": {
                "name": "Ada Meyer", "line1": "1 Main Street", "city": "Town", "postcode": "1010", "country": country,
                "phone": phone, "lat": lat, "lon": lon}},
            "payment": {"status": "authorised", "method": "card"}}


def place(client: TestClient, admin: dict[str, str], body: dict[str, Any]) -> tuple[int, list[str]]:
    """Place an order: its id and where its units are reserved."""
    response = client.post(ORDERS, headers=admin, json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"], sorted(a["location_id"] for a in response.json()["allocations"])


def loads(db: Database) -> dict[tuple[str, date], int]:
    with db.read() as s:
        return {(row.location_id, row.day): row.units for row in s.scalars(select(LocationLoad))}


def sound(db: Database) -> None:
    with db.read() as s:
        assert stock_violations(s) == [] and order_violations(s) == []


@pytest.mark.parametrize("timezone", [LOS_ANGELES, AUCKLAND])
def test_a_store_counts_on_its_own_day_and_sends_again_after_its_midnight(
        client: TestClient, admin: dict[str, str], db: Database, timezone: str) -> None:
    customer = network(client, admin, db, timezone)
    with before_midnight(timezone) as day:
        utc_day = clock.utcnow().date()
        first = [place(client, admin, delivery(customer, timezone))[1] for _ in range(3)]
    with after_midnight(timezone) as next_day:
        assert clock.utcnow().date() == utc_day  # the UTC day did not change: only the store's did
        again = place(client, admin, delivery(customer, timezone))[1]
    # In UTC it is already the next day before midnight in Los Angeles, still the day before after it in Auckland.
    assert utc_day == (next_day if timezone == LOS_ANGELES else day)

    assert first == [["store"], ["store"], ["wh"]]  # two units fill the store's day, the third goes further
    assert again == ["store"]
    assert loads(db) == {("store", day): 2, ("wh", day): 1, ("store", next_day): 1}
    sound(db)


def test_today_and_the_day_of_an_instant_are_the_location_s_own() -> None:
    at = datetime(2030, 1, 15, 7, 50, tzinfo=ZoneInfo("UTC"))  # 23:50 on the 14th in Los Angeles
    assert capacity.day_at(LOS_ANGELES, at) == date(2030, 1, 14)
    assert capacity.day_at(AUCKLAND, at) == date(2030, 1, 15)
    assert capacity.day_at(AUCKLAND, at + timedelta(hours=3, minutes=20)) == date(2030, 1, 16)  # 00:10 there
    assert capacity.day_at("Mars/Olympus_Mons", at) == capacity.day_at(None, at) == date(2030, 1, 15)  # UTC
    assert capacity.day_at("", at) == capacity.day_at("../etc/passwd", at) == date(2030, 1, 15)


def test_a_time_zone_nobody_knows_counts_utc_days_and_sourcing_goes_on(
        client: TestClient, admin: dict[str, str], db: Database) -> None:
    customer = network(client, admin, db, LOS_ANGELES, store_capacity=1)
    with db.write() as s:  # written around the service, which refuses it (422 invalid_timezone)
        s.execute(update(Location).where(Location.id == "store").values(timezone="Mars/Olympus_Mons"))
    with before_midnight(LOS_ANGELES) as day:
        sent = [place(client, admin, delivery(customer, LOS_ANGELES))[1] for _ in range(2)]
        utc_day = clock.utcnow().date()

    assert sent == [["store"], ["wh"]]
    assert loads(db) == {("store", utc_day): 1, ("wh", day): 1}
    response = client.patch("/api/v1/locations/store", headers=admin, json={"timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 422 and response.json()["code"] == "invalid_timezone", response.text


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
@pytest.mark.parametrize("timezone", [LOS_ANGELES, AUCKLAND])
def test_the_fast_path_reads_and_guards_each_store_s_own_day_in_two_statements(
        client: TestClient, admin: dict[str, str], db: Database, timezone: str) -> None:
    customer = network(client, admin, db, timezone)
    actor = Actor(name="key:web", role=Role.INTEGRATION, channel="web", key_id=7)

    def order(units: int) -> Any:
        async def one() -> list[Any]:
            try:
                answers = await asyncio.gather(fastpath.place(
                    db, actor=actor, body=OrderIn.model_validate(delivery(customer, timezone, units)),
                    settings=Settings(), idempotency=None), return_exceptions=True)
                statements = (reads.batcher(db, fastpath.READ_MANY).statements, batching.batcher(db).statements)
                return [*answers, statements]
            finally:
                await db.close_async_pools()

        answer, statements = asyncio.run(one())
        assert statements == (1, 1)  # one read, one write: however many zones, no query per location
        assert isinstance(answer, dict), answer  # decided by the fast path
        return sorted(a["location_id"] for a in answer["allocations"])

    with before_midnight(timezone) as day:
        first = [order(2), order(1)]  # the store's day is full after the first
    with after_midnight(timezone) as next_day:
        again = order(2)  # a new day there: the store sends again

    assert first == [["store"], ["wh"]] and again == ["store"]
    assert loads(db) == {("store", day): 2, ("wh", day): 1, ("store", next_day): 2}
    sound(db)


@pytest.fixture
def customer(client: TestClient, admin: dict[str, str], db: Database) -> int:
    return network(client, admin, db, LOS_ANGELES)


def test_a_cancelled_order_gives_its_units_back_so_the_store_sends_again(
        client: TestClient, admin: dict[str, str], db: Database, customer: int) -> None:
    with before_midnight(LOS_ANGELES) as day:
        cancelled, sent = place(client, admin, delivery(customer, LOS_ANGELES, 2))
        assert sent == ["store"] and place(client, admin, delivery(customer, LOS_ANGELES))[1] == ["wh"]  # full
        response = client.post(f"{ORDERS}/{cancelled}/cancel", headers=admin, json={"reason": "Changed my mind"})
        assert response.status_code == 200 and response.json()["status"] == "cancelled", response.text
        assert loads(db) == {("store", day): 0, ("wh", day): 1}
        assert place(client, admin, delivery(customer, LOS_ANGELES, 2))[1] == ["store"]  # room again

    assert loads(db) == {("store", day): 2, ("wh", day): 1}
    steps = [(e["from_status"], e["to_status"], e["reason"]) for e in client.get(
        f"{ORDERS}/{cancelled}/timeline", headers=admin).json()["items"]]
    assert steps[-1] == ("confirmed", "cancelled", "Changed my mind")
    sound(db)


def test_a_cancel_after_the_store_s_midnight_leaves_the_days_as_they_are(
        client: TestClient, admin: dict[str, str], db: Database, customer: int) -> None:
    with before_midnight(LOS_ANGELES) as day:
        yesterdays, _ = place(client, admin, delivery(customer, LOS_ANGELES, 2))
    with after_midnight(LOS_ANGELES) as next_day:  # still the same UTC day
        place(client, admin, delivery(customer, LOS_ANGELES, 1))
        response = client.post(f"{ORDERS}/{yesterdays}/cancel", headers=admin)
        assert response.status_code == 200, response.text

    assert loads(db) == {("store", day): 2, ("store", next_day): 1}  # yesterday went by; today owes it nothing
    sound(db)


def test_a_pickup_cancelled_gives_nothing_back(client: TestClient, admin: dict[str, str], db: Database,
                                               customer: int) -> None:
    assert client.patch("/api/v1/locations/store", headers=admin, json={"pickup": True}).status_code == 200
    with before_midnight(LOS_ANGELES) as day:
        place(client, admin, delivery(customer, LOS_ANGELES, 2))
        pickup, _ = place(client, admin, {**delivery(customer, LOS_ANGELES, 3),
                                          "fulfilment": {"type": "pickup", "location_id": "store"}})
        assert client.post(f"{ORDERS}/{pickup}/cancel", headers=admin).status_code == 200

    assert loads(db) == {("store", day): 2}


def test_a_short_pick_moves_the_missing_units_to_the_day_of_the_location_sending_them(
        client: TestClient, admin: dict[str, str], db: Database) -> None:
    customer = network(client, admin, db, LOS_ANGELES, store_capacity=3)
    with before_midnight(LOS_ANGELES) as day:
        order_id, sent = place(client, admin, delivery(customer, LOS_ANGELES, 2))
        assert sent == ["store"]
        released = client.post(f"{ORDERS}/{order_id}/release", headers=admin)
        assert released.status_code == 200, released.text
        [fulfilment] = released.json()["items"]
        picked = client.post(f"/api/v1/fulfilments/{fulfilment['id']}/pick", headers=admin,
                             json={"lines": [{"sku": "TEA", "picked": 1}]})
        assert picked.status_code == 200, picked.text

        assert loads(db) == {("store", day): 1, ("wh", day): 1}  # the missing unit is sent by the warehouse
        assert place(client, admin, delivery(customer, LOS_ANGELES, 2))[1] == ["store"]  # the store has room
    with db.read() as s:
        held = sorted(tuple(r) for r in s.execute(select(Reservation.location_id, Reservation.quantity).where(
            Reservation.owner_id == str(order_id), Reservation.status == "active")))
    assert held == [("store", 1), ("wh", 1)]
    sound(db)


def test_a_rebatch_after_the_store_s_midnight_counts_the_moved_units_on_the_new_day_only(
        client: TestClient, admin: dict[str, str], db: Database) -> None:
    """Two orders sourced one by one (the first takes the store's only unit of X, the second goes to the
    warehouse whole) cost less the other way round; re-batched after midnight, the day before stays as it was."""
    lat, lon, _, _ = CITIES[AUCKLAND]
    for sku in ("X", "Y"):
        assert client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": sku, "price": {"amount": "5.00", "currency": "EUR"}}).status_code == 201
    for id_, type_, away, units in (("near", "store", 0.0, 1), ("far", "warehouse", 0.9, 5)):
        assert client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": id_, "type": type_, "lat": lat + away, "lon": lon, "timezone": AUCKLAND,
            "ship_from_store": True, "daily_capacity": 10}).status_code == 201
        for sku in ("X", "Y"):
            assert client.post("/api/v1/inventory/receipts", headers=admin, json={
                "location_id": id_, "sku": sku, "quantity": units, "lot": "L1"}).status_code == 201
    with db.write() as s:
        people = [Profile(status="active", given_name=name) for name in ("Ada", "Bo")]
        s.add_all(people)
        s.flush()
        ada, bo = people[0].id, people[1].id
    with before_midnight(AUCKLAND) as day:
        assert place(client, admin, {**delivery(ada, AUCKLAND), "lines": [{"sku": "X", "quantity": 1}]})[1] == [
            "near"]
        assert place(client, admin, {**delivery(bo, AUCKLAND), "lines": [
            {"sku": "X", "quantity": 1}, {"sku": "Y", "quantity": 1}]})[1] == ["far", "far"]
    with after_midnight(AUCKLAND) as next_day, db.write() as s:
        report = rebatch(s, actor=SYSTEM, since=clock.utcnow() - timedelta(hours=1), settings=Settings())

    assert (report.moved, report.applied) == (2, True)
    assert loads(db) == {("near", day): 1, ("far", day): 2, ("near", next_day): 2, ("far", next_day): 1}
    sound(db)


def test_a_held_delivery_whose_units_a_till_sold_offline_moves_its_count_with_them(
        client: TestClient, admin: dict[str, str], db: Database) -> None:
    customer = network(client, admin, db, LOS_ANGELES, store_capacity=5)
    holding = Settings(secret_key="x" * 20, default_currency="EUR", order_max_line_quantity=2)
    body = OrderIn.model_validate(delivery(customer, LOS_ANGELES, 4))
    with before_midnight(LOS_ANGELES) as day:
        with db.write() as s:  # more than two units of a line: held for staff, its units reserved (and counted)
            held = orders.place_order(s, actor=SYSTEM, channel="web", customer_id=customer,
                                      lines=[orders.OrderLine("TEA", 4)], fulfilment=body.fulfilment,
                                      payment=body.payment, settings=holding)
            assert held.status == "on_hold"
        till = Actor(name="key:till", role=Role.ASSOCIATE, location_ids=frozenset({"store"}), key_id=11)
        batch = PosSyncIn.model_validate({"till_id": "till-1", "location_id": "store", "entries": [{
            "entry_id": "s-1", "kind": "sale", "at": (clock.utcnow() - timedelta(minutes=5)).isoformat(),
            "payment_method": "cash", "lines": [{"sku": "TEA", "quantity": 48}]}]})
        [entry] = pos.sync(db, actor=till, batch=batch, settings=holding).model_dump(mode="json")["entries"]

    assert entry["resourced"] == [{"order_id": held.id, "sku": "TEA", "quantity": 2, "from_location_id": "store",
                                   "to_location_id": "wh"}]
    assert loads(db) == {("store", day): 2, ("wh", day): 2}
    sound(db)
