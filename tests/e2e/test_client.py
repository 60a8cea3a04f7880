"""The typed client (`omniretail.client`): the main resources end to end against the app in-process and against
a real `omniretail serve`, refusals as `ProblemError`, `Idempotency-Key` where the API takes one, and
`omniretail pos sync` uploading a batch through it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from omniretail.carts.schemas import CartOut, CheckoutOut
from omniretail.catalog.schemas import ProductIn, ProductList, ProductOut
from omniretail.client import Client, ProblemError
from omniretail.core.db import Database
from omniretail.core.security import Role
from omniretail.customers.schemas import ProfileOut
from omniretail.fulfilment.schemas import FulfilmentOut, ReturnOut
from omniretail.integration.pos_schemas import PosSyncOut
from omniretail.inventory.schemas import CountOut, LevelOut, ReceiptOut
from omniretail.locations.schemas import LocationOut
from omniretail.orders.schemas import OrderList, OrderOut
from tests.conftest import make_key
from tests.helpers import api_client, served

PICKUP = {"type": "pickup", "location_id": "store-a"}
PAID = {"status": "authorised", "method": "card"}


def stock_a_shop(api: Client) -> int:
    """Milk and soap at a store and a warehouse; returns the id of customer Ada."""
    for sku, price in (("MILK", "1.20"), ("SOAP", "2.50")):
        api.create_product(ProductIn(sku=sku, name=f"Product {sku}", price={"amount": price, "currency": "EUR"}))
    for id_, type_ in (("store-a", "store"), ("wh", "warehouse")):
        api.create_location({"id": id_, "name": f"Location {id_}", "type": type_, "lat": 51.3, "lon": 9.5,
                             "pickup": type_ == "store", "ship_from_store": True})
    for location_id, sku in (("store-a", "MILK"), ("store-a", "SOAP"), ("wh", "MILK")):
        api.receive({"location_id": location_id, "sku": sku, "quantity": 5, "lot": "L1"})
    return api.identify({"channel": "web", "identities": [{"type": "email", "value": "ada@example.com"}],
                         "attributes": {"given_name": "Ada"}}).id


@pytest.fixture
def api(client: TestClient, admin: dict[str, str]) -> Client:
    return api_client(client, admin["Authorization"].removeprefix("Bearer "))


def test_the_client_answers_with_each_domains_response_models(api: Client) -> None:
    ada = stock_a_shop(api)

    assert isinstance(api.get_product("MILK"), ProductOut) and api.get_product("MILK").price.amount == "1.20"
    found = api.list_products(q="soap")
    assert isinstance(found, ProductList) and [p.sku for p in found.items] == ["SOAP"]
    assert isinstance(api.get_location("store-a"), LocationOut)
    assert [x.id for x in api.iterate(api.list_locations, limit=1)] == ["store-a", "wh"]
    level = api.adjust({"location_id": "store-a", "sku": "SOAP", "quantity": -1, "reason": "damage"})
    assert isinstance(level, LevelOut) and (level.on_hand, level.available) == (4, 4)
    counted = api.count({"location_id": "store-a", "lines": [{"sku": "SOAP", "counted": 3}]})
    assert isinstance(counted, CountOut) and [(x.expected, x.variance) for x in counted.lines] == [(4, -1)]
    assert api.level("store-a", "SOAP").on_hand == 3
    assert api.availability("MILK").available == 10
    customer = api.get_customer(ada)
    assert isinstance(customer, ProfileOut) and (customer.given_name, customer.email) == ("Ada", "ada@example.com")

    cart = api.open_cart({"customer_id": ada})
    assert isinstance(cart, CartOut)
    api.add_cart_item(cart.id, {"sku": "SOAP", "quantity": 1})
    assert [line.sku for line in api.customer_cart(ada).lines] == ["SOAP"]
    checked_out = api.checkout_cart(cart.id, {"fulfilment": PICKUP, "payment": PAID})
    assert isinstance(checked_out, CheckoutOut) and [o.status for o in checked_out.orders] == ["confirmed"]

    order = api.place_order({"channel": "web", "customer_id": ada, "lines": [{"sku": "MILK", "quantity": 2}],
                             "fulfilment": PICKUP, "payment": PAID})
    assert isinstance(order, OrderOut) and (order.status, order.total.amount) == ("confirmed", "2.40")
    assert api.get_order(order.id).id == order.id
    listed = api.list_orders(customer_id=ada)
    assert isinstance(listed, OrderList) and [o.id for o in listed.items] == [checked_out.orders[0].id, order.id]
    assert api.cancel_order(checked_out.orders[0].id, {"reason": "changed mind"}).status == "cancelled"


def test_the_client_takes_an_order_through_fulfilment_a_return_webhooks_and_a_pos_sync(api: Client) -> None:
    ada = stock_a_shop(api)
    order = api.place_order({"channel": "web", "customer_id": ada, "lines": [{"sku": "MILK", "quantity": 2}],
                             "fulfilment": PICKUP, "payment": PAID})

    [made] = api.release_order(order.id).items
    assert [f.id for f in api.order_fulfilments(order.id).items] == [made.id]
    assert api.pick(made.id).status == "picking"
    ready = api.ready(made.id)
    assert isinstance(ready, FulfilmentOut) and ready.pickup_code is not None
    assert api.collect_pickup(ready.pickup_code).status == "collected"
    assert api.get_order(order.id).status == "completed"
    returned = api.create_return({"order_id": order.id, "location_id": "store-a", "channel": "pos",
                                  "lines": [{"sku": "MILK", "quantity": 1}]})
    assert isinstance(returned, ReturnOut) and returned.refund.amount == "1.20"
    assert api.get_return(returned.id) == returned

    hook = api.create_webhook({"url": "http://127.0.0.1:9/events", "events": ["pos.*"],
                               "secret": "a-long-enough-webhook-secret"})
    assert [w.id for w in api.list_webhooks().items] == [hook.id]
    assert set(api.get_webhook(hook.id).deliveries.values()) == {0}
    assert api.webhook_deliveries(hook.id).items == []
    synced = api.pos_sync({"till_id": "till-1", "location_id": "store-a", "entries": [
        {"entry_id": "s-1", "kind": "sale", "at": "2026-11-30T10:00:00+01:00",
         "lines": [{"sku": "SOAP", "quantity": 1}]}]})
    assert isinstance(synced, PosSyncOut) and [e.status for e in synced.entries] == ["applied"]
    assert api.delete_webhook(hook.id).status == "deleted"


def test_a_refusal_raises_a_problem_error_with_status_code_and_body(api: Client) -> None:
    with pytest.raises(ProblemError) as unknown:
        api.get_product("NOPE")
    with pytest.raises(ProblemError) as invalid:
        api.create_product({"sku": "X1", "name": "No price"})
    with pytest.raises(ProblemError) as anonymous:
        Client(key="omr_not-a-key", http=api.http).get_order(1)

    assert (unknown.value.status, unknown.value.code) == (404, "unknown_sku")
    assert unknown.value.problem["detail"] == unknown.value.detail
    assert (invalid.value.status, invalid.value.code) == (422, "validation_error")
    assert [(e["field"], e["code"]) for e in invalid.value.errors] == [("price", "missing")]
    assert (anonymous.value.status, anonymous.value.code) == (401, "invalid_key")


def test_a_call_sent_again_with_its_idempotency_key_is_carried_out_once(api: Client) -> None:
    ada = stock_a_shop(api)
    order = {"channel": "web", "customer_id": ada, "lines": [{"sku": "MILK", "quantity": 1}], "fulfilment": PICKUP,
             "payment": PAID}

    first = api.place_order(order, idempotency_key="checkout-42")
    again = api.place_order(order, idempotency_key="checkout-42")
    with pytest.raises(ProblemError) as reused:
        api.place_order({**order, "lines": [{"sku": "MILK", "quantity": 2}]}, idempotency_key="checkout-42")

    assert again == first
    assert [o.id for o in api.list_orders().items] == [first.id]
    assert reused.value.code == "idempotency_key_reused"


def _template(spec_paths: list[str], path: str) -> str:
    for template in spec_paths:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
            return template
    raise AssertionError(f"{path} is in no OpenAPI path")


def test_the_client_sends_an_idempotency_key_exactly_where_the_openapi_document_declares_one(
        client: TestClient, api: Client) -> None:
    sent: list[tuple[str, str, bool]] = []
    client.event_hooks["request"] = [lambda r: sent.append((r.method, r.url.path, "Idempotency-Key" in r.headers))]
    test_the_client_takes_an_order_through_fulfilment_a_return_webhooks_and_a_pos_sync(api)
    client.event_hooks["request"] = []
    spec = client.get("/openapi.json").json()["paths"]

    declared = {(method.upper(), path) for path, ops in spec.items() for method, op in ops.items()
                if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))}
    calls = {(method, _template(list(spec), path), keyed) for method, path, keyed in sent}
    assert {(method, path, (method, path) in declared) for method, path, _ in calls} == calls
    assert ("POST", "/api/v1/orders", True) in calls and ("POST", "/api/v1/pos/sync", False) in calls


def test_a_call_whose_connection_failed_is_retried_with_the_same_key_and_other_writes_are_not() -> None:
    seen: list[tuple[str, str | None]] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("Idempotency-Key")))
        if len(seen) == 1 or request.url.path.endswith("/products"):
            raise httpx.ConnectError("connection reset", request=request)
        return httpx.Response(201, json={"location_id": "store-a", "sku": "MILK", "on_hand": 5, "lot": {
            "lot": "L1", "quantity": 5, "production_date": None, "expiry_date": None, "expired": False}})

    with Client("http://omniretail.test", "omr_key", transport=httpx.MockTransport(flaky)) as api:
        receipt = api.receive({"location_id": "store-a", "sku": "MILK", "quantity": 5})
        with pytest.raises(httpx.ConnectError):
            api.create_product({"sku": "X", "name": "X", "price": {"amount": "1"}})

    assert isinstance(receipt, ReceiptOut) and receipt.on_hand == 5
    (first_path, first_key), (second_path, second_key), (product_path, product_key) = seen
    assert first_path == second_path == "/api/v1/inventory/receipts" and first_key == second_key is not None
    assert (product_path, product_key) == ("/api/v1/products", None)


# --- against a real server --------------------------------------------------------------------------------


def test_the_client_drives_a_pickup_from_order_to_collection_against_a_served_server(db: Database) -> None:
    key = make_key(db, Role.ADMIN, name="client e2e")
    with served(db.url) as base, api_client(base, key) as api:
        ada = stock_a_shop(api)
        order = api.place_order({"channel": "web", "customer_id": ada, "lines": [{"sku": "SOAP", "quantity": 2}],
                                 "fulfilment": PICKUP, "payment": PAID})
        [made] = api.release_order(order.id).items
        api.pick(made.id)
        code = api.ready(made.id).pickup_code
        assert code is not None
        collected = api.collect_pickup(code)
        with pytest.raises(ProblemError) as gone:
            api.collect_pickup(code, idempotency_key="a-new-key")
        final = api.get_order(order.id)
        level = api.level("store-a", "SOAP")

    assert (collected.status, final.status) == ("collected", "completed")
    assert (gone.value.status, gone.value.code) == (404, "unknown_pickup_code")
    assert (level.on_hand, level.reserved) == (3, 0)


def _pos(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIRETAIL_")}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "omniretail.cli", "pos", "sync", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_pos_sync_on_the_command_line_uploads_a_batch_through_the_client(db: Database, tmp_path: Path) -> None:
    key = make_key(db, Role.ADMIN, name="setup")
    till = make_key(db, Role.INTEGRATION, channel="pos", name="till")
    entries: list[dict[str, Any]] = [
        {"entry_id": "s-1", "kind": "sale", "at": "2026-11-30T10:00:00+01:00", "payment_method": "cash",
         "lines": [{"sku": "MILK", "quantity": 2}]},
        {"entry_id": "c-1", "kind": "count", "at": "2026-11-30T18:00:00+01:00", "lines": [{"sku": "MILK",
                                                                                             "counted": 3}]}]
    good = tmp_path / "batch.json"
    good.write_text(json.dumps({"till_id": "till-1", "location_id": "store-a", "entries": entries}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"till_id": "till-1", "location_id": "store-a", "entries": [
        {**entries[0], "entry_id": "s-2", "lines": [{"sku": "CHEESE", "quantity": 1}]}]}))
    with served(db.url) as base:
        with api_client(base, key) as api:
            stock_a_shop(api)
        first = _pos(str(good), "--url", base, "--key", till)
        again = _pos(str(good), "--url", base, "--key", till, "--json")
        refused = _pos(str(bad), "--url", base, "--key", till)
        unauthorised = _pos(str(good), "--url", base, "--key", "omr_wrong")
        with api_client(base, key) as api:
            level = api.level("store-a", "MILK")

    assert first.returncode == 0, first.stderr
    assert "2 entries: 2 applied, 0 replayed, 0 conflict, 0 refused" in first.stdout
    assert again.returncode == 0
    assert [(e["entry_id"], e["status"], e["first_status"]) for e in json.loads(again.stdout)["entries"]] == [
        ("s-1", "replayed", "applied"), ("c-1", "replayed", "applied")]
    assert refused.returncode == 3 and "unknown_sku" in refused.stdout
    assert unauthorised.returncode == 1 and "401 invalid_key" in unauthorised.stderr
    assert (level.on_hand, level.reserved) == (3, 0)
