"""Inventory over HTTP: receipts, levels, reservations, adjustments, counts, safety stock, availability, roles."""

from __future__ import annotations

from datetime import date, timedelta
from math import radians
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from omniretail.core import clock
from omniretail.core.db import Database
from omniretail.core.security import Role
from omniretail.inventory.invariants import stock_violations
from tests.conftest import bearer, customer_headers, make_key
from tests.helpers import assert_problem, error_fields

PRODUCTS = "/api/v1/products"
LOCATIONS = "/api/v1/locations"
RECEIPTS = "/api/v1/inventory/receipts"
ADJUSTMENTS = "/api/v1/inventory/adjustments"
COUNTS = "/api/v1/inventory/counts"
RESERVATIONS = "/api/v1/inventory/reservations"
SWEEP = "/api/v1/inventory/expiry-sweep"
AVAILABILITY = "/api/v1/availability"
ALWAYS_OPEN = "mon-sun 00:00-24:00"
KM_PER_DEGREE_OF_LATITUDE = radians(1) * 6371.0088
#: The point asked about near a place: every location lies on its meridian, so distances are exact.
POINT = {"lat": 52.0, "lon": 13.0}


def today() -> date:
    return clock.utcnow().date()


def day(offset: int) -> str:
    """The ISO date `offset` days from today (UTC)."""
    return (today() + timedelta(days=offset)).isoformat()


# --- set-up through the API ---------------------------------------------------------------------


def new_product(client: TestClient, headers: dict[str, str], sku: str, *, perishable: bool = False) -> None:
    response = client.post(PRODUCTS, headers=headers, json={
        "sku": sku, "name": f"Product {sku}", "price": {"amount": "2.00", "currency": "EUR"}, "perishable": perishable})
    assert response.status_code == 201, response.text


def new_location(client: TestClient, headers: dict[str, str], id: str, *, type: str = "store", lat: float,
                 pickup: bool = True, opening_hours: str = ALWAYS_OPEN, safety_stock: int = 0) -> None:
    response = client.post(LOCATIONS, headers=headers, json={
        "id": id, "name": f"Location {id}", "type": type, "lat": lat, "lon": POINT["lon"], "timezone": "Europe/Berlin",
        "pickup": pickup, "opening_hours": opening_hours, "safety_stock": safety_stock})
    assert response.status_code == 201, response.text


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str]) -> None:
    """Three products (milk perishable) and four locations north of POINT (store-b keeps 2 units back)."""
    new_product(client, admin, "MILK-1", perishable=True)
    new_product(client, admin, "SOAP-1")
    new_product(client, admin, "RICE-1")
    new_location(client, admin, "wh-east", type="warehouse", lat=52.05, pickup=False)
    new_location(client, admin, "store-a", lat=52.1)
    new_location(client, admin, "store-b", lat=52.2, safety_stock=2)
    new_location(client, admin, "store-far", lat=52.5)


def receive(client: TestClient, headers: dict[str, str], location_id: str, sku: str, quantity: int,
            lot: str | None = None, **dates: str) -> Response:
    return client.post(RECEIPTS, headers=headers, json={
        "location_id": location_id, "sku": sku, "quantity": quantity, "lot": lot, **dates})


def received(client: TestClient, headers: dict[str, str], location_id: str, sku: str, quantity: int,
             lot: str | None = None, **dates: str) -> dict[str, Any]:
    response = receive(client, headers, location_id, sku, quantity, lot, **dates)
    assert response.status_code == 201, response.text
    return response.json()


