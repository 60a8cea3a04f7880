"""Fulfilment over HTTP: the fixed paths of api.md, who may do what, pickups by code, returns and the
attribution report, with bad input refused by code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniretail.core.clock import utcnow
from omniretail.core.db import Database
from omniretail.core.security import Role
from omniretail.customers.models import Profile
from tests.conftest import bearer, make_key
from tests.helpers import assert_problem

ORDERS = "/api/v1/orders"


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str], db: Database) -> dict[str, Any]:
    for sku, price in (("MILK", "1.20"), ("SOAP", "2.50")):
        assert client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": f"Product {sku}", "price": {"amount": price, "currency": "EUR"}}).status_code == 201
    for id_, lat, lon, pickup in (("store-a", 51.31, 9.49, True), ("store-b", 51.53, 9.92, False)):
        assert client.post("/api/v1/locations", headers=admin, json={
            "id": id_, "name": f"Store {id_}", "type": "store", "lat": lat, "lon": lon, "timezone": "Europe/Berlin",
            "pickup": pickup, "ship_from_store": True, "opening_hours": "mon-sat 09:00-20:00"}).status_code == 201
    for location_id, sku, units in (("store-a", "MILK", 5), ("store-a", "SOAP", 5), ("store-b", "MILK", 5)):
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
            "customer": bearer(make_key(db, Role.CUSTOMER, customer_id=str(ada_id), name="ada")),
            "agent": bearer(make_key(db, Role.AGENT, name="agent"))}


def _order(client: TestClient, admin: dict[str, str], shop: dict[str, Any], fulfilment: dict[str, Any]) -> int:
    response = client.post(ORDERS, headers=admin, json={
        "channel": "web", "customer_id": shop["ada"], "lines": [{"sku": "MILK", "quantity": 2}],
        "fulfilment": fulfilment, "payment": {"status": "authorised", "method": "card"}})
    assert response.status_code == 201 and response.json()["status"] == "confirmed", response.text
    return response.json()["id"]


def _released(client: TestClient, admin: dict[str, str], order_id: int) -> dict[str, Any]:
    response = client.post(f"{ORDERS}/{order_id}/release", headers=admin)
    assert response.status_code == 200, response.text
    [fulfilment] = response.json()["items"]
    return fulfilment


def test_a_pickup_goes_from_release_to_collection_through_the_fixed_paths(
        client: TestClient, admin: dict[str, str], shop: dict[str, Any]) -> None:
    order_id = _order(client, admin, shop, {"type": "pickup", "location_id": "store-a"})
    fulfilment = _released(client, admin, order_id)
    assert (fulfilment["location_id"], fulfilment["kind"], fulfilment["status"]) == ("store-a", "pickup", "created")
    assert fulfilment["lines"] == [{"sku": "MILK", "quantity": 2, "picked": None,
                                    "lots": [{"lot": "L1", "quantity": 2, "expiry_date": None}]}]
    fid = fulfilment["id"]

    assert_problem(client.post(f"/api/v1/fulfilments/{fid}/pick", headers=shop["b"]), 403, "location_out_of_scope")
    assert client.post(f"/api/v1/fulfilments/{fid}/pick", headers=shop["a"]).json()["status"] == "picking"
    assert_problem(client.post(f"/api/v1/fulfilments/{fid}/ship", headers=shop["a"], json={"waybill": "W"}), 409,
                   "illegal_transition")
    ready = client.post(f"/api/v1/fulfilments/{fid}/ready", headers=shop["a"]).json()
    code = ready["pickup_code"]
    assert ready["status"] == "ready_for_pickup" and len(code) == 8
    assert client.get(f"{ORDERS}/{order_id}", headers=admin).json()["status"] == "ready_for_pickup"
    mine = client.get(f"{ORDERS}/{order_id}/fulfilments", headers=shop["customer"])
    assert mine.status_code == 200 and mine.json()["items"][0]["pickup_code"] == code

    assert_problem(client.post("/api/v1/pickups/NOTACODE/collect", headers=shop["a"]), 404, "unknown_pickup_code")
    assert_problem(client.post(f"/api/v1/pickups/{'X' * 40}/collect", headers=shop["a"]), 404, "unknown_pickup_code")
    assert_problem(client.post(f"/api/v1/pickups/{code}/collect", headers=shop["b"]), 403, "location_out_of_scope")
    assert_problem(client.post(f"/api/v1/pickups/{code}/collect", headers=shop["customer"]), 403, "role_forbidden")
    collected = client.post(f"/api/v1/pickups/{code}/collect", headers=shop["a"])
    assert collected.status_code == 200 and collected.json()["status"] == "collected"
    assert client.get(f"{ORDERS}/{order_id}", headers=admin).json()["status"] == "completed"
    assert_problem(client.post(f"/api/v1/pickups/{code}/collect", headers=shop["a"]), 404, "unknown_pickup_code")


def test_a_delivery_is_packed_and_shipped_with_a_waybill_then_returned_in_a_store(
        client: TestClient, admin: dict[str, str], shop: dict[str, Any]) -> None:
    order_id = _order(client, admin, shop, {"type": "delivery", "address": {
        "line1": "Weender Str. 5", "city": "Göttingen", "postcode": "37073", "country": "DE", "phone": "0551 123456",
        "lat": 51.54, "lon": 9.93}})
    fid = _released(client, admin, order_id)["id"]
    queue = client.get("/api/v1/fulfilments", headers=shop["b"], params={"status": "created"}).json()["items"]
    assert [f["id"] for f in queue] == [fid]
    assert client.get("/api/v1/fulfilments", headers=shop["a"]).json()["items"] == []
    for step in ("pick", "pack"):
        assert client.post(f"/api/v1/fulfilments/{fid}/{step}", headers=shop["b"]).status_code == 200
    assert_problem(client.post(f"/api/v1/fulfilments/{fid}/ship", headers=shop["b"], json={}), 422,
                   "validation_error")
    shipped = client.post(f"/api/v1/fulfilments/{fid}/ship", headers=shop["b"],
                          json={"carrier": "DHL", "waybill": "00340434161094042557"}).json()
    assert (shipped["status"], shipped["waybill"], shipped["lines"][0]["lots"]) == ("shipped", "00340434161094042557",
                                                                                  [])

    body = {"order_id": order_id, "location_id": "store-a", "channel": "pos",
            "lines": [{"sku": "MILK", "quantity": 1}], "reason": "too many"}
    assert_problem(client.post("/api/v1/returns", headers=shop["b"], json=body), 403, "location_out_of_scope")
    made = client.post("/api/v1/returns", headers={**shop["a"], "Idempotency-Key": "r-1"}, json=body)
    assert made.status_code == 201, made.text
    assert (made.json()["refund"], made.json()["refund_method"]) == ({"amount": "1.20", "currency": "EUR"}, "card")
    again = client.post("/api/v1/returns", headers={**shop["a"], "Idempotency-Key": "r-1"}, json=body)
    assert again.json() == made.json() and again.headers["Idempotent-Replayed"] == "true"
    assert client.get("/api/v1/inventory/store-a/MILK", headers=admin).json()["on_hand"] == 6
    too_many = client.post("/api/v1/returns", headers=shop["agent"], json={**body, "lines": [
        {"sku": "MILK", "quantity": 2}]})
    assert assert_problem(too_many, 409, "return_exceeds_order")["lines"] == [
        {"sku": "MILK", "bought": 2, "returned": 1, "asked": 2}]
    assert client.get(f"/api/v1/returns/{made.json()['id']}", headers=shop["a"]).json() == made.json()

    report = client.get("/api/v1/reports/attribution", headers=admin, params={
        "start": (utcnow() - timedelta(days=1)).isoformat(), "end": (utcnow() + timedelta(days=1)).isoformat()})
    assert [(r["location_id"], r["sales"], r["sales_amount"]["amount"], r["returns_amount"]["amount"],
             r["net"]["amount"]) for r in report.json()["stores"]] == [("store-b", 1, "2.40", "1.20", "1.20")]
    assert_problem(client.get("/api/v1/reports/attribution", headers=shop["a"], params={
        "start": utcnow().isoformat(), "end": utcnow().isoformat()}), 403, "location_out_of_scope")


def test_fulfilment_answers_name_what_is_wrong(client: TestClient, admin: dict[str, str],
                                               shop: dict[str, Any]) -> None:
    order_id = _order(client, admin, shop, {"type": "pickup", "location_id": "store-a"})
    assert_problem(client.post("/api/v1/fulfilments/999/pick", headers=admin), 404, "unknown_fulfilment")
    assert_problem(client.get(f"{ORDERS}/999/fulfilments", headers=admin), 404, "unknown_order")
    assert_problem(client.post("/api/v1/returns", headers=admin, json={
        "order_id": order_id, "location_id": "store-a", "channel": "pos", "lines": [{"sku": "MILK", "quantity": 1}]}),
        409, "order_not_returnable")
    assert_problem(client.post(f"{ORDERS}/{order_id}/release", headers=shop["a"]), 403, "role_forbidden")
    fid = _released(client, admin, order_id)["id"]
    found = client.post(f"/api/v1/fulfilments/{fid}/pick", headers=shop["a"], json={"lines": [
        {"sku": "MILK", "picked": 3}]})
    assert_problem(found, 422, "invalid_quantity")
    assert_problem(client.post(f"/api/v1/fulfilments/{fid}/pick", headers=shop["a"], json={"lines": [
        {"sku": "SOAP", "picked": 1}]}), 422, "sku_not_in_fulfilment")
    assert_problem(client.get("/api/v1/reports/attribution", headers=admin, params={
        "start": utcnow().isoformat(), "end": (utcnow() - timedelta(days=1)).isoformat()}), 422, "invalid_period")


def test_a_delivery_order_explains_where_its_units_come_from(client: TestClient, admin: dict[str, str],
                                                             shop: dict[str, Any]) -> None:
    delivery = _order(client, admin, shop, {"type": "delivery", "address": {
        "line1": "Weender Str. 5", "city": "Göttingen", "postcode": "37073", "country": "DE", "phone": "0551 123456"}})
    pickup = client.post(ORDERS, headers=admin, json={
        "channel": "web", "customer_id": shop["ada"], "lines": [{"sku": "SOAP", "quantity": 1}],
        "fulfilment": {"type": "pickup", "location_id": "store-a"}, "payment": {"status": "authorised"}}).json()["id"]

    explained = client.get(f"{ORDERS}/{delivery}/sourcing", headers=admin)
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert (body["policy"], body["packages"], body["split"]) == ("default", 1, False)
    [shipment] = body["decision"]["shipments"]
    assert (shipment["location_id"], shipment["units"]) == ("store-b", {"MILK": 2})  # the city placed it: Göttingen
    assert set(body["decision"]["cost"]) >= {"packages", "items", "distance", "total"}
    assert_problem(client.get(f"{ORDERS}/{pickup}/sourcing", headers=admin), 404, "no_sourcing_decision")
    assert_problem(client.get(f"{ORDERS}/{delivery}/sourcing", headers=shop["customer"]), 403, "role_forbidden")
