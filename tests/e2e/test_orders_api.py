"""Orders over HTTP: the answers' shapes, who may do what, every bad input refused with its code, and
Idempotency-Key replays."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from omniretail.core.db import Database
from omniretail.core.security import Role
from omniretail.customers.models import Profile
from omniretail.inventory.invariants import stock_violations
from omniretail.orders.invariants import order_violations
from tests.conftest import bearer, make_key
from tests.helpers import assert_problem, error_fields

ORDERS = "/api/v1/orders"
HOME = {"name": "Ada Meyer", "line1": "Lindenstraße 5", "city": "Kassel", "postcode": "34117", "country": "DE",
        "phone": "+49 561 123456"}


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str], db: Database) -> dict[str, int]:
    """Two stores (store-b without pickup), a warehouse, milk 1.20 and soap 2.50 EUR; two customers."""
    for sku, price in (("MILK", "1.20"), ("SOAP", "2.50")):
        response = client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": f"Product {sku}", "price": {"amount": price, "currency": "EUR"}})
        assert response.status_code == 201, response.text
    for id_, type_, pickup in (("store-a", "store", True), ("store-b", "store", False), ("wh", "warehouse", False)):
        response = client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": f"Location {id_}", "type": type_, "lat": 51.3, "lon": 9.5, "timezone": "Europe/Berlin",
            "pickup": pickup, "ship_from_store": True})
        assert response.status_code == 201, response.text
    for location_id, sku, units in (("store-a", "MILK", 5), ("store-a", "SOAP", 2), ("store-b", "MILK", 5),
                                    ("wh", "SOAP", 20)):
        response = client.post("/api/v1/inventory/receipts", headers=admin, json={
            "location_id": location_id, "sku": sku, "quantity": units, "lot": "L1"})
        assert response.status_code == 201, response.text
    with db.write() as s:
        people = [Profile(status="active", given_name=name) for name in ("Ada", "Bo")]
        s.add_all(people)
        s.flush()
        return {"ada": people[0].id, "bo": people[1].id}


def order(customer_id: int, lines: list[tuple[str, int]] | None = None, *, channel: str = "web",
          fulfilment: dict[str, Any] | None = None, payment: dict[str, Any] | None = None,
          **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "customer_id": customer_id,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in (lines or [("MILK", 2)])],
            "fulfilment": fulfilment or {"type": "pickup", "location_id": "store-a"},
            "payment": payment or {"status": "authorised", "method": "card"}, **extra}


def placed(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(ORDERS, headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def reserved(client: TestClient, headers: dict[str, str], location_id: str, sku: str) -> int:
    response = client.get(f"/api/v1/inventory/{location_id}/{sku}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["reserved"]


def assert_sound(db: Database) -> None:
    with db.read() as s:
        assert stock_violations(s) == []
        assert order_violations(s) == []


def count_orders(client: TestClient, headers: dict[str, str]) -> int:
    return len(client.get(ORDERS, headers=headers, params={"limit": 500}).json()["items"])


# --- shapes ---------------------------------------------------------------------------------------


def test_a_clean_order_answers_201_confirmed_at_catalogue_prices_with_its_reservation(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    body = placed(client, admin, order(shop["ada"], [("MILK", 2), ("SOAP", 1)]))

    assert isinstance(body["id"], int)
    assert (body["status"], body["hold_reasons"], body["channel"], body["customer_id"]) == (
        "confirmed", [], "web", shop["ada"])
    assert body["lines"] == [
        {"sku": "MILK", "name": "Product MILK", "quantity": 2, "unit_price": {"amount": "1.20", "currency": "EUR"},
         "total": {"amount": "2.40", "currency": "EUR"}, "channel": "web"},
        {"sku": "SOAP", "name": "Product SOAP", "quantity": 1, "unit_price": {"amount": "2.50", "currency": "EUR"},
         "total": {"amount": "2.50", "currency": "EUR"}, "channel": "web"}]
    assert body["total"] == {"amount": "4.90", "currency": "EUR"}
    assert body["fulfilment"] == {"type": "pickup", "location_id": "store-a", "address": None}
    assert body["payment"] == {"status": "authorised", "method": "card"}
    assert body["allocations"] == [{"location_id": "store-a", "sku": "MILK", "quantity": 2, "status": "active"},
                                   {"location_id": "store-a", "sku": "SOAP", "quantity": 1, "status": "active"}]
    assert client.get(f"{ORDERS}/{body['id']}", headers=admin).json() == body
    assert reserved(client, admin, "store-a", "MILK") == 2
    assert_sound(db)


def test_a_held_order_carries_its_reasons_and_waits_in_the_queue_until_confirmed(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    held = placed(client, admin, order(shop["ada"], fulfilment={"type": "delivery",
                                                                "address": {**HOME, "phone": "12"}}))
    placed(client, admin, order(shop["bo"]))

    assert held["status"] == "on_hold"
    assert held["hold_reasons"] == [{"code": "invalid_phone", "detail": "'12' is not a valid phone number in DE"}]
    queue = client.get(ORDERS, headers=admin, params={"status": "on_hold"}).json()
    assert [o["id"] for o in queue["items"]] == [held["id"]]
    assert queue["next_cursor"] is None

    confirmed = client.post(f"{ORDERS}/{held['id']}/confirm", headers=admin, json={"reason": "Called Ada"})

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert client.get(ORDERS, headers=admin, params={"status": "on_hold"}).json()["items"] == []
    assert_sound(db)


def test_cancelling_answers_the_cancelled_order_and_releases_its_units(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    body = placed(client, admin, order(shop["ada"], [("MILK", 3)]))

    response = client.post(f"{ORDERS}/{body['id']}/cancel", headers=admin, json={"reason": "Changed mind"})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["allocations"] == [{"location_id": "store-a", "sku": "MILK", "quantity": 3,
                                               "status": "released"}]
    assert reserved(client, admin, "store-a", "MILK") == 0
    assert_sound(db)


def test_the_timeline_lists_every_state_change_with_time_actor_channel_and_reason(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    body = placed(client, admin, order(shop["ada"], payment={"status": "pending"}))
    client.post(f"{ORDERS}/{body['id']}/cancel", headers=admin, json={"reason": "Never paid", "channel": "sms"})

    response = client.get(f"{ORDERS}/{body['id']}/timeline", headers=admin, params={"limit": 2})
    page = response.json()
    rest = client.get(f"{ORDERS}/{body['id']}/timeline", headers=admin, params={"cursor": page["next_cursor"]}).json()

    steps = [(e["from_status"], e["to_status"], e["channel"], e["reason"]) for e in page["items"] + rest["items"]]
    assert steps == [(None, "created", "web", None), ("created", "inspecting", "web", None),
                     ("inspecting", "on_hold", "web", None), ("on_hold", "cancelled", "sms", "Never paid")]
    assert {e["actor"].split(":")[0] for e in page["items"] + rest["items"]} == {"key"}
    assert {datetime.fromisoformat(e["at"]).utcoffset() for e in page["items"] + rest["items"]} == {timedelta(0)}
    assert rest["next_cursor"] is None
    kinds = [e["kind"] for e in client.get(f"/api/v1/customers/{shop['ada']}/timeline", headers=admin)
             .json()["items"]]
    assert kinds[:2] == ["order_cancelled", "order_created"]


def test_a_till_sale_is_recorded_completed_with_the_stock_taken(
        client: TestClient, db: Database, admin: dict[str, str], shop: dict[str, int]) -> None:
    till = bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-a"]))

    body = placed(client, till, order(shop["ada"], channel="pos", fulfilment={"type": "in_store",
                                                                              "location_id": "store-a"},
                                      payment={"status": "captured", "method": "cash"}))

    assert (body["status"], body["origin_location_id"]) == ("completed", "store-a")
    assert body["allocations"] == [{"location_id": "store-a", "sku": "MILK", "quantity": 2, "status": "consumed"}]
    level = client.get("/api/v1/inventory/store-a/MILK", headers=admin).json()
    assert (level["on_hand"], level["reserved"]) == (3, 0)
    assert_sound(db)


# --- who may do what ------------------------------------------------------------------------------


def test_orders_need_a_key(client: TestClient, shop: dict[str, int]) -> None:
    assert_problem(client.post(ORDERS, json=order(shop["ada"])), 401, "missing_key")
    assert_problem(client.get(ORDERS), 401, "missing_key")
    assert_problem(client.get(f"{ORDERS}/1", headers=bearer("omr_nope")), 401, "invalid_key")


def test_customers_order_and_see_only_for_themselves(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    ada = bearer(make_key(db, Role.CUSTOMER, customer_id=str(shop["ada"])))
    own = placed(client, ada, order(shop["ada"]))
    other = placed(client, admin, order(shop["bo"], [("SOAP", 1)]))

    assert_problem(client.post(ORDERS, headers=ada, json=order(shop["bo"])), 403, "not_your_profile")
    assert_problem(client.get(f"{ORDERS}/{other['id']}", headers=ada), 403, "order_out_of_scope")
    assert client.get(f"{ORDERS}/{own['id']}", headers=ada).status_code == 200
    assert [o["id"] for o in client.get(ORDERS, headers=ada).json()["items"]] == [own["id"]]
    assert_problem(client.post(f"{ORDERS}/{own['id']}/cancel", headers=ada), 403, "role_forbidden")
    assert_problem(client.post(ORDERS, headers=ada, json=order(
        shop["ada"], fulfilment={"type": "in_store", "location_id": "store-a"}, payment={"status": "captured"})),
        403, "role_forbidden")


def test_associates_see_and_change_only_orders_of_their_stores(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    at_b = bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-b"]))
    theirs = placed(client, at_b, order(shop["ada"]))  # taken at store-b, picked up at store-a
    elsewhere = placed(client, admin, order(shop["bo"], [("SOAP", 1)]))

    assert theirs["origin_location_id"] == "store-b"
    assert [o["id"] for o in client.get(ORDERS, headers=at_b).json()["items"]] == [theirs["id"]]
    assert_problem(client.get(f"{ORDERS}/{elsewhere['id']}", headers=at_b), 403, "order_out_of_scope")
    assert_problem(client.post(f"{ORDERS}/{elsewhere['id']}/cancel", headers=at_b), 403, "order_out_of_scope")
    assert_problem(client.post(ORDERS, headers=at_b, json=order(shop["ada"], origin_location_id="store-a")),
                   403, "location_out_of_scope")
    assert client.post(f"{ORDERS}/{theirs['id']}/cancel", headers=at_b).status_code == 200


def test_agents_place_orders_from_the_call_centre_read_confirm_and_cancel_but_record_no_till_sales(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    agent = bearer(make_key(db, Role.AGENT))
    held = placed(client, admin, order(shop["ada"], payment={"status": "pending"}))

    by_phone = client.post(ORDERS, headers=agent, json=order(shop["ada"], [("MILK", 1)], channel="call_centre"))
    assert by_phone.status_code == 201, by_phone.text
    assert (by_phone.json()["channel"], by_phone.json()["status"]) == ("call_centre", "confirmed")
    till = order(shop["ada"], fulfilment={"type": "in_store", "location_id": "store-a"},
                 payment={"status": "captured", "method": "cash"})
    assert_problem(client.post(ORDERS, headers=agent, json=till), 403, "role_forbidden")
    assert client.get(f"{ORDERS}/{held['id']}", headers=agent).status_code == 200
    assert client.post(f"{ORDERS}/{held['id']}/confirm", headers=agent).json()["status"] == "confirmed"
    assert client.post(f"{ORDERS}/{held['id']}/cancel", headers=agent).json()["status"] == "cancelled"


def test_an_integration_key_places_and_sees_orders_of_its_own_channel_only(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    marketplace = bearer(make_key(db, Role.INTEGRATION, channel="marketplace"))
    web_order = placed(client, admin, order(shop["bo"], [("SOAP", 1)]))

    own = placed(client, marketplace, order(shop["ada"], channel="marketplace"))

    assert_problem(client.post(ORDERS, headers=marketplace, json=order(shop["ada"], channel="web")), 403,
                   "channel_out_of_scope")
    assert [o["id"] for o in client.get(ORDERS, headers=marketplace).json()["items"]] == [own["id"]]
    assert_problem(client.get(f"{ORDERS}/{web_order['id']}", headers=marketplace), 403, "order_out_of_scope")
    assert_problem(client.post(f"{ORDERS}/{own['id']}/confirm", headers=marketplace), 403, "role_forbidden")


# --- bad input ------------------------------------------------------------------------------------

BAD_ORDERS: dict[str, tuple[dict[str, Any], int, str, list[str]]] = {
    "unknown-sku": ({"lines": [{"sku": "NOPE", "quantity": 1}]}, 422, "unknown_sku", ["lines.0.sku"]),
    "zero-quantity": ({"lines": [{"sku": "MILK", "quantity": 0}]}, 422, "invalid_quantity", ["lines.0.quantity"]),
    "negative-quantity": ({"lines": [{"sku": "MILK", "quantity": -1}]}, 422, "invalid_quantity",
                          ["lines.0.quantity"]),
    "no-lines": ({"lines": []}, 422, "empty_order", ["lines"]),
    "client-price": ({"lines": [{"sku": "MILK", "quantity": 1, "price": {"amount": "0.01", "currency": "EUR"}}]},
                     422, "price_not_accepted", ["lines.0.price"]),
    "client-unit-price": ({"lines": [{"sku": "MILK", "quantity": 1, "unit_price": "0.01"}]}, 422,
                          "price_not_accepted", ["lines.0.unit_price"]),
    "client-total": ({"total": {"amount": "0.01", "currency": "EUR"}}, 422, "price_not_accepted", ["total"]),
    "pickup-without-pickup": ({"fulfilment": {"type": "pickup", "location_id": "store-b"}}, 422,
                              "pickup_not_offered", ["fulfilment.location_id"]),
    "pickup-nowhere": ({"fulfilment": {"type": "pickup", "location_id": "atlantis"}}, 422, "unknown_location",
                       ["fulfilment.location_id"]),
    "pickup-no-store": ({"fulfilment": {"type": "pickup"}}, 422, "location_required", ["fulfilment.location_id"]),
    "delivery-no-address": ({"fulfilment": {"type": "delivery"}}, 422, "address_required", ["fulfilment.address"]),
    "unknown-customer": ({"customer_id": 999_999}, 422, "unknown_customer", ["customer_id"]),
    "unknown-channel": ({"channel": "carrier-pigeon"}, 422, "unknown_channel", ["channel"]),
    "cash-on-delivery": ({"fulfilment": {"type": "delivery", "address": HOME},
                          "payment": {"status": "cash_on_pickup"}}, 422, "invalid_payment", ["payment.status"]),
    "till-unpaid": ({"fulfilment": {"type": "in_store", "location_id": "store-a"}}, 422, "payment_not_captured",
                    ["payment.status"]),
    "unknown-payment-state": ({"payment": {"status": "maybe"}}, 422, "validation_error", ["payment.status"]),
    "unknown-fulfilment": ({"fulfilment": {"type": "teleport"}}, 422, "validation_error", ["fulfilment.type"]),
    "short-stock": ({"lines": [{"sku": "MILK", "quantity": 2}, {"sku": "SOAP", "quantity": 3}]}, 409,
                    "insufficient_stock", []),
}


@pytest.mark.parametrize(("change", "status", "code", "fields"), BAD_ORDERS.values(), ids=BAD_ORDERS)
def test_a_bad_order_is_refused_with_its_code_and_nothing_is_written(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int], change: dict[str, Any],
        status: int, code: str, fields: list[str]) -> None:
    body = {**order(shop["ada"]), **change}

    problem = assert_problem(client.post(ORDERS, headers=admin, json=body), status, code)

    if fields:
        assert error_fields(problem) == fields
    assert count_orders(client, admin) == 0
    assert reserved(client, admin, "store-a", "MILK") == 0
    assert_sound(db)


def test_a_short_order_names_the_short_lines_and_what_is_available(
        client: TestClient, admin: dict[str, str], shop: dict[str, int]) -> None:
    problem = assert_problem(client.post(ORDERS, headers=admin, json=order(shop["ada"], [("SOAP", 3)])), 409,
                             "insufficient_stock")

    assert problem["short"] == [{"location_id": "store-a", "sku": "SOAP", "requested": 3, "available": 2}]


def test_confirming_a_confirmed_order_is_an_illegal_transition(
        client: TestClient, admin: dict[str, str], shop: dict[str, int]) -> None:
    body = placed(client, admin, order(shop["ada"]))

    problem = assert_problem(client.post(f"{ORDERS}/{body['id']}/confirm", headers=admin), 409, "illegal_transition")

    assert (problem["status_from"], problem["status_to"]) == ("confirmed", "confirmed")
    client.post(f"{ORDERS}/{body['id']}/cancel", headers=admin)
    assert_problem(client.post(f"{ORDERS}/{body['id']}/cancel", headers=admin), 409, "illegal_transition")


def test_an_unknown_order_is_404(client: TestClient, admin: dict[str, str], shop: dict[str, int]) -> None:
    assert_problem(client.get(f"{ORDERS}/424242", headers=admin), 404, "unknown_order")
    assert_problem(client.post(f"{ORDERS}/424242/cancel", headers=admin), 404, "unknown_order")
    assert_problem(client.get(f"{ORDERS}/424242/timeline", headers=admin), 404, "unknown_order")


def test_an_unknown_status_filter_is_a_validation_error(client: TestClient, admin: dict[str, str]) -> None:
    assert_problem(client.get(ORDERS, headers=admin, params={"status": "lost"}), 422, "validation_error")


# --- Idempotency-Key ------------------------------------------------------------------------------


def post_keyed(client: TestClient, headers: dict[str, str], key: str, body: dict[str, Any]) -> Response:
    return client.post(ORDERS, headers={**headers, "Idempotency-Key": key}, json=body)


def test_an_order_retried_with_the_same_key_is_placed_once_and_answered_the_same(
        client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, int]) -> None:
    first = post_keyed(client, admin, "checkout-1", order(shop["ada"]))
    again = post_keyed(client, admin, "checkout-1", order(shop["ada"]))

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_orders(client, admin) == 1
    assert reserved(client, admin, "store-a", "MILK") == 2
    assert_sound(db)


def test_the_same_key_with_another_body_is_409(client: TestClient, admin: dict[str, str],
                                               shop: dict[str, int]) -> None:
    post_keyed(client, admin, "checkout-2", order(shop["ada"]))

    assert_problem(post_keyed(client, admin, "checkout-2", order(shop["ada"], [("MILK", 3)])), 409,
                   "idempotency_key_reused")
    assert count_orders(client, admin) == 1


def test_a_refused_order_retried_with_its_key_is_refused_the_same_even_after_restocking(
        client: TestClient, admin: dict[str, str], shop: dict[str, int]) -> None:
    first = post_keyed(client, admin, "checkout-3", order(shop["ada"], [("SOAP", 3)]))
    client.post("/api/v1/inventory/receipts", headers=admin, json={"location_id": "store-a", "sku": "SOAP",
                                                                   "quantity": 5, "lot": "L2"})
    again = post_keyed(client, admin, "checkout-3", order(shop["ada"], [("SOAP", 3)]))

    assert (first.status_code, again.status_code) == (409, 409)
    assert again.json() == first.json()
    assert count_orders(client, admin) == 0