def level(client: TestClient, headers: dict[str, str], location_id: str, sku: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/inventory/{location_id}/{sku}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def totals(client: TestClient, headers: dict[str, str], location_id: str, sku: str) -> tuple[int, int, int, int]:
    """(on_hand, reserved, safety_stock, available) of one level."""
    body = level(client, headers, location_id, sku)
    return body["on_hand"], body["reserved"], body["safety_stock"], body["available"]


def lots(client: TestClient, headers: dict[str, str], location_id: str, sku: str) -> list[tuple[str, int, bool]]:
    return [(x["lot"], x["quantity"], x["expired"]) for x in level(client, headers, location_id, sku)["lots"]]


def reserve(client: TestClient, headers: dict[str, str], lines: list[tuple[str, str, int]], owner_id: str = "o-1",
            owner_type: str = "order", **fields: Any) -> Response:
    return client.post(RESERVATIONS, headers=headers, json={
        "lines": [{"location_id": loc, "sku": sku, "quantity": qty} for loc, sku, qty in lines],
        "owner_type": owner_type, "owner_id": owner_id, **fields})


def reserved(client: TestClient, headers: dict[str, str], lines: list[tuple[str, str, int]], owner_id: str = "o-1",
             **fields: Any) -> list[dict[str, Any]]:
    response = reserve(client, headers, lines, owner_id, **fields)
    assert response.status_code == 201, response.text
    return response.json()["items"]


def adjust(client: TestClient, headers: dict[str, str], location_id: str, sku: str, quantity: int, reason: str,
           **fields: Any) -> Response:
    return client.post(ADJUSTMENTS, headers=headers, json={
        "location_id": location_id, "sku": sku, "quantity": quantity, "reason": reason, **fields})


def available_at(client: TestClient, headers: dict[str, str], sku: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{AVAILABILITY}/{sku}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def assert_stock_sound(db: Database) -> None:
    with db.read() as s:
        assert stock_violations(s) == []


# --- receipts -------------------------------------------------------------------------------------


def test_a_receipt_answers_201_with_the_lot_and_the_new_on_hand(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    response = receive(client, admin, "store-a", "MILK-1", 12, "M-100", production_date=day(-2),
                       expiry_date=day(20))

    assert response.status_code == 201, response.text
    assert response.json() == {"location_id": "store-a", "sku": "MILK-1", "on_hand": 12, "lot": {
        "lot": "M-100", "quantity": 12, "production_date": day(-2), "expiry_date": day(20), "expired": False}}
    assert totals(client, admin, "store-a", "MILK-1") == (12, 0, 0, 12)
    assert_stock_sound(db)


def test_a_second_receipt_of_the_same_lot_adds_to_it(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "MILK-1", 5, "M-1", production_date=day(-1), expiry_date=day(10))

    body = received(client, admin, "store-a", "MILK-1", 3, "M-1", production_date=day(-1), expiry_date=day(10))

    assert (body["lot"]["lot"], body["lot"]["quantity"], body["on_hand"]) == ("M-1", 8, 8)
    assert lots(client, admin, "store-a", "MILK-1") == [("M-1", 8, False)]
    assert totals(client, admin, "store-a", "MILK-1") == (8, 0, 0, 8)
    assert_stock_sound(db)


def test_a_lot_code_is_made_from_the_expiry_date_when_left_out(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    body = received(client, admin, "store-a", "MILK-1", 2, expiry_date=day(9))

    assert body["lot"]["lot"] == "EXP" + day(9).replace("-", "")
    assert_stock_sound(db)


REFUSED_RECEIPTS: dict[str, tuple[dict[str, Any], int, str, list[str]]] = {
    "perishable-without-expiry": ({"lot": "M-2"}, 422, "expiry_required", ["expiry_date"]),
    "expiry-before-production": ({"lot": "M-2", "production_date": 5, "expiry_date": 4}, 422,
                                 "expiry_before_production", ["expiry_date"]),
    "already-expired": ({"lot": "M-2", "production_date": -10, "expiry_date": -3}, 422, "expired_on_receipt",
                        ["expiry_date"]),
    "zero-quantity": ({"quantity": 0, "expiry_date": 30}, 422, "invalid_quantity", ["quantity"]),
    "negative-quantity": ({"quantity": -4, "expiry_date": 30}, 422, "invalid_quantity", ["quantity"]),
    "unknown-sku": ({"sku": "NO-SUCH-SKU", "expiry_date": 30}, 422, "unknown_sku", ["sku"]),
    "unknown-location": ({"location_id": "atlantis", "expiry_date": 30}, 422, "unknown_location", ["location_id"]),
    "same-lot-other-dates": ({"lot": "BASE", "expiry_date": 31}, 409, "lot_dates_conflict", []),
}


@pytest.mark.parametrize(("change", "status", "code", "fields"), REFUSED_RECEIPTS.values(), ids=REFUSED_RECEIPTS)
def test_a_refused_receipt_answers_its_code_and_changes_nothing(
        client: TestClient, admin: dict[str, str], db: Database, shop: None, change: dict[str, Any], status: int,
        code: str, fields: list[str]) -> None:
    received(client, admin, "store-a", "MILK-1", 10, "BASE", expiry_date=day(30))
    before = level(client, admin, "store-a", "MILK-1")
    body: dict[str, Any] = {"location_id": "store-a", "sku": "MILK-1", "quantity": 5}
    for name, value in change.items():
        body[name] = day(value) if name.endswith("_date") else value

    problem = assert_problem(client.post(RECEIPTS, headers=admin, json=body), status, code)

    if fields:
        assert error_fields(problem) == fields
    assert level(client, admin, "store-a", "MILK-1") == before
    assert_stock_sound(db)


def test_a_receipt_repeated_with_the_same_idempotency_key_is_applied_once(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    headers = {**admin, "Idempotency-Key": "receipt-0001"}
    body = {"location_id": "store-a", "sku": "SOAP-1", "quantity": 5, "lot": "S-1"}
    first = client.post(RECEIPTS, headers=headers, json=body)

    again = client.post(RECEIPTS, headers=headers, json=body)
    other = client.post(RECEIPTS, headers=headers, json={**body, "quantity": 6})

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    assert other.status_code == 409, other.text
    assert totals(client, admin, "store-a", "SOAP-1") == (5, 0, 0, 5)
    assert_stock_sound(db)


def test_a_receipt_into_a_lot_already_past_its_expiry_is_refused(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 5, "S-OLD", expiry_date=day(1))
    with clock.travel(timedelta(days=3)):
        before = level(client, admin, "store-a", "SOAP-1")

        response = receive(client, admin, "store-a", "SOAP-1", 2, "S-OLD")

        assert_problem(response, 422, "expired_on_receipt")
        assert level(client, admin, "store-a", "SOAP-1") == before
        assert_stock_sound(db)


def test_a_receipt_into_a_lot_the_sweep_marked_expired_keeps_the_stock_sound(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 5, "S-OLD", expiry_date=day(1))
    with clock.travel(timedelta(days=3)):
        assert client.post(SWEEP, headers=admin).json()["marked"] == 1

        response = receive(client, admin, "store-a", "SOAP-1", 2, "S-OLD")

        with db.read() as s:
            violations = stock_violations(s)
        network = available_at(client, admin, "SOAP-1")["available"]
        assert (response.status_code, violations, network) == (422, [], 0), response.text


# --- one level --------------------------------------------------------------------------------------


def test_the_level_answers_exact_totals_and_lots_soonest_expiry_first(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-b", "MILK-1", 3, "L-LATE", expiry_date=day(40))
    received(client, admin, "store-b", "MILK-1", 4, "L-SOON", production_date=day(-1), expiry_date=day(10))
    received(client, admin, "store-b", "MILK-1", 5, "L-MID", expiry_date=day(20))
    reserved(client, admin, [("store-b", "MILK-1", 2)])

    assert level(client, admin, "store-b", "MILK-1") == {
        "location_id": "store-b", "sku": "MILK-1", "on_hand": 12, "reserved": 2, "expired": 0, "inbound": 0,
        "safety_stock": 2,
        "available": 8, "lots": [
            {"lot": "L-SOON", "quantity": 4, "production_date": day(-1), "expiry_date": day(10), "expired": False},
            {"lot": "L-MID", "quantity": 5, "production_date": None, "expiry_date": day(20), "expired": False},
            {"lot": "L-LATE", "quantity": 3, "production_date": None, "expiry_date": day(40), "expired": False}]}
    assert_stock_sound(db)


def test_lots_without_an_expiry_date_come_after_dated_lots(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "RICE-1", 2, "R-NONE")
    received(client, admin, "store-a", "RICE-1", 3, "R-DATED", expiry_date=day(90))

    assert lots(client, admin, "store-a", "RICE-1") == [("R-DATED", 3, False), ("R-NONE", 2, False)]
    assert_stock_sound(db)


def test_a_lot_past_its_expiry_is_flagged_expired_and_not_available(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "MILK-1", 4, "M-OLD", expiry_date=day(1))
    received(client, admin, "store-a", "MILK-1", 6, "M-NEW", expiry_date=day(30))

    with clock.travel(timedelta(days=3)):
        body = level(client, admin, "store-a", "MILK-1")
        network = available_at(client, admin, "MILK-1")
        refused = reserve(client, admin, [("store-a", "MILK-1", 7)])

    assert (body["on_hand"], body["expired"], body["available"]) == (10, 4, 6)
    assert [(x["lot"], x["expired"]) for x in body["lots"]] == [("M-OLD", True), ("M-NEW", False)]
    assert network["available"] == 6
    assert assert_problem(refused, 409, "insufficient_stock")["short"] == [
        {"location_id": "store-a", "sku": "MILK-1", "requested": 7, "available": 6}]
    assert_stock_sound(db)


def test_a_known_sku_never_stocked_at_a_location_has_an_empty_level(
        client: TestClient, admin: dict[str, str], shop: None) -> None:
    assert level(client, admin, "store-b", "SOAP-1") == {
        "location_id": "store-b", "sku": "SOAP-1", "on_hand": 0, "reserved": 0, "expired": 0, "inbound": 0,
        "safety_stock": 2,
        "available": 0, "lots": []}


@pytest.mark.parametrize(("location_id", "sku", "code"), [
    ("atlantis", "SOAP-1", "unknown_location"), ("store-a", "NO-SUCH-SKU", "unknown_sku")])
def test_the_level_of_an_unknown_location_or_sku_is_404(
        client: TestClient, admin: dict[str, str], shop: None, location_id: str, sku: str, code: str) -> None:
    assert_problem(client.get(f"/api/v1/inventory/{location_id}/{sku}", headers=admin), 404, code)


# --- reservations ---------------------------------------------------------------------------------


def test_a_reservation_of_every_line_answers_201_and_raises_reserved(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    received(client, admin, "wh-east", "RICE-1", 6)

    items = reserved(client, admin, [("store-a", "SOAP-1", 3), ("wh-east", "RICE-1", 6)], "o-7", reason="web order")

    assert [(x["location_id"], x["sku"], x["quantity"], x["status"], x["owner_type"], x["owner_id"], x["reason"])
            for x in items] == [("store-a", "SOAP-1", 3, "active", "order", "o-7", "web order"),
                                ("wh-east", "RICE-1", 6, "active", "order", "o-7", "web order")]
    assert totals(client, admin, "store-a", "SOAP-1") == (10, 3, 0, 7)
    assert totals(client, admin, "wh-east", "RICE-1") == (6, 6, 0, 0)
    assert_stock_sound(db)


def test_a_reservation_with_one_short_line_reserves_nothing(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    received(client, admin, "store-a", "RICE-1", 2)

    response = reserve(client, admin, [("store-a", "SOAP-1", 4), ("store-a", "RICE-1", 5)], "o-short")

    body = assert_problem(response, 409, "insufficient_stock")
    assert body["short"] == [{"location_id": "store-a", "sku": "RICE-1", "requested": 5, "available": 2}]
    assert totals(client, admin, "store-a", "SOAP-1") == (10, 0, 0, 10)
    assert totals(client, admin, "store-a", "RICE-1") == (2, 0, 0, 2)
    listed = client.get(RESERVATIONS, headers=admin, params={"owner_type": "order", "owner_id": "o-short"})
    assert (listed.status_code, listed.json()) == (200, {"items": [], "next_cursor": None})
    assert_stock_sound(db)


def test_two_lines_of_one_sku_are_short_together(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 5)

    response = reserve(client, admin, [("store-a", "SOAP-1", 3), ("store-a", "SOAP-1", 3)])

    assert assert_problem(response, 409, "insufficient_stock")["short"] == [
        {"location_id": "store-a", "sku": "SOAP-1", "requested": 6, "available": 5}]
    assert totals(client, admin, "store-a", "SOAP-1") == (5, 0, 0, 5)
    assert_stock_sound(db)


def test_a_sku_never_stocked_at_the_location_is_short_with_nothing_available(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    response = reserve(client, admin, [("store-a", "RICE-1", 1)])

    assert assert_problem(response, 409, "insufficient_stock")["short"] == [
        {"location_id": "store-a", "sku": "RICE-1", "requested": 1, "available": 0}]
    assert_stock_sound(db)


def test_safety_stock_is_kept_back_unless_the_reservation_ignores_it(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-b", "SOAP-1", 5)

    over = reserve(client, admin, [("store-b", "SOAP-1", 4)], "web-1")
    reserved(client, admin, [("store-b", "SOAP-1", 3)], "web-1")
    at_till = reserved(client, admin, [("store-b", "SOAP-1", 2)], "till-1", respect_safety_stock=False)
    empty = reserve(client, admin, [("store-b", "SOAP-1", 1)], "till-2", respect_safety_stock=False)

    assert assert_problem(over, 409, "insufficient_stock")["short"] == [
        {"location_id": "store-b", "sku": "SOAP-1", "requested": 4, "available": 3}]
    assert [x["quantity"] for x in at_till] == [2]
    assert assert_problem(empty, 409, "insufficient_stock")["short"] == [
        {"location_id": "store-b", "sku": "SOAP-1", "requested": 1, "available": 0}]
    assert totals(client, admin, "store-b", "SOAP-1") == (5, 5, 2, 0)
    assert_stock_sound(db)


def test_a_released_reservation_gives_its_units_back_and_cannot_be_consumed(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    (item,) = reserved(client, admin, [("store-a", "SOAP-1", 4)])

    released = client.post(f"{RESERVATIONS}/{item['id']}/release", headers=admin, json={"reason": "cancelled"})
    consumed = client.post(f"{RESERVATIONS}/{item['id']}/consume", headers=admin)
    again = client.post(f"{RESERVATIONS}/{item['id']}/release", headers=admin)

    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["reason"]) == ("released", "cancelled")
    assert_problem(consumed, 409, "reservation_not_active")
    assert_problem(again, 409, "reservation_not_active")
    assert totals(client, admin, "store-a", "SOAP-1") == (10, 0, 0, 10)
    assert_stock_sound(db)


def test_consuming_takes_units_first_expired_first_out(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "MILK-1", 3, "L-LATE", expiry_date=day(40))
    received(client, admin, "store-a", "MILK-1", 4, "L-SOON", expiry_date=day(10))
    received(client, admin, "store-a", "MILK-1", 5, "L-MID", expiry_date=day(20))
    (item,) = reserved(client, admin, [("store-a", "MILK-1", 6)])

    response = client.post(f"{RESERVATIONS}/{item['id']}/consume", headers=admin)

    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["status"]) == (item["id"], "consumed")
    assert lots(client, admin, "store-a", "MILK-1") == [("L-MID", 3, False), ("L-LATE", 3, False)]
    assert totals(client, admin, "store-a", "MILK-1") == (6, 0, 0, 6)
    assert_stock_sound(db)


def test_reservations_are_listed_by_their_owner(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    first = reserved(client, admin, [("store-a", "SOAP-1", 1), ("store-a", "SOAP-1", 2)], "o-1")
    reserved(client, admin, [("store-a", "SOAP-1", 3)], "o-2")
    reserved(client, admin, [("store-a", "SOAP-1", 4)], "o-1", owner_type="cart")
    client.post(f"{RESERVATIONS}/{first[0]['id']}/release", headers=admin)

    response = client.get(RESERVATIONS, headers=admin, params={"owner_type": "order", "owner_id": "o-1"})

    assert response.status_code == 200, response.text
    assert [(x["id"], x["sku"], x["quantity"], x["status"]) for x in response.json()["items"]] == [
        (first[0]["id"], "SOAP-1", 1, "released"), (first[1]["id"], "SOAP-1", 2, "active")]
    assert totals(client, admin, "store-a", "SOAP-1") == (10, 9, 0, 1)
    assert_stock_sound(db)


def test_the_reservations_of_an_owner_are_paginated_with_a_cursor(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    made = reserved(client, admin, [("store-a", "SOAP-1", 1), ("store-a", "SOAP-1", 2), ("store-a", "SOAP-1", 3)])

    first = client.get(RESERVATIONS, headers=admin, params={"owner_type": "order", "owner_id": "o-1", "limit": 2})
    assert first.status_code == 200, first.text
    cursor = first.json().get("next_cursor")
    assert cursor is not None, first.text
    second = client.get(RESERVATIONS, headers=admin, params={
        "owner_type": "order", "owner_id": "o-1", "limit": 2, "cursor": cursor}).json()

    assert [x["id"] for x in first.json()["items"]] == [made[0]["id"], made[1]["id"]]
    assert ([x["id"] for x in second["items"]], second["next_cursor"]) == ([made[2]["id"]], None)


def test_an_unknown_reservation_is_404(client: TestClient, admin: dict[str, str], shop: None) -> None:
    assert_problem(client.post(f"{RESERVATIONS}/987654/release", headers=admin), 404, "unknown_reservation")
    assert_problem(client.post(f"{RESERVATIONS}/987654/consume", headers=admin), 404, "unknown_reservation")


@pytest.mark.parametrize(("lines", "fields", "code", "field"), [
    ([("store-a", "SOAP-1", 0)], {}, "invalid_quantity", "lines.0.quantity"),
    ([("store-a", "SOAP-1", 1), ("store-a", "SOAP-1", -2)], {}, "invalid_quantity", "lines.1.quantity"),
    ([("store-a", "SOAP-1", 1), ("store-a", "NO-SUCH-SKU", 1)], {}, "unknown_sku", "lines.1.sku"),
    ([("atlantis", "SOAP-1", 1)], {}, "unknown_location", "lines.0.location_id"),
    ([], {}, "empty_reservation", "lines"),
    ([("store-a", "SOAP-1", 1)], {"expires_at": "2001-01-01T00:00:00+00:00"}, "invalid_expiry", "expires_at"),
], ids=["zero", "negative", "unknown-sku", "unknown-location", "no-lines", "hold-in-the-past"])
def test_a_bad_reservation_is_refused_and_reserves_nothing(
        client: TestClient, admin: dict[str, str], db: Database, shop: None, lines: list[tuple[str, str, int]],
        fields: dict[str, Any], code: str, field: str) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)

    body = assert_problem(reserve(client, admin, lines, **fields), 422, code)

    assert error_fields(body) == [field]
    assert totals(client, admin, "store-a", "SOAP-1") == (10, 0, 0, 10)
    assert_stock_sound(db)


# --- adjustments ------------------------------------------------------------------------------------


def test_damage_removes_units_and_answers_the_new_level(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10, "S-1")

    response = adjust(client, admin, "store-a", "SOAP-1", -3, "damage")

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["on_hand"], body["reserved"], body["available"]) == (7, 0, 7)
    assert lots(client, admin, "store-a", "SOAP-1") == [("S-1", 7, False)]
    assert_stock_sound(db)


def test_found_units_are_added_to_the_stock(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10, "S-1")

    response = adjust(client, admin, "store-a", "SOAP-1", 4, "found")

    assert response.status_code == 201, response.text
    assert (response.json()["on_hand"], response.json()["available"]) == (14, 14)
    assert lots(client, admin, "store-a", "SOAP-1") == [("S-1", 14, False)]
    assert_stock_sound(db)


def test_damage_can_be_taken_from_a_named_lot(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "MILK-1", 4, "L-SOON", expiry_date=day(5))
    received(client, admin, "store-a", "MILK-1", 6, "L-LATE", expiry_date=day(15))

    response = adjust(client, admin, "store-a", "MILK-1", -2, "damage", lot="L-LATE")

    assert response.status_code == 201, response.text
    assert lots(client, admin, "store-a", "MILK-1") == [("L-SOON", 4, False), ("L-LATE", 4, False)]
    assert_stock_sound(db)


REFUSED_ADJUSTMENTS: dict[str, tuple[int, str, dict[str, Any], int, str, list[str]]] = {
    "damage-that-adds": (3, "damage", {}, 422, "invalid_quantity", ["quantity"]),
    "theft-that-adds": (1, "theft", {}, 422, "invalid_quantity", ["quantity"]),
    "found-that-removes": (-2, "found", {}, 422, "invalid_quantity", ["quantity"]),
    "zero": (0, "correction", {}, 422, "invalid_quantity", ["quantity"]),
    "unknown-reason": (-1, "misplaced", {}, 422, "validation_error", ["reason"]),
    "unknown-lot": (-1, "damage", {"lot": "NO-LOT"}, 422, "unknown_lot", ["lot"]),
    "unknown-location": (-1, "damage", {"location_id": "atlantis"}, 422, "unknown_location", ["location_id"]),
    "unknown-sku": (-1, "damage", {"sku": "NO-SUCH-SKU"}, 422, "unknown_sku", ["sku"]),
    "more-than-on-hand": (-11, "theft", {}, 409, "not_enough_on_hand", []),
    "reserved-units": (-8, "damage", {}, 409, "stock_reserved", []),
}


@pytest.mark.parametrize(("quantity", "reason", "change", "status", "code", "fields"), REFUSED_ADJUSTMENTS.values(),
                         ids=REFUSED_ADJUSTMENTS)
def test_a_refused_adjustment_answers_its_code_and_changes_nothing(
        client: TestClient, admin: dict[str, str], db: Database, shop: None, quantity: int, reason: str,
        change: dict[str, Any], status: int, code: str, fields: list[str]) -> None:
    received(client, admin, "store-a", "SOAP-1", 10, "S-1")
    reserved(client, admin, [("store-a", "SOAP-1", 3)])
    before = level(client, admin, "store-a", "SOAP-1")

    response = client.post(ADJUSTMENTS, headers=admin, json={
        "location_id": "store-a", "sku": "SOAP-1", "quantity": quantity, "reason": reason, **change})

    body = assert_problem(response, status, code)
    if fields:
        assert error_fields(body) == fields
    assert level(client, admin, "store-a", "SOAP-1") == before
    assert_stock_sound(db)


def test_units_not_reserved_can_still_be_removed(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    reserved(client, admin, [("store-a", "SOAP-1", 8)])

    refused = adjust(client, admin, "store-a", "SOAP-1", -3, "theft")
    accepted = adjust(client, admin, "store-a", "SOAP-1", -2, "theft")

    assert assert_problem(refused, 409, "stock_reserved")["reserved"] == 8
    assert accepted.status_code == 201, accepted.text
    assert totals(client, admin, "store-a", "SOAP-1") == (8, 8, 0, 0)
    assert_stock_sound(db)


def test_damage_never_leaves_reserved_units_only_in_expired_lots(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "MILK-1", 4, "M-OLD", expiry_date=day(1))
    received(client, admin, "store-a", "MILK-1", 6, "M-NEW", expiry_date=day(30))
    with clock.travel(timedelta(days=3)):
        (item,) = reserved(client, admin, [("store-a", "MILK-1", 6)])
        before = level(client, admin, "store-a", "MILK-1")

        response = adjust(client, admin, "store-a", "MILK-1", -1, "damage")

        assert_problem(response, 409, "stock_reserved")
        assert level(client, admin, "store-a", "MILK-1") == before
        consumed = client.post(f"{RESERVATIONS}/{item['id']}/consume", headers=admin)
        assert consumed.status_code == 200, consumed.text
        assert_stock_sound(db)


# --- counts ---------------------------------------------------------------------------------------


def test_a_count_answers_expected_counted_and_variance_and_on_hand_follows(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10, "S-1")
    received(client, admin, "store-a", "RICE-1", 5, "R-1")
    received(client, admin, "store-a", "MILK-1", 3, "M-1", expiry_date=day(7))

    response = client.post(COUNTS, headers=admin, json={"location_id": "store-a", "lines": [
        {"sku": "SOAP-1", "counted": 8}, {"sku": "RICE-1", "counted": 7}, {"sku": "MILK-1", "counted": 3}]})

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["location_id"] == "store-a"
    assert body["lines"] == [
        {"sku": "SOAP-1", "lot": None, "expected": 10, "counted": 8, "variance": -2},
        {"sku": "RICE-1", "lot": None, "expected": 5, "counted": 7, "variance": 2},
        {"sku": "MILK-1", "lot": None, "expected": 3, "counted": 3, "variance": 0}]
    assert totals(client, admin, "store-a", "SOAP-1") == (8, 0, 0, 8)
    assert totals(client, admin, "store-a", "RICE-1") == (7, 0, 0, 7)
    assert totals(client, admin, "store-a", "MILK-1") == (3, 0, 0, 3)
    assert_stock_sound(db)


def test_counting_a_sku_never_stocked_here_brings_it_on_hand(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    response = client.post(COUNTS, headers=admin, json={"location_id": "store-b", "lines": [
        {"sku": "SOAP-1", "counted": 4}]})

    assert response.status_code == 201, response.text
    assert response.json()["lines"] == [{"sku": "SOAP-1", "lot": None, "expected": 0, "counted": 4, "variance": 4}]
    assert totals(client, admin, "store-b", "SOAP-1") == (4, 0, 2, 2)
    assert_stock_sound(db)


@pytest.mark.parametrize(("lines", "code", "field"), [
    ([{"sku": "SOAP-1", "counted": 8}, {"sku": "RICE-1", "counted": 1}, {"sku": "SOAP-1", "counted": 9}],
     "duplicate_line", "lines.2.sku"),
    ([{"sku": "RICE-1", "counted": 1}, {"sku": "SOAP-1", "counted": -1}], "invalid_quantity", "lines.1.counted"),
    ([{"sku": "SOAP-1", "counted": 1}, {"sku": "NO-SUCH-SKU", "counted": 1}], "unknown_sku", "lines.1.sku"),
    ([], "empty_count", "lines"),
], ids=["sku-twice", "negative-counted", "unknown-sku", "no-lines"])
def test_a_refused_count_answers_its_code_and_changes_nothing(
        client: TestClient, admin: dict[str, str], db: Database, shop: None, lines: list[dict[str, Any]], code: str,
        field: str) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    received(client, admin, "store-a", "RICE-1", 5)

    body = assert_problem(client.post(COUNTS, headers=admin, json={"location_id": "store-a", "lines": lines}),
                          422, code)

    assert error_fields(body) == [field]
    assert totals(client, admin, "store-a", "SOAP-1") == (10, 0, 0, 10)
    assert totals(client, admin, "store-a", "RICE-1") == (5, 0, 0, 5)
    assert_stock_sound(db)


def test_a_count_at_an_unknown_location_is_refused(client: TestClient, admin: dict[str, str], shop: None) -> None:
    body = assert_problem(client.post(COUNTS, headers=admin, json={
        "location_id": "atlantis", "lines": [{"sku": "SOAP-1", "counted": 1}]}), 422, "unknown_location")

    assert error_fields(body) == ["location_id"]


def test_a_count_of_one_lot_adjusts_that_lot(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "MILK-1", 4, "L-SOON", expiry_date=day(5))
    received(client, admin, "store-a", "MILK-1", 6, "L-LATE", expiry_date=day(15))

    response = client.post(COUNTS, headers=admin, json={"location_id": "store-a", "lines": [
        {"sku": "MILK-1", "lot": "L-LATE", "counted": 9}]})

    assert response.status_code == 201, response.text
    assert response.json()["lines"] == [{"sku": "MILK-1", "lot": "L-LATE", "expected": 6, "counted": 9, "variance": 3}]
    assert lots(client, admin, "store-a", "MILK-1") == [("L-SOON", 4, False), ("L-LATE", 9, False)]
    assert totals(client, admin, "store-a", "MILK-1") == (13, 0, 0, 13)
    assert_stock_sound(db)


# --- safety stock ---------------------------------------------------------------------------------


def test_setting_safety_stock_changes_what_is_available(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    path = "/api/v1/inventory/store-a/SOAP-1/safety-stock"

    raised = client.put(path, headers=admin, json={"quantity": 4})
    online = available_at(client, admin, "SOAP-1", location="store-a")["available"]
    short = reserve(client, admin, [("store-a", "SOAP-1", 7)])
    cleared = client.put(path, headers=admin, json={"quantity": None})

    assert raised.status_code == 200, raised.text
    assert (raised.json()["safety_stock"], raised.json()["available"]) == (4, 6)
    assert online == 6
    assert assert_problem(short, 409, "insufficient_stock")["short"][0]["available"] == 6
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["safety_stock"], cleared.json()["available"]) == (0, 10)
    assert_stock_sound(db)


def test_a_per_sku_safety_stock_overrides_the_location_default(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-b", "SOAP-1", 10)
    assert totals(client, admin, "store-b", "SOAP-1") == (10, 0, 2, 8)

    response = client.put("/api/v1/inventory/store-b/SOAP-1/safety-stock", headers=admin, json={"quantity": 0})

    assert response.status_code == 200, response.text
    assert totals(client, admin, "store-b", "SOAP-1") == (10, 0, 0, 10)
    assert available_at(client, admin, "SOAP-1", location="store-b")["available"] == 10
    assert_stock_sound(db)


def test_a_negative_safety_stock_is_refused(client: TestClient, admin: dict[str, str], shop: None) -> None:
    response = client.put("/api/v1/inventory/store-a/SOAP-1/safety-stock", headers=admin, json={"quantity": -1})

    assert error_fields(assert_problem(response, 422, "validation_error")) == ["quantity"]
    assert totals(client, admin, "store-a", "SOAP-1") == (0, 0, 0, 0)


# --- availability ---------------------------------------------------------------------------------


@pytest.fixture
def soap_everywhere(client: TestClient, admin: dict[str, str], shop: None) -> None:
    """SOAP-1: 10 at store-a, 5 at store-b (2 kept back), 20 at wh-east, 7 at store-far (3 reserved)."""
    received(client, admin, "store-a", "SOAP-1", 10)
    received(client, admin, "store-b", "SOAP-1", 5)
    received(client, admin, "wh-east", "SOAP-1", 20)
    received(client, admin, "store-far", "SOAP-1", 7)
    reserved(client, admin, [("store-far", "SOAP-1", 3)])


def where(body: dict[str, Any]) -> list[tuple[str, int, bool]]:
    return [(x["location_id"], x["available"], x["pickup_today"]) for x in body["locations"]]


def test_network_wide_availability_sums_every_location(
        client: TestClient, admin: dict[str, str], db: Database, soap_everywhere: None) -> None:
    body = available_at(client, admin, "SOAP-1")

    assert (body["sku"], body["available"]) == ("SOAP-1", 10 + 3 + 20 + 4)
    assert where(body) == [("store-a", 10, True), ("store-b", 3, True), ("store-far", 4, True),
                           ("wh-east", 20, False)]
    assert [x["distance_km"] for x in body["locations"]] == [None, None, None, None]
    assert_stock_sound(db)


def test_availability_at_one_location(client: TestClient, admin: dict[str, str], soap_everywhere: None) -> None:
    body = available_at(client, admin, "SOAP-1", location="store-b")

    assert (body["available"], where(body)) == (3, [("store-b", 3, True)])


def test_availability_near_a_point_is_sorted_by_distance_within_the_radius(
        client: TestClient, admin: dict[str, str], soap_everywhere: None) -> None:
    body = available_at(client, admin, "SOAP-1", **POINT, radius_km=30)

    assert (body["available"], where(body)) == (33, [("wh-east", 20, False), ("store-a", 10, True),
                                                      ("store-b", 3, True)])
    assert [x["distance_km"] for x in body["locations"]] == [
        pytest.approx(KM_PER_DEGREE_OF_LATITUDE * d, abs=0.001) for d in (0.05, 0.1, 0.2)]


def test_a_wider_radius_reaches_further_locations(
        client: TestClient, admin: dict[str, str], soap_everywhere: None) -> None:
    body = available_at(client, admin, "SOAP-1", **POINT, radius_km=60)

    default = available_at(client, admin, "SOAP-1", **POINT)

    assert [x["location_id"] for x in body["locations"]] == ["wh-east", "store-a", "store-b", "store-far"]
    assert body["locations"][-1]["distance_km"] == pytest.approx(KM_PER_DEGREE_OF_LATITUDE * 0.5, abs=0.001)
    assert [x["location_id"] for x in default["locations"]] == ["wh-east", "store-a", "store-b"]


def test_pickup_today_needs_units_and_opening_hours_today(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    new_location(client, admin, "store-shut", lat=52.3, opening_hours="mon-sun closed")
    received(client, admin, "store-shut", "RICE-1", 5)
    received(client, admin, "store-a", "RICE-1", 2)
    reserved(client, admin, [("store-a", "RICE-1", 2)])

    body = available_at(client, admin, "RICE-1")

    assert where(body) == [("store-a", 0, False), ("store-shut", 5, False)]
    assert_stock_sound(db)


@pytest.mark.parametrize(("params", "field"), [({"lat": 52.0}, "lon"), ({"lon": 13.0}, "lat")])
def test_a_point_without_both_coordinates_is_refused(
        client: TestClient, admin: dict[str, str], shop: None, params: dict[str, float], field: str) -> None:
    body = assert_problem(client.get(f"{AVAILABILITY}/SOAP-1", headers=admin, params=params), 422, "incomplete_point")

    assert error_fields(body) == [field]


def test_availability_of_an_unknown_sku_or_location_is_404(
        client: TestClient, admin: dict[str, str], shop: None) -> None:
    assert_problem(client.get(f"{AVAILABILITY}/NO-SUCH-SKU", headers=admin), 404, "unknown_sku")
    assert_problem(client.get(f"{AVAILABILITY}/SOAP-1", headers=admin, params={"location": "atlantis"}), 404,
                   "unknown_location")


# --- roles and scopes -----------------------------------------------------------------------------


def test_an_associate_receives_at_its_own_location_only(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    associate = bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-a"]))

    own = receive(client, associate, "store-a", "SOAP-1", 4)
    other = receive(client, associate, "store-b", "SOAP-1", 4)

    assert own.status_code == 201, own.text
    assert_problem(other, 403, "location_out_of_scope")
    assert totals(client, admin, "store-a", "SOAP-1") == (4, 0, 0, 4)
    assert totals(client, admin, "store-b", "SOAP-1") == (0, 0, 2, 0)
    assert_stock_sound(db)


def test_a_scoped_reservation_at_a_store_that_does_not_exist_is_refused_alike_on_every_database(
        client: TestClient, db: Database, shop: None) -> None:
    associate = bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-a"]))
    body = {"lines": [{"location_id": "store-zz", "sku": "SOAP-1", "quantity": 1}], "owner_type": "pos",
            "owner_id": "till-9"}
    response = client.post(RESERVATIONS, headers=associate, json=body)
    assert response.status_code == 422 and response.json()["code"] == "unknown_location", response.text
    assert_stock_sound(db)


OUT_OF_SCOPE: dict[str, tuple[str, str, dict[str, Any]]] = {
    "adjustment": ("POST", ADJUSTMENTS, {"location_id": "store-b", "sku": "SOAP-1", "quantity": -1,
                                         "reason": "damage"}),
    "count": ("POST", COUNTS, {"location_id": "store-b", "lines": [{"sku": "SOAP-1", "counted": 0}]}),
    "reservation": ("POST", RESERVATIONS, {"lines": [{"location_id": "store-b", "sku": "SOAP-1", "quantity": 1}],
                                           "owner_type": "pos", "owner_id": "till-9"}),
    "safety-stock": ("PUT", "/api/v1/inventory/store-b/SOAP-1/safety-stock", {"quantity": 0}),
}


@pytest.mark.parametrize(("method", "path", "body"), OUT_OF_SCOPE.values(), ids=OUT_OF_SCOPE)
def test_an_associate_cannot_change_stock_at_another_location(
        client: TestClient, admin: dict[str, str], db: Database, shop: None, method: str, path: str,
        body: dict[str, Any]) -> None:
    received(client, admin, "store-b", "SOAP-1", 5)
    before = level(client, admin, "store-b", "SOAP-1")
    associate = bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-a"]))

    assert_problem(client.request(method, path, headers=associate, json=body), 403, "location_out_of_scope")

    assert level(client, admin, "store-b", "SOAP-1") == before
    assert_stock_sound(db)


def test_a_customer_reads_availability_but_not_stock_levels_nor_receipts(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 3)
    customer = customer_headers(db)

    assert available_at(client, customer, "SOAP-1")["available"] == 3
    assert_problem(receive(client, customer, "store-a", "SOAP-1", 1), 403, "role_forbidden")
    assert_problem(client.get("/api/v1/inventory/store-a/SOAP-1", headers=customer), 403, "role_forbidden")
    assert_problem(reserve(client, customer, [("store-a", "SOAP-1", 1)]), 403, "role_forbidden")
    assert_problem(adjust(client, customer, "store-a", "SOAP-1", -1, "damage"), 403, "role_forbidden")
    assert totals(client, admin, "store-a", "SOAP-1") == (3, 0, 0, 3)
    assert_stock_sound(db)


@pytest.mark.parametrize(("method", "path"), [
    ("POST", RECEIPTS), ("GET", "/api/v1/inventory/store-a/SOAP-1"), ("GET", f"{AVAILABILITY}/SOAP-1"),
    ("POST", SWEEP), ("POST", COUNTS), ("POST", ADJUSTMENTS), ("POST", RESERVATIONS)])
def test_without_a_key_inventory_answers_401(client: TestClient, shop: None, method: str, path: str) -> None:
    assert_problem(client.request(method, path), 401, "missing_key")
    assert_problem(client.request(method, path, headers=bearer("omr_not-a-real-key")), 401, "invalid_key")


# --- expiry sweep ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ASSOCIATE, Role.AGENT, Role.CUSTOMER])
def test_the_expiry_sweep_is_refused_to_other_roles(client: TestClient, db: Database, shop: None, role: Role) -> None:
    if role is Role.CUSTOMER:
        headers = customer_headers(db)
    else:
        scope: dict[str, Any] = {Role.ASSOCIATE: {"location_ids": ["store-a"]}}.get(role, {})
        headers = bearer(make_key(db, role, **scope))

    assert_problem(client.post(SWEEP, headers=headers), 403, "role_forbidden")


def test_operations_may_run_the_expiry_sweep(client: TestClient, db: Database, shop: None) -> None:
    response = client.post(SWEEP, headers=bearer(make_key(db, Role.OPERATIONS)))

    assert (response.status_code, response.json()) == (200, {"marked": 0, "lots": [], "holds_released": 0})


def test_the_sweep_marks_lots_past_expiry_for_write_off(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "MILK-1", 4, "M-OLD", expiry_date=day(1))
    received(client, admin, "store-a", "MILK-1", 6, "M-NEW", expiry_date=day(30))
    expiry = day(1)

    with clock.travel(timedelta(days=3)):
        swept = client.post(SWEEP, headers=admin)
        after_sweep = level(client, admin, "store-a", "MILK-1")
        repeat = client.post(SWEEP, headers=admin).json()["marked"]
        written_off = adjust(client, admin, "store-a", "MILK-1", -4, "expired")
        after_write_off = level(client, admin, "store-a", "MILK-1")
        assert_stock_sound(db)

    assert swept.status_code == 200, swept.text
    assert swept.json() == {"marked": 1, "holds_released": 0, "lots": [
        {"location_id": "store-a", "sku": "MILK-1", "lot": "M-OLD", "quantity": 4, "expiry_date": expiry}]}
    assert (after_sweep["on_hand"], after_sweep["expired"], after_sweep["available"]) == (10, 4, 6)
    assert repeat == 0
    assert written_off.status_code == 201, written_off.text
    assert (after_write_off["on_hand"], after_write_off["expired"], after_write_off["available"]) == (6, 0, 6)
    assert [(x["lot"], x["quantity"]) for x in after_write_off["lots"]] == [("M-NEW", 6)]


def test_the_sweep_can_be_limited_to_one_location(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "MILK-1", 4, "M-A", expiry_date=day(1))
    received(client, admin, "store-b", "MILK-1", 5, "M-B", expiry_date=day(1))

    with clock.travel(timedelta(days=3)):
        swept = client.post(SWEEP, headers=admin, params={"location_id": "store-b"})
        assert_stock_sound(db)

    assert swept.status_code == 200, swept.text
    assert [(x["location_id"], x["lot"], x["quantity"]) for x in swept.json()["lots"]] == [("store-b", "M-B", 5)]
    assert level(client, admin, "store-a", "MILK-1")["lots"][0]["expired"] is False
    assert level(client, admin, "store-b", "MILK-1")["lots"][0]["expired"] is True


def test_the_sweep_releases_cart_holds_that_ran_out(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 10)
    hold_until = (clock.utcnow() + timedelta(hours=1)).isoformat()
    (hold,) = reserved(client, admin, [("store-a", "SOAP-1", 4)], "cart-1", owner_type="cart", expires_at=hold_until)
    reserved(client, admin, [("store-a", "SOAP-1", 1)], "o-1")

    with clock.travel(timedelta(hours=2)):
        swept = client.post(SWEEP, headers=admin)

    assert swept.status_code == 200, swept.text
    assert (swept.json()["marked"], swept.json()["holds_released"]) == (0, 1)
    listed = client.get(RESERVATIONS, headers=admin, params={"owner_type": "cart", "owner_id": "cart-1"}).json()
    assert [(x["id"], x["status"]) for x in listed["items"]] == [(hold["id"], "expired")]
    assert totals(client, admin, "store-a", "SOAP-1") == (10, 1, 0, 9)
    assert_stock_sound(db)


def test_a_cart_hold_that_ran_out_does_not_block_a_new_reservation(
        client: TestClient, admin: dict[str, str], db: Database, shop: None) -> None:
    received(client, admin, "store-a", "SOAP-1", 5)
    hold_until = (clock.utcnow() + timedelta(hours=1)).isoformat()
    reserved(client, admin, [("store-a", "SOAP-1", 5)], "cart-1", owner_type="cart", expires_at=hold_until)

    with clock.travel(timedelta(hours=2)):
        items = reserved(client, admin, [("store-a", "SOAP-1", 3)], "o-2")

    assert [x["quantity"] for x in items] == [3]
    assert totals(client, admin, "store-a", "SOAP-1") == (5, 3, 0, 2)
    assert_stock_sound(db)
