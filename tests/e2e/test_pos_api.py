"""POS sync over HTTP: who may upload a till's batch, a batch of the wrong shape refused whole with its codes,
replays answering the first results, and an offline sale against an online order."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omniretail.core.db import Database
from omniretail.core.models import OutboxEvent
from omniretail.core.security import Role
from omniretail.customers.models import Profile
from tests.conftest import bearer, make_key
from tests.helpers import assert_problem, error_fields

SYNC = "/api/v1/pos/sync"


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str], db: Database) -> dict[str, Any]:
    for sku, price in (("MILK", "1.20"), ("SOAP", "2.50")):
        assert client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": f"Product {sku}", "price": {"amount": price, "currency": "EUR"}}).status_code == 201
    for id_, type_, lat in (("store-a", "store", 51.31), ("store-b", "store", 51.53), ("wh", "warehouse", 52.37)):
        assert client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": f"Location {id_}", "type": type_, "lat": lat, "lon": 9.5, "timezone": "Europe/Berlin",
            "pickup": type_ == "store", "ship_from_store": True}).status_code == 201
    for location_id, sku, units in (("store-a", "MILK", 5), ("store-a", "SOAP", 2), ("wh", "MILK", 10)):
        assert client.post("/api/v1/inventory/receipts", headers=admin, json={
            "location_id": location_id, "sku": sku, "quantity": units, "lot": "L1"}).status_code == 201
    with db.write() as s:
        ada = Profile(status="active", given_name="Ada")
        s.add(ada)
        s.flush()
        ada_id = ada.id
    return {"ada": ada_id,
            "a": bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-a"], name="associate a")),
            "b": bearer(make_key(db, Role.ASSOCIATE, location_ids=["store-b"], name="associate b")),
            "till": bearer(make_key(db, Role.INTEGRATION, channel="pos", name="till")),
            "web": bearer(make_key(db, Role.INTEGRATION, channel="web", name="web shop")),
            "agent": bearer(make_key(db, Role.AGENT, name="agent"))}


def batch(*entries: dict[str, Any], location_id: str = "store-a") -> dict[str, Any]:
    return {"till_id": "till-1", "location_id": location_id, "entries": list(entries)}


def sale(entry_id: str, minute: int, sku: str = "MILK", quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {"entry_id": entry_id, "kind": "sale", "at": f"2026-11-30T10:{minute:02d}:00+01:00",
            "lines": [{"sku": sku, "quantity": quantity}], "payment_method": "card", **fields}


def test_a_till_uploads_its_batch_and_sending_it_again_changes_nothing(client: TestClient, admin: dict[str, str],
                                                                       shop: dict[str, Any]) -> None:
    body = batch(sale("s-2", 5, "SOAP"), sale("s-1", 1, quantity=2, customer_id=shop["ada"]),
                 {"entry_id": "c-1", "kind": "count", "at": "2026-11-30T10:09:00+01:00",
                  "lines": [{"sku": "SOAP", "counted": 0}]})

    first = client.post(SYNC, headers=shop["till"], json=body)
    again = client.post(SYNC, headers=shop["a"], json=body)

    assert first.status_code == 200, first.text
    answer = first.json()
    assert [(e["entry_id"], e["status"]) for e in answer["entries"]] == [("s-1", "applied"), ("s-2", "applied"),
                                                                          ("c-1", "applied")]
    assert (answer["till_id"], answer["location_id"], answer["applied"]) == ("till-1", "store-a", 3)
    order = client.get(f"/api/v1/orders/{answer['entries'][0]['order_id']}", headers=admin).json()
    assert (order["channel"], order["status"], order["customer_id"], order["total"]) == (
        "pos", "completed", shop["ada"], {"amount": "2.40", "currency": "EUR"})
    assert again.status_code == 200
    assert [(e["status"], e["first_status"], e["order_id"]) for e in again.json()["entries"]] == [
        (("replayed", "applied", e["order_id"])) for e in answer["entries"]]
    assert client.get("/api/v1/inventory/store-a/MILK", headers=admin).json()["on_hand"] == 3
    assert client.get("/api/v1/inventory/store-a/SOAP", headers=admin).json()["on_hand"] == 0


def test_an_offline_sale_of_units_promised_online_is_recorded_and_the_order_is_re_sourced(
        client: TestClient, admin: dict[str, str], shop: dict[str, Any], db: Database) -> None:
    online = client.post("/api/v1/orders", headers=admin, json={
        "channel": "web", "customer_id": shop["ada"], "lines": [{"sku": "MILK", "quantity": 4}],
        "fulfilment": {"type": "pickup", "location_id": "store-a"}, "payment": {"status": "authorised"}}).json()

    [entry] = client.post(SYNC, headers=shop["a"], json=batch(sale("s-1", 1, quantity=3))).json()["entries"]

    assert entry["status"] == "applied"
    assert entry["resourced"] == [{"order_id": online["id"], "sku": "MILK", "quantity": 2,
                                   "from_location_id": "store-a", "to_location_id": "wh"}]
    level = client.get("/api/v1/inventory/store-a/MILK", headers=admin).json()
    assert (level["on_hand"], level["reserved"]) == (2, 2)
    fulfilments = client.get(f"/api/v1/orders/{online['id']}/fulfilments", headers=admin).json()["items"]
    assert [(f["location_id"], [(x["sku"], x["quantity"]) for x in f["lines"]]) for f in fulfilments] == [
        ("store-a", [("MILK", 2)]), ("wh", [("MILK", 2)])]
    with db.read() as s:
        assert s.scalars(select(OutboxEvent.type).where(OutboxEvent.type.like("pos.%"))).all() == ["pos.synced"]


@pytest.mark.parametrize("who, location_id, status, code", [
    ("b", "store-a", 403, "location_out_of_scope"),
    ("web", "store-a", 403, "channel_out_of_scope"),
    ("agent", "store-a", 403, "role_forbidden"),
    ("a", "store-nowhere", 422, "unknown_location"),
])
def test_a_batch_is_refused_whole_when_the_key_may_not_sync_that_store(
        client: TestClient, shop: dict[str, Any], who: str, location_id: str, status: int, code: str) -> None:
    body = assert_problem(client.post(SYNC, headers=shop[who], json=batch(sale("s-1", 1), location_id=location_id)),
                          status, code)
    if status == 422:
        assert error_fields(body) == ["location_id"]


def test_a_batch_without_a_key_is_401(client: TestClient, shop: dict[str, Any]) -> None:
    assert_problem(client.post(SYNC, json=batch(sale("s-1", 1))), 401, "missing_key")


@pytest.mark.parametrize("entries, code, errors", [
    ([{"entry_id": "x-1", "kind": "refund", "at": "2026-11-30T10:00:00+01:00"}], "validation_error",
     [("entries.0", "union_tag_invalid")]),
    ([{"entry_id": "x-1", "at": "2026-11-30T10:00:00+01:00"}], "validation_error",
     [("entries.0", "union_tag_not_found")]),
    ([{"entry_id": "s-1", "kind": "sale", "at": "2026-11-30T10:00:00+01:00"}], "validation_error",
     [("entries.0.sale.lines", "missing")]),
    ([{"kind": "count", "lines": [{"sku": "MILK", "counted": 1}]}], "validation_error",
     [("entries.0.count.entry_id", "missing"), ("entries.0.count.at", "missing")]),
    ([{**sale("s-1", 1), "at": "2026-11-30T10:00:00"}], "validation_error", [("entries.0.sale.at", "timezone_aware")]),
    ([{**sale("s-1", 1), "at": "9999-12-31T23:59:59-14:00"}], "validation_error", [("entries.0.sale.at",
                                                                                  "value_error")]),
    ([sale("s-1", 1), sale("s-1", 2)], "duplicate_entry_id", [("entries.1.entry_id", "duplicate_entry_id")]),
    ([], "validation_error", [("entries", "too_short")]),
])
def test_a_batch_of_the_wrong_shape_is_refused_whole_with_its_codes(
        client: TestClient, admin: dict[str, str], shop: dict[str, Any], entries: list[dict[str, Any]], code: str,
        errors: list[tuple[str, str]]) -> None:
    body = assert_problem(client.post(SYNC, headers=shop["a"], json=batch(*entries)), 422, code)

    assert [(e["field"], e["code"]) for e in body["errors"]] == errors
    assert client.get("/api/v1/inventory/store-a/MILK", headers=admin).json()["on_hand"] == 5


def test_an_entry_the_services_refuse_is_answered_with_its_problem_and_the_others_apply(
        client: TestClient, admin: dict[str, str], shop: dict[str, Any]) -> None:
    answer = client.post(SYNC, headers=shop["a"], json=batch(
        sale("s-1", 1), sale("s-2", 2, "SOAP", 3), sale("s-3", 3, customer_id=999_999),
        {"entry_id": "r-1", "kind": "return", "at": "2026-11-30T10:04:00+01:00", "order_id": 999_999,
         "lines": [{"sku": "MILK", "quantity": 1}]})).json()

    assert [(e["entry_id"], e["status"], e["code"]) for e in answer["entries"]] == [
        ("s-1", "applied", None), ("s-2", "refused", "insufficient_stock"), ("s-3", "refused", "unknown_customer"),
        ("r-1", "refused", "unknown_order")]
    assert answer["entries"][1]["problem"]["short"] == [{"location_id": "store-a", "sku": "SOAP", "requested": 3,
                                                          "available": 2}]
    assert (answer["applied"], answer["refused"]) == (1, 3)
    assert client.get("/api/v1/inventory/store-a/SOAP", headers=admin).json()["on_hand"] == 2
