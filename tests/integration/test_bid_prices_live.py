"""Live bid prices (`sourcing.live`): the worker's job prices stock and picking capacity from the recent delivery
orders, the default policy of live deliveries chooses with them, operators see them (API, CLI)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omniretail.app import create_app
from omniretail.core import clock
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.models import AuditEntry
from omniretail.core.security import Role
from omniretail.customers.models import Profile
from omniretail.inventory.models import Reservation
from omniretail.sourcing import live
from omniretail.sourcing.models import BidPrice, BidPriceRun
from tests.conftest import bearer, make_key

ORDERS = "/api/v1/orders"
KASSEL = {"name": "Ada Meyer", "line1": "Lindenstraße 5", "city": "Kassel", "postcode": "34117", "country": "DE",
          "phone": "+49 561 123456", "lat": 51.31, "lon": 9.49}


@pytest.fixture
def shops(client: TestClient, admin: dict[str, str], db: Database) -> int:
    """Kassel, a ship-from-store store, alone holds coffee and also has tea; Hamburg, a warehouse, has tea."""
    for sku in ("TEA", "COFFEE"):
        response = client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": sku.title(), "price": {"amount": "3.00", "currency": "EUR"}})
        assert response.status_code == 201, response.text
    for id_, type_, lat, lon, stock in (("kassel", "store", 51.31, 9.48, {"TEA": 50, "COFFEE": 200}),
                                        ("hamburg", "warehouse", 53.55, 10.0, {"TEA": 50})):
        response = client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": id_.title(), "type": type_, "lat": lat, "lon": lon, "timezone": "UTC",
            "pickup": False, "ship_from_store": True, "daily_capacity": 0})
        assert response.status_code == 201, response.text
        for sku, units in stock.items():
            response = client.post("/api/v1/inventory/receipts", headers=admin, json={
                "location_id": id_, "sku": sku, "quantity": units, "lot": "L1"})
            assert response.status_code == 201, response.text
    with db.write() as s:
        profile = Profile(status="active", given_name="Ada")
        s.add(profile)
        s.flush()
        return profile.id


def _delivery(customer_id: int, sku: str, units: int) -> dict[str, Any]:
    return {"channel": "web", "customer_id": customer_id, "lines": [{"sku": sku, "quantity": units}],
            "fulfilment": {"type": "delivery", "address": KASSEL},
            "payment": {"status": "authorised", "method": "card"}}


def _coffee_history(client: TestClient, admin: dict[str, str], customer_id: int) -> None:
    """Yesterday Kassel sent 60 coffees (8 orders); today it may send 3 units in all."""
    with clock.travel(timedelta(days=-1)):
        for _ in range(6):
            response = client.post(ORDERS, headers=admin, json=_delivery(customer_id, "COFFEE", 10))
            assert response.status_code == 201, response.text
    response = client.patch("/api/v1/locations/kassel", headers=admin, json={"daily_capacity": 3})
    assert response.status_code == 200, response.text


def _early_today() -> datetime:
    now = clock.utcnow()
    return datetime(now.year, now.month, now.day, 0, 30, tzinfo=UTC)


def _sent_from(db: Database, order_id: int) -> dict[str, int]:
    with db.read() as s:
        return {row.location_id: row.quantity for row in s.execute(
            select(Reservation.location_id, Reservation.quantity)
            .where(Reservation.owner_type == "order", Reservation.owner_id == str(order_id)))}


def test_the_job_prices_the_capacity_the_recent_demand_needs_and_a_delivery_goes_elsewhere(
        client: TestClient, admin: dict[str, str], db: Database, settings: Settings, shops: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    read_async = live.current_async
    fast: list[object] = []

    async def counted(*args: Any) -> Any:
        fast.append(found := await read_async(*args))
        return found

    monkeypatch.setattr(live, "current_async", counted)
    _coffee_history(client, admin, shops)
    # without prices the nearest store sends the tea: one parcel, the shortest way
    live.CACHE.clear()
    off = settings.model_copy(update={"bid_prices": False})
    with TestClient(create_app(off, db), raise_server_exceptions=False) as plain:
        first = plain.post(ORDERS, headers=admin, json=_delivery(shops, "TEA", 1))
    assert first.status_code == 201, first.text
    assert _sent_from(db, first.json()["id"]) == {"kassel": 1}

    priced = settings.model_copy(update={"bid_price_history_days": 2})
    stored = live.compute(db, settings=priced, at=_early_today())
    with db.read() as s:
        prices = {(p.location_id, p.resource, p.sku): p.price for p in s.scalars(select(BidPrice))}
        run = s.scalars(select(BidPriceRun)).one()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "bid_prices.computed")).one()
    assert stored == len(prices) >= 1
    # 60 coffees a day expected, only Kassel holds them and it can send 2 more today: its picking is dear
    assert prices[("kassel", "capacity", "")] > 500
    assert ("hamburg", "capacity", "") not in prices
    # the history: the six coffee orders and the tea just placed
    assert (run.status, run.history_orders, run.history_days, run.scenarios) == ("Optimal", 7, 2, 8)
    assert run.forecast_units == 61 and run.horizon_hours == 23.5 and run.locations == 2
    assert entry.object_id == str(run.id) and entry.changes["capacity_prices"] == run.capacity_prices

    second = client.post(ORDERS, headers=admin, json=_delivery(shops, "TEA", 1))
    assert second.status_code == 201, second.text
    assert _sent_from(db, second.json()["id"]) == {"hamburg": 1}  # Kassel's last units are kept for coffee
    if db.dialect == "postgresql":  # placed by the fast path, which read the prices too
        assert fast and fast[-1]
    decision = client.get(f"{ORDERS}/{second.json()['id']}/sourcing", headers=admin).json()
    assert decision["policy"] == "default"
    assert any(note.startswith("bid prices used to choose") for note in decision["decision"]["notes"])
    # the reported cost is the parcel's true cost: the prices only chose
    assert decision["total_cost"] < 20
    # coffee still goes from Kassel, the only place that has it
    third = client.post(ORDERS, headers=admin, json=_delivery(shops, "COFFEE", 1))
    assert third.status_code == 201, third.text
    assert _sent_from(db, third.json()["id"]) == {"kassel": 1}


def test_a_run_without_history_clears_the_prices_and_says_why(
        client: TestClient, admin: dict[str, str], db: Database, settings: Settings, shops: int) -> None:
    _coffee_history(client, admin, shops)
    assert live.compute(db, settings=settings.model_copy(update={"bid_price_history_days": 2}),
                        at=_early_today()) > 0
    later = _early_today() + timedelta(days=5)
    assert live.compute(db, settings=settings.model_copy(update={"bid_price_history_days": 1}), at=later) == 0
    with db.read() as s:
        assert s.scalars(select(BidPrice)).all() == []
        runs = s.scalars(select(BidPriceRun).order_by(BidPriceRun.id)).all()
    assert [r.status for r in runs] == ["Optimal", "no delivery orders in the history"]
    assert runs[1].history_orders == 0 and runs[1].stock_prices == runs[1].capacity_prices == 0
    # and a delivery is then sourced by cost alone
    answer = client.post(ORDERS, headers=admin, json=_delivery(shops, "TEA", 1))
    assert answer.status_code == 201, answer.text
    assert _sent_from(db, answer.json()["id"]) == {"kassel": 1}


def test_the_job_runs_when_the_last_run_is_old_enough(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIRETAIL_BID_PRICE_MINUTES", "15")
    assert live._job(db) == 0  # no history: a run that stores nothing
    assert live._job(db) == 0
    with db.read() as s:
        assert len(s.scalars(select(BidPriceRun)).all()) == 1  # the second call was too soon
    with clock.travel(timedelta(minutes=16)):
        live._job(db)
    with db.read() as s:
        assert len(s.scalars(select(BidPriceRun)).all()) == 2


def test_operations_see_the_prices_and_others_do_not(client: TestClient, admin: dict[str, str], db: Database,
                                                     settings: Settings, shops: int) -> None:
    empty = client.get("/api/v1/sourcing/bid-prices", headers=admin)
    assert empty.status_code == 200 and empty.json() == {"run": None, "prices": [], "enabled": True}
    _coffee_history(client, admin, shops)
    live.compute(db, settings=settings.model_copy(update={"bid_price_history_days": 2}), at=_early_today())
    shown = client.get("/api/v1/sourcing/bid-prices", headers=admin).json()
    assert shown["run"]["status"] == "Optimal" and shown["run"]["history_orders"] == 6
    assert shown["prices"][0] == {"location_id": "kassel", "resource": "capacity", "sku": None,
                                  "price": pytest.approx(shown["prices"][0]["price"])}
    assert [p["price"] for p in shown["prices"]] == sorted((p["price"] for p in shown["prices"]), reverse=True)
    only = client.get("/api/v1/sourcing/bid-prices?location_id=hamburg&limit=5", headers=admin).json()
    assert all(p["location_id"] == "hamburg" for p in only["prices"])
    ops = bearer(make_key(db, Role.OPERATIONS, name="ops"))
    assert client.get("/api/v1/sourcing/bid-prices", headers=ops).status_code == 200
    associate = bearer(make_key(db, Role.ASSOCIATE, name="till", location_ids=["kassel"]))
    refused = client.get("/api/v1/sourcing/bid-prices", headers=associate)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    bad = client.get("/api/v1/sourcing/bid-prices?limit=0", headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/sourcing/bid-prices").status_code == 401
