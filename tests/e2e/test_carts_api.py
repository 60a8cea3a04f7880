"""Carts over HTTP: one cart on every channel, anonymous carts that join on identification, QR codes, holds,
checkout with Idempotency-Key, roles, and every bad input answered 4xx with a stable code."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import segno
from fastapi.testclient import TestClient

from omniretail.carts.api import cart_code_url, qr_code
from omniretail.core.db import Database
from omniretail.core.security import Role
from tests.conftest import bearer, make_key
from tests.helpers import assert_problem, error_fields

CARTS = "/api/v1/carts"
ALWAYS_OPEN = "mon-sun 00:00-24:00"
PAID = {"status": "authorised", "method": "card"}
PICKUP_A = {"type": "pickup", "location_id": "store-a"}
HOME = {"name": "Ada Lovelace", "line1": "Torstraße 1", "city": "Berlin", "postcode": "10119", "country": "DE",
        "phone": "+49 30 1234567"}


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str]) -> None:
    """store-a (pickup) has 5 soap and 2 rice; the warehouse (no pickup) has 50 rice."""
    for sku, price in (("SOAP", "2.50"), ("RICE", "4.00")):
        assert client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": sku.title(), "price": {"amount": price, "currency": "EUR"}}).status_code == 201
    for id_, type_, pickup in (("store-a", "store", True), ("wh", "warehouse", False)):
        assert client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": id_, "type": type_, "lat": 52.5, "lon": 13.4, "timezone": "Europe/Berlin",
            "pickup": pickup, "opening_hours": ALWAYS_OPEN}).status_code == 201
    for location_id, sku, quantity in (("store-a", "SOAP", 5), ("store-a", "RICE", 2), ("wh", "RICE", 50)):
        assert client.post("/api/v1/inventory/receipts", headers=admin, json={
            "location_id": location_id, "sku": sku, "quantity": quantity}).status_code == 201


def identify(client: TestClient, headers: dict[str, str], *identities: tuple[str, str], channel: str = "web") -> int:
    response = client.post("/api/v1/customers/identify", headers=headers, json={
        "channel": channel, "identities": [{"type": t, "value": v} for t, v in identities]})
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def customer_key(db: Database, customer_id: int) -> dict[str, str]:
    return bearer(make_key(db, Role.CUSTOMER, customer_id=str(customer_id)))


def cart_of(client: TestClient, headers: dict[str, str], customer_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/customers/{customer_id}/cart", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def add(client: TestClient, headers: dict[str, str], cart_id: int, sku: str, quantity: int = 1,
        **more: Any) -> dict[str, Any]:
    response = client.post(f"{CARTS}/{cart_id}/items", headers=headers, json={"sku": sku, "quantity": quantity,
                                                                             **more})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def ada(client: TestClient, admin: dict[str, str], shop: None) -> int:
    return identify(client, admin, ("email", "ada@example.com"))


# --- one cart, every channel ------------------------------------------------------------------------------


def test_a_customer_has_the_same_cart_on_every_channel(client, db, admin, ada):
    callers = [admin, customer_key(db, ada), bearer(make_key(db, Role.INTEGRATION, channel="web")),
               bearer(make_key(db, Role.INTEGRATION, channel="app")), bearer(make_key(db, Role.AGENT)),
               bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-a"]))]

    carts = [cart_of(client, headers, ada) for headers in callers]

    assert len({c["id"] for c in carts}) == 1
    first = carts[0]
    assert (first["status"], first["customer_id"], first["lines"], first["item_count"], first["total"]) == \
        ("active", ada, [], 0, {"amount": "0.00", "currency": "EUR"})
    assert first["qr_url"] == f"http://testserver/api/v1/carts/{first['id']}/qr"


def test_an_added_item_is_priced_by_the_catalogue_and_shows_live_availability(client, admin, ada):
    cart = cart_of(client, admin, ada)["id"]

    body = add(client, admin, cart, "SOAP", 2, channel="app")

    line = body["lines"][0]
    assert {k: line[k] for k in ("sku", "name", "quantity", "channel", "unit_price", "line_total", "fulfilment",
                                 "availability")} == {
        "sku": "SOAP", "name": "Soap", "quantity": 2, "channel": "app",
        "unit_price": {"amount": "2.50", "currency": "EUR"}, "line_total": {"amount": "5.00", "currency": "EUR"},
        "fulfilment": None, "availability": {"location_id": None, "available": None, "network": 5, "enough": True}}
    assert body["total"] == {"amount": "5.00", "currency": "EUR"}

    chosen = client.patch(f"{CARTS}/{cart}", headers=admin, json={"pickup_location_id": "store-a"})
    assert chosen.status_code == 200
    assert chosen.json()["lines"][0]["availability"] == {"location_id": "store-a", "available": 5, "network": 5,
                                                         "enough": True}


def test_the_same_sku_adds_up_and_the_line_keeps_the_channel_that_added_it(client, admin, ada):
    cart = cart_of(client, admin, ada)["id"]
    add(client, admin, cart, "RICE", 1, channel="call_centre")

    body = add(client, admin, cart, "RICE", 3, channel="pos")

    assert [(x["sku"], x["quantity"], x["channel"]) for x in body["lines"]] == [("RICE", 4, "call_centre")]
    assert body["lines"][0]["availability"] == {"location_id": None, "available": None, "network": 52,
                                                "enough": True}


def test_a_line_is_changed_sent_elsewhere_and_removed(client, admin, ada):
    cart = cart_of(client, admin, ada)["id"]
    line = add(client, admin, cart, "RICE", 1)["lines"][0]["id"]

    changed = client.patch(f"{CARTS}/{cart}/items/{line}", headers=admin, json={
        "quantity": 4, "fulfilment": {"type": "pickup", "location_id": "store-a"}})
    assert changed.status_code == 200
    assert {k: changed.json()["lines"][0][k] for k in ("quantity", "fulfilment", "availability")} == {
        "quantity": 4, "fulfilment": {"type": "pickup", "location_id": "store-a"},
        "availability": {"location_id": "store-a", "available": 2, "network": 52, "enough": False}}

    delivered = client.patch(f"{CARTS}/{cart}/items/{line}", headers=admin, json={"fulfilment": {"type": "delivery"}})
    assert delivered.json()["lines"][0]["availability"]["enough"] is True

    removed = client.delete(f"{CARTS}/{cart}/items/{line}", headers=admin)
    assert (removed.status_code, removed.json()["lines"]) == (200, [])


# --- anonymous carts ---------------------------------------------------------------------------------------


def test_an_anonymous_cart_joins_the_customers_cart_when_identify_links_the_device(client, db, admin, ada):
    app = bearer(make_key(db, Role.INTEGRATION, channel="app"))
    mine = cart_of(client, admin, ada)["id"]
    add(client, admin, mine, "SOAP", 1, channel="web")
    opened = client.post(CARTS, headers=app, json={"device_id": "phone-1"})
    assert (opened.status_code, opened.json()["customer_id"], opened.json()["device_id"]) == (201, None, "phone-1")
    anonymous = opened.json()["id"]
    assert client.post(CARTS, headers=app, json={"device_id": "phone-1"}).json()["id"] == anonymous
    add(client, app, anonymous, "SOAP", 2)
    add(client, app, anonymous, "RICE", 1)

    assert identify(client, app, ("email", "ada@example.com"), ("device_id", "phone-1"), channel="app") == ada

    joined = cart_of(client, customer_key(db, ada), ada)
    assert joined["id"] == mine
    assert [(x["sku"], x["quantity"], x["channel"]) for x in joined["lines"]] == [("SOAP", 3, "web"),
                                                                                  ("RICE", 1, "app")]
    old = client.get(f"{CARTS}/{anonymous}", headers=app).json()
    assert (old["id"], old["requested_id"]) == (mine, anonymous)


def test_an_associate_gives_a_walk_in_cart_to_the_customer_they_looked_up(client, db, admin, ada):
    associate = bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-a"]))
    walk_in = client.post(CARTS, headers=associate, json={})
    assert (walk_in.status_code, walk_in.json()["channel"], walk_in.json()["device_id"]) == (201, "pos", None)
    add(client, associate, walk_in.json()["id"], "SOAP", 2)

    assigned = client.post(f"{CARTS}/{walk_in.json()['id']}/assign", headers=associate, json={"customer_id": ada})

    assert assigned.status_code == 200
    body = assigned.json()
    assert (body["customer_id"], [(x["sku"], x["quantity"], x["channel"]) for x in body["lines"]]) == \
        (ada, [("SOAP", 2, "pos")])
    assert cart_of(client, admin, ada)["id"] == body["id"]


# --- QR codes ---------------------------------------------------------------------------------------------


def _png(url: str) -> bytes:
    buffer = io.BytesIO()
    qr_code(url).save(buffer, kind="png", scale=6)
    return buffer.getvalue()


def test_the_qr_code_encodes_the_url_that_opens_the_cart(client, db, admin, ada):
    cart = cart_of(client, admin, ada)
    url = cart_code_url("http://testserver/", cart["token"])
    assert url == f"http://testserver/api/v1/carts/by-code/{cart['token']}"

    svg = client.get(f"{CARTS}/{cart['id']}/qr", headers=customer_key(db, ada))
    png = client.get(f"{CARTS}/{cart['id']}/qr", params={"format": "png"}, headers=admin)

    assert (svg.status_code, svg.headers["content-type"]) == (200, "image/svg+xml")
    assert ET.fromstring(svg.content).tag == "{http://www.w3.org/2000/svg}svg"
    # segno draws one URL one way: the answer is the code of exactly this URL (segno cannot decode)
    expected = io.BytesIO()
    qr_code(url).save(expected, kind="svg", scale=6, title=f"Cart {cart['id']}", xmldecl=True)
    assert svg.content == expected.getvalue()
    assert qr_code(url).matrix != segno.make(url + "x", error="m", boost_error=False).matrix
    assert (png.status_code, png.headers["content-type"], png.content[:8]) == (200, "image/png", b"\x89PNG\r\n\x1a\n")
    assert png.content == _png(url)

    scanned = client.get(url.removeprefix("http://testserver"), headers=bearer(make_key(
        db, Role.ASSOCIATE, location_ids=["store-a"])))
    assert (scanned.status_code, scanned.json()["id"], scanned.json()["customer_id"]) == (200, cart["id"], ada)


# --- holds and checkout -----------------------------------------------------------------------------------


def test_a_hold_reserves_the_lines_for_minutes_and_is_released_on_request(client, admin, ada):
    cart = cart_of(client, admin, ada)["id"]
    add(client, admin, cart, "SOAP", 2, fulfilment=PICKUP_A)

    held = client.post(f"{CARTS}/{cart}/hold", headers=admin, json={"minutes": 10})

    assert held.status_code == 200
    hold = held.json()["hold"]
    assert (hold["active"], [(r["location_id"], r["sku"], r["quantity"]) for r in hold["reservations"]]) == \
        (True, [("store-a", "SOAP", 2)])
    assert client.get("/api/v1/inventory/store-a/SOAP", headers=admin).json()["reserved"] == 2
    released = client.delete(f"{CARTS}/{cart}/hold", headers=admin)
    assert (released.status_code, released.json()["hold"]) == (200, None)
    assert client.get("/api/v1/inventory/store-a/SOAP", headers=admin).json()["reserved"] == 0


def test_a_hold_short_of_stock_is_409_and_reserves_nothing(client, admin, ada):
    cart = cart_of(client, admin, ada)["id"]
    add(client, admin, cart, "SOAP", 1, fulfilment=PICKUP_A)
    add(client, admin, cart, "RICE", 3, fulfilment=PICKUP_A)

    body = assert_problem(client.post(f"{CARTS}/{cart}/hold", headers=admin), 409, "insufficient_stock")

    assert body["short"] == [{"location_id": "store-a", "sku": "RICE", "requested": 3, "available": 2}]
    assert client.get("/api/v1/inventory/store-a/SOAP", headers=admin).json()["reserved"] == 0


def test_checkout_makes_an_order_once_per_idempotency_key(client, db, admin, ada):
    me = customer_key(db, ada)
    cart = cart_of(client, me, ada)["id"]
    add(client, me, cart, "SOAP", 2)
    body = {"fulfilment": PICKUP_A, "payment": PAID}
    key = {**me, "Idempotency-Key": "checkout-1"}

    first = client.post(f"{CARTS}/{cart}/checkout", headers=key, json=body)
    again = client.post(f"{CARTS}/{cart}/checkout", headers=key, json=body)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (201, first.json(), "true")
    done = first.json()
    assert (done["cart"]["status"], done["cart"]["order_ids"]) == ("checked_out", [str(done["orders"][0]["id"])])
    order = done["orders"][0]
    assert (order["customer_id"], order["cart_id"], order["total"], order["fulfilment"]["location_id"]) == \
        (ada, str(cart), {"amount": "5.00", "currency": "EUR"}, "store-a")
    assert [(x["sku"], x["quantity"], x["channel"]) for x in order["lines"]] == [("SOAP", 2, "web")]
    assert_problem(client.post(f"{CARTS}/{cart}/checkout", headers=key, json={**body, "channel": "app"}),
                   409, "idempotency_key_reused")
    assert_problem(client.post(f"{CARTS}/{cart}/checkout", headers=me, json=body), 409, "cart_not_active")
    fresh = cart_of(client, me, ada)
    assert (fresh["id"] != cart, fresh["lines"]) == (True, [])


def test_checkout_short_of_stock_is_409_and_the_cart_stays_as_it_was(client, admin, ada):
    cart = cart_of(client, admin, ada)["id"]
    before = add(client, admin, cart, "RICE", 3)

    assert_problem(client.post(f"{CARTS}/{cart}/checkout", headers=admin, json={
        "fulfilment": PICKUP_A, "payment": PAID}), 409, "insufficient_stock")

    after = client.get(f"{CARTS}/{cart}", headers=admin).json()
    assert (after["status"], after["lines"]) == ("active", before["lines"])
    assert client.get("/api/v1/inventory/store-a/RICE", headers=admin).json()["reserved"] == 0


def test_an_endless_aisle_checkout_answers_an_order_per_way_of_fulfilment(client, db, ada):
    associate = bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-a"]))
    cart = cart_of(client, associate, ada)["id"]
    add(client, associate, cart, "SOAP", 1)
    add(client, associate, cart, "RICE", 10, fulfilment={"type": "delivery"})

    done = client.post(f"{CARTS}/{cart}/checkout", headers=associate, json={
        "fulfilment": {"type": "in_store", "location_id": "store-a"}, "delivery_address": HOME,
        "payment": {"status": "captured", "method": "card"}})

    assert done.status_code == 201, done.text
    assert [(o["fulfilment"]["type"], o["status"], o["channel"], o["total"]["amount"]) for o in done.json()["orders"]] \
        == [("in_store", "completed", "pos", "2.50"), ("delivery", "confirmed", "pos", "40.00")]


# --- roles ------------------------------------------------------------------------------------------------


def test_every_cart_call_without_a_key_is_401(client, admin, ada):
    cart = cart_of(client, admin, ada)
    calls = [client.get(f"/api/v1/customers/{ada}/cart"), client.post(CARTS, json={}),
             client.get(f"{CARTS}/{cart['id']}"), client.get(f"{CARTS}/by-code/{cart['token']}"),
             client.post(f"{CARTS}/{cart['id']}/items", json={"sku": "SOAP"}),
             client.get(f"{CARTS}/{cart['id']}/qr"), client.post(f"{CARTS}/{cart['id']}/hold"),
             client.post(f"{CARTS}/{cart['id']}/checkout", json={"payment": PAID})]
    for response in calls:
        assert_problem(response, 401, "missing_key")


def test_a_customer_key_reaches_only_its_own_cart(client, db, admin, ada):
    grace = identify(client, admin, ("email", "grace@example.com"))
    theirs = customer_key(db, grace)
    cart = cart_of(client, admin, ada)
    anonymous = client.post(CARTS, headers=admin, json={"device_id": "kiosk-1"}).json()["id"]
    calls = [client.get(f"/api/v1/customers/{ada}/cart", headers=theirs),
             client.get(f"{CARTS}/{cart['id']}", headers=theirs),
             client.get(f"{CARTS}/by-code/{cart['token']}", headers=theirs),
             client.post(f"{CARTS}/{cart['id']}/items", headers=theirs, json={"sku": "SOAP"}),
             client.get(f"{CARTS}/{cart['id']}/qr", headers=theirs),
             client.post(f"{CARTS}/{cart['id']}/hold", headers=theirs),
             client.post(f"{CARTS}/{cart['id']}/checkout", headers=theirs, json={"payment": PAID}),
             client.post(CARTS, headers=theirs, json={"customer_id": ada}),
             client.post(CARTS, headers=theirs, json={"device_id": "kiosk-1"}),
             client.get(f"{CARTS}/{anonymous}", headers=theirs)]
    for response in calls:
        assert_problem(response, 403, "not_your_cart")
    assert_problem(client.post(f"{CARTS}/{anonymous}/assign", headers=theirs, json={"customer_id": grace}),
                   403, "role_forbidden")
    assert client.get(f"{CARTS}/{cart['id']}", headers=admin).json()["lines"] == []


def test_an_integration_key_speaks_only_for_its_own_channel(client, db, admin, ada):
    app = bearer(make_key(db, Role.INTEGRATION, channel="app"))
    cart = cart_of(client, admin, ada)["id"]

    assert_problem(client.post(f"{CARTS}/{cart}/items", headers=app, json={"sku": "SOAP", "channel": "web"}),
                   403, "channel_out_of_scope")
    assert add(client, app, cart, "SOAP")["lines"][0]["channel"] == "app"


# --- bad input --------------------------------------------------------------------------------------------

BAD_ITEMS = {
    "unknown-sku": ({"sku": "NOPE", "quantity": 1}, 422, "unknown_sku", "sku"),
    "zero-quantity": ({"sku": "SOAP", "quantity": 0}, 422, "validation_error", "quantity"),
    "negative-quantity": ({"sku": "SOAP", "quantity": -2}, 422, "validation_error", "quantity"),
    "too-many": ({"sku": "SOAP", "quantity": 10_000}, 422, "validation_error", "quantity"),
    "client-price": ({"sku": "SOAP", "price": {"amount": "0.01", "currency": "EUR"}}, 422, "price_not_accepted",
                     "price"),
    "unknown-field": ({"sku": "SOAP", "discount": 50}, 422, "validation_error", "discount"),
    "pickup-without-pickup": ({"sku": "SOAP", "fulfilment": {"type": "pickup", "location_id": "wh"}}, 422,
                              "pickup_not_offered", "fulfilment.location_id"),
    "pickup-nowhere": ({"sku": "SOAP", "fulfilment": {"type": "pickup"}}, 422, "location_required",
                       "fulfilment.location_id"),
    "pickup-unknown-store": ({"sku": "SOAP", "fulfilment": {"type": "pickup", "location_id": "mars"}}, 422,
                             "unknown_location", "fulfilment.location_id"),
    "delivery-from-a-store": ({"sku": "SOAP", "fulfilment": {"type": "delivery", "location_id": "store-a"}}, 422,
                              "invalid_fulfilment", "fulfilment.location_id"),
    "unknown-channel": ({"sku": "SOAP", "channel": "fax"}, 422, "unknown_channel", "channel"),
}


@pytest.mark.parametrize("case", list(BAD_ITEMS))
def test_a_bad_item_is_refused_with_a_stable_code_and_nothing_added(client, admin, ada, case):
    body, status, code, field = BAD_ITEMS[case]
    cart = cart_of(client, admin, ada)["id"]

    problem = assert_problem(client.post(f"{CARTS}/{cart}/items", headers=admin, json=body), status, code)

    assert field in error_fields(problem)
    if case == "client-price":
        assert [e["code"] for e in problem["errors"]] == ["price_not_accepted"]
    assert client.get(f"{CARTS}/{cart}", headers=admin).json()["lines"] == []


def test_other_bad_requests_are_refused_with_stable_codes(client, db, admin, ada):
    cart = cart_of(client, admin, ada)
    anonymous = client.post(CARTS, headers=admin, json={"device_id": "kiosk-2"}).json()["id"]
    add(client, admin, anonymous, "SOAP")
    checkout = {"fulfilment": PICKUP_A, "payment": PAID}
    cases = [
        (client.get(f"{CARTS}/999999", headers=admin), 404, "unknown_cart"),
        (client.get(f"{CARTS}/by-code/{'x' * 32}", headers=admin), 404, "unknown_cart"),
        (client.get("/api/v1/customers/999999/cart", headers=admin), 404, "unknown_customer"),
        (client.patch(f"{CARTS}/{cart['id']}/items/999999", headers=admin, json={"quantity": 2}), 404,
         "unknown_cart_line"),
        (client.delete(f"{CARTS}/{cart['id']}/items/999999", headers=admin), 404, "unknown_cart_line"),
        (client.patch(f"{CARTS}/{cart['id']}", headers=admin, json={"pickup_location_id": "wh"}), 422,
         "pickup_not_offered"),
        (client.post(f"{CARTS}/{cart['id']}/checkout", headers=admin, json=checkout), 422, "empty_cart"),
        (client.post(f"{CARTS}/{cart['id']}/hold", headers=admin), 422, "empty_cart"),
        (client.post(f"{CARTS}/{cart['id']}/hold", headers=admin, json={"minutes": 0}), 422, "validation_error"),
        (client.post(f"{CARTS}/{cart['id']}/checkout", headers=admin, json={**checkout, "total": "0.01"}), 422,
         "validation_error"),
        (client.post(f"{CARTS}/{anonymous}/checkout", headers=admin, json=checkout), 409, "anonymous_cart"),
        (client.post(f"{CARTS}/{anonymous}/assign", headers=admin, json={"customer_id": 999999}), 404,
         "unknown_customer"),
        (client.post(CARTS, headers=admin, json={"device_id": "not a device!"}), 422, "invalid_identity"),
        (client.post(f"{CARTS}/{cart['id']}/checkout", headers={**admin, "Idempotency-Key": " "}, json=checkout),
         422, "invalid_idempotency_key"),
    ]
    for response, status, code in cases:
        assert_problem(response, status, code)


def test_a_checked_out_cart_takes_no_more_changes(client, admin, ada):
    cart = cart_of(client, admin, ada)["id"]
    line = add(client, admin, cart, "SOAP")["lines"][0]["id"]
    assert client.post(f"{CARTS}/{cart}/checkout", headers=admin, json={"fulfilment": PICKUP_A,
                                                                        "payment": PAID}).status_code == 201

    for response in (client.post(f"{CARTS}/{cart}/items", headers=admin, json={"sku": "SOAP"}),
                     client.patch(f"{CARTS}/{cart}/items/{line}", headers=admin, json={"quantity": 3}),
                     client.post(f"{CARTS}/{cart}/hold", headers=admin)):
        assert_problem(response, 409, "cart_not_active")
    closed = client.get(f"{CARTS}/{cart}", headers=admin).json()
    assert (closed["status"], closed["lines"][0]["quantity"], closed["lines"][0]["availability"]) == \
        ("checked_out", 1, None)
