"""Webhooks over HTTP: subscribing with good and bad input, secrets never shown, admins only, the delivery
log and replays; and `omniretail serve` running the relay so a subscribed receiver gets the events."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.models import AuditEntry
from omniretail.core.security import Role
from omniretail.integration.rules import SIGNATURE_HEADER, verify_signature
from omniretail.integration.worker import Relay
from tests.conftest import bearer, make_key
from tests.helpers import assert_problem, error_fields, served
from tests.integration.receiver import Receiver, wait_until

WEBHOOKS = "/api/v1/webhooks"
SECRET = "e2e-webhook-secret-0123456789"
GOOD = {"url": "https://erp.example.com/omniretail", "events": ["order.*", "product.created"], "secret": SECRET}


def created(client: TestClient, headers: dict[str, str], body: dict[str, object] | None = None) -> dict[str, object]:
    response = client.post(WEBHOOKS, headers=headers, json=body or GOOD)
    assert response.status_code == 201, response.text
    return response.json()


def run_relay(db: Database, rounds: int = 1) -> None:
    async def run() -> None:
        async with Relay(db, Settings(database_url=db.url, webhook_timeout_seconds=5, relay_lease_seconds=30)) as w:
            for _ in range(rounds):
                await w.step()

    asyncio.run(run())


def test_subscribing_answers_201_with_the_subscription_and_never_the_secret(client, admin, db):
    response = client.post(WEBHOOKS, headers=admin, json={**GOOD, "description": "ERP"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert isinstance(body["id"], int)
    assert {k: body[k] for k in ("url", "events", "description", "status", "deleted_at")} == {
        "url": GOOD["url"], "events": ["order.*", "product.created"], "description": "ERP", "status": "active",
        "deleted_at": None}
    assert body["created_by"] == "key:1:test admin"
    listed = client.get(WEBHOOKS, headers=admin)
    one = client.get(f"{WEBHOOKS}/{body['id']}", headers=admin)
    assert [w["id"] for w in listed.json()["items"]] == [body["id"]]
    assert one.json()["deliveries"] == {"pending": 0, "retrying": 0, "delivered": 0, "dead": 0, "cancelled": 0}
    for text in (response.text, listed.text, one.text):
        assert SECRET not in text and "secret" not in text
    with db.read() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "webhook.created"))
    assert (entry.object_id, entry.changes) == (str(body["id"]), {
        "url": GOOD["url"], "events": ["order.*", "product.created"], "description": "ERP"})


def test_a_star_among_patterns_subscribes_to_everything_and_repeats_are_dropped(client, admin):
    assert created(client, admin, {**GOOD, "events": ["order.held", "*"]})["events"] == ["*"]
    assert created(client, admin, {**GOOD, "events": ["order.held", "order.held"]})["events"] == ["order.held"]


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"url": "ftp://erp.example.com/in"}, "invalid_webhook_url", "url"),
    ({"url": "javascript:alert(1)"}, "invalid_webhook_url", "url"),
    ({"url": "https://"}, "invalid_webhook_url", "url"),
    ({"url": "https://me:pw@erp.example.com/in"}, "invalid_webhook_url", "url"),
    ({"events": []}, "events_required", "events"),
    ({"events": ["order.created", "spaceship.launched"]}, "unknown_event_type", "events.1"),
    ({"events": ["order"]}, "invalid_event_pattern", "events.0"),
    ({"events": ["ORDER.*"]}, "invalid_event_pattern", "events.0"),
    ({"secret": ""}, "secret_required", "secret"),
    ({"secret": "                "}, "secret_required", "secret"),
    ({"secret": "short-secret"}, "secret_too_short", "secret"),
    ({"secret": "s" * 201}, "secret_too_long", "secret"),
])
def test_bad_input_is_refused_with_422_and_a_stable_code_naming_the_field(client, admin, change, code, field):
    body = assert_problem(client.post(WEBHOOKS, headers=admin, json={**GOOD, **change}), 422, code)

    assert error_fields(body) == [field]
    assert client.get(WEBHOOKS, headers=admin).json()["items"] == []


@pytest.mark.parametrize("body", [
    {"url": GOOD["url"], "events": ["*"]},
    {**GOOD, "events": "order.created"},
    {**GOOD, "url": 42},
    {**GOOD, "extra": True},
])
def test_missing_or_mistyped_fields_are_a_validation_error(client, admin, body):
    assert_problem(client.post(WEBHOOKS, headers=admin, json=body), 422, "validation_error")


def test_a_refused_secret_is_not_echoed_back(client, admin):
    response = client.post(WEBHOOKS, headers=admin, json={**GOOD, "secret": "tiny-secret-42"})

    assert_problem(response, 422, "secret_too_short")
    assert "tiny-secret-42" not in response.text


@pytest.mark.parametrize("role", [Role.OPERATIONS, Role.AGENT])
def test_only_admins_may_see_or_change_webhooks(client, admin, db, role):
    hook = created(client, admin)
    other = bearer(make_key(db, role))
    calls = [("POST", WEBHOOKS, GOOD), ("GET", WEBHOOKS, None), ("GET", f"{WEBHOOKS}/{hook['id']}", None),
             ("DELETE", f"{WEBHOOKS}/{hook['id']}", None), ("GET", f"{WEBHOOKS}/{hook['id']}/deliveries", None),
             ("POST", f"{WEBHOOKS}/{hook['id']}/deliveries/1/replay", None)]

    for method, path, body in calls:
        assert_problem(client.request(method, path, headers=other, json=body), 403, "role_forbidden")
        assert_problem(client.request(method, path, json=body), 401, "missing_key")
    assert client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin).json()["status"] == "active"


def test_deleting_answers_the_deleted_subscription_and_it_is_gone_afterwards(client, admin):
    hook = created(client, admin)

    response = client.delete(f"{WEBHOOKS}/{hook['id']}", headers=admin)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "deleted"
    assert response.json()["deleted_at"] is not None
    assert_problem(client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin), 404, "unknown_webhook")
    assert_problem(client.delete(f"{WEBHOOKS}/{hook['id']}", headers=admin), 404, "unknown_webhook")
    assert client.get(WEBHOOKS, headers=admin).json()["items"] == []


def test_unknown_subscriptions_and_deliveries_are_404_with_their_codes(client, admin):
    hook = created(client, admin)

    assert_problem(client.get(f"{WEBHOOKS}/999", headers=admin), 404, "unknown_webhook")
    assert_problem(client.get(f"{WEBHOOKS}/999/deliveries", headers=admin), 404, "unknown_webhook")
    assert_problem(client.get(f"{WEBHOOKS}/{hook['id']}/deliveries/5", headers=admin), 404, "unknown_delivery")
    assert_problem(client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/5/replay", headers=admin), 404,
                   "unknown_delivery")
    assert_problem(client.get(f"{WEBHOOKS}/0", headers=admin), 422, "validation_error")


def test_the_delivery_log_shows_each_delivery_with_its_attempts_and_a_replay_sends_it_again(client, admin, db):
    with Receiver().running() as receiver:
        hook = created(client, admin, {**GOOD, "url": receiver.url, "events": ["product.created"]})
        product = client.post("/api/v1/products", headers=admin,
                              json={"sku": "HOOK-1", "name": "Hooked", "price": {"amount": "1.00"}})
        assert product.status_code == 201, product.text
        run_relay(db)
        log = client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=admin).json()
        [delivery] = log["items"]
        replay = client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{delivery['id']}/replay", headers=admin)
        again = client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{delivery['id']}/replay", headers=admin)
        run_relay(db)

    assert (delivery["event_type"], delivery["object_key"], delivery["status"], delivery["attempts"]) == (
        "product.created", "product:HOOK-1", "delivered", 1)
    assert [(a["number"], a["outcome"], a["status_code"]) for a in delivery["attempt_log"]] == [(1, "delivered", 200)]
    assert delivery["next_attempt_at"] is None
    assert replay.status_code == 202, replay.text
    assert (replay.json()["status"], replay.json()["replay_of_id"]) == ("pending", delivery["id"])
    assert_problem(again, 409, "delivery_in_progress")
    assert [r.event_id for r in receiver.received] == [delivery["event_id"]] * 2
    shown = client.get(f"{WEBHOOKS}/{hook['id']}/deliveries/{replay.json()['id']}", headers=admin).json()
    assert (shown["status"], shown["event"]["id"], shown["event"]["data"]["sku"]) == (
        "delivered", delivery["event_id"], "HOOK-1")
    delivered = client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=admin,
                           params={"status": "delivered", "limit": 1}).json()
    assert [d["id"] for d in delivered["items"]] == [replay.json()["id"]]
    second_page = client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=admin,
                             params={"status": "delivered", "limit": 1, "cursor": delivered["next_cursor"]}).json()
    assert ([d["id"] for d in second_page["items"]], second_page["next_cursor"]) == ([delivery["id"]], None)
    assert client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin).json()["deliveries"]["delivered"] == 2


def test_serve_runs_the_relay_so_a_receiver_subscribed_over_http_gets_the_events(db, monkeypatch):
    monkeypatch.setenv("OMNIRETAIL_RELAY_POLL_SECONDS", "0.1")
    monkeypatch.delenv("OMNIRETAIL_NATS_URL", raising=False)
    headers = bearer(make_key(db, Role.ADMIN))
    with Receiver().running() as receiver, served(db.url) as base:
        hook = httpx.post(f"{base}{WEBHOOKS}", headers=headers,
                          json={"url": receiver.url, "events": ["product.*"], "secret": SECRET})
        product = httpx.post(f"{base}/api/v1/products", headers=headers,
                             json={"sku": "SERVED-1", "name": "Served", "price": {"amount": "2.00"}})
        wait_until(lambda: len(receiver.received) == 1, what="the product.created webhook")

    assert (hook.status_code, product.status_code) == (201, 201)
    [delivery] = receiver.received
    assert (delivery.event["type"], delivery.event["object_id"]) == ("product.created", "SERVED-1")
    assert verify_signature(SECRET, delivery.body, delivery.headers[SIGNATURE_HEADER],
                            now=int(delivery.headers[SIGNATURE_HEADER].split(",")[0][2:]))
