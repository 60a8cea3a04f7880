"""Who may call what: API keys, roles and scopes, the channel registry, health, and error format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from omniretail.core import migrate
from omniretail.core.db import Database
from omniretail.core.security import Role
from tests.conftest import bearer, customer_headers, make_key
from tests.helpers import assert_problem, error_fields

PROBLEM_JSON = "application/problem+json"
PRODUCTS = "/api/v1/products"
KEYS = "/api/v1/keys"
CHANNELS = "/api/v1/channels"
STANDARD_CHANNELS = {"web", "app", "pos", "call_centre", "chat", "email", "sms", "messenger", "social", "marketplace"}
ZALANDO = {"code": "marketplace-zalando", "kind": "marketplace", "name": "Zalando"}


def product(sku: str = "P-1") -> dict[str, Any]:
    return {"sku": sku, "name": "Whole milk", "price": {"amount": "1.29", "currency": "EUR"}}




@pytest.fixture
def location_id(client: TestClient, admin: dict[str, str]) -> str:
    response = client.post("/api/v1/locations", headers=admin, json={
        "id": "ber-1", "name": "Berlin", "type": "store", "lat": 52.52, "lon": 13.405})
    assert response.status_code == 201, response.text
    return "ber-1"


def key_count(client: TestClient, admin: dict[str, str]) -> int:
    response = client.get(KEYS, params={"limit": 500}, headers=admin)
    assert response.status_code == 200
    assert response.json()["next_cursor"] is None
    return len(response.json()["items"])


# --- authentication ----------------------------------------------------------------------------------


def test_a_call_without_a_key_is_401_missing_key(client: TestClient) -> None:
    response = client.get(PRODUCTS)

    assert_problem(response, 401, "missing_key")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_call_with_an_unknown_key_is_401_invalid_key(client: TestClient) -> None:
    assert_problem(client.get(PRODUCTS, headers=bearer("omr_not-a-real-key")), 401, "invalid_key")


def test_a_key_sent_with_another_scheme_counts_as_missing(client: TestClient, db: Database) -> None:
    key = make_key(db, Role.ADMIN)

    assert_problem(client.get(PRODUCTS, headers={"Authorization": f"Basic {key}"}), 401, "missing_key")


def test_a_revoked_key_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    created = client.post(KEYS, json={"role": "operations", "name": "till 3"}, headers=admin).json()
    assert client.get(PRODUCTS, headers=bearer(created["key"])).status_code == 200

    revoked = client.delete(f"{KEYS}/{created['id']}", headers=admin)

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert_problem(client.get(PRODUCTS, headers=bearer(created["key"])), 401, "invalid_key")


def test_revoking_an_unknown_key_is_404(client: TestClient, admin: dict[str, str]) -> None:
    assert_problem(client.delete(f"{KEYS}/9999", headers=admin), 404, "unknown_key")


# --- roles -------------------------------------------------------------------------------------------


def test_an_associate_key_can_read_products_but_not_create_them(
        client: TestClient, db: Database, admin: dict[str, str], location_id: str) -> None:
    client.post(PRODUCTS, json=product("P-1"), headers=admin)
    associate = bearer(make_key(db, Role.ASSOCIATE, location_ids=[location_id]))

    assert_problem(client.post(PRODUCTS, json=product("P-2"), headers=associate), 403, "role_forbidden")
    listed = client.get(PRODUCTS, headers=associate)
    assert listed.status_code == 200
    assert [p["sku"] for p in listed.json()["items"]] == ["P-1"]
    assert client.get(f"{PRODUCTS}/P-1", headers=associate).status_code == 200


def test_a_customer_key_can_read_products_but_not_list_keys(
        client: TestClient, db: Database, admin: dict[str, str]) -> None:
    client.post(PRODUCTS, json=product("P-1"), headers=admin)
    customer = customer_headers(db)

    assert client.get(f"{PRODUCTS}/P-1", headers=customer).status_code == 200
    assert_problem(client.get(KEYS, headers=customer), 403, "role_forbidden")
    assert_problem(client.post(PRODUCTS, json=product("P-2"), headers=customer), 403, "role_forbidden")


def test_an_integration_key_can_create_products(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    integration = bearer(make_key(db, Role.INTEGRATION, channel="web"))

    response = client.post(PRODUCTS, json=product("P-1"), headers=integration)

    assert response.status_code == 201
    assert client.get(f"{PRODUCTS}/P-1", headers=admin).json()["sku"] == "P-1"


# --- keys API ----------------------------------------------------------------------------------------


def test_admin_issues_an_associate_key_whose_secret_is_shown_once(
        client: TestClient, admin: dict[str, str], location_id: str) -> None:
    response = client.post(KEYS, json={"role": "associate", "name": "Anna", "location_ids": [location_id]},
                           headers=admin)

    assert response.status_code == 201
    issued = response.json()
    secret = issued["key"]
    assert secret.startswith("omr_")
    assert (issued["role"], issued["name"], issued["location_ids"], issued["revoked_at"]) == (
        "associate", "Anna", [location_id], None)
    assert issued["prefix"] == secret[:12]
    assert client.get(PRODUCTS, headers=bearer(secret)).status_code == 200
    listed = client.get(KEYS, headers=admin)
    assert listed.status_code == 200
    assert secret not in listed.text
    assert all("key" not in item and "key_hash" not in item for item in listed.json()["items"])
    assert [i["name"] for i in listed.json()["items"]] == ["test admin", "Anna"]


def test_an_associate_key_needs_a_location(client: TestClient, admin: dict[str, str]) -> None:
    before = key_count(client, admin)

    body = assert_problem(client.post(KEYS, json={"role": "associate"}, headers=admin), 422, "scope_required")

    assert error_fields(body) == ["location_ids"]
    assert key_count(client, admin) == before


@pytest.mark.parametrize("customer_id", ["999999", "not-a-number", "0"])
def test_a_customer_key_for_an_unknown_customer_is_refused(client: TestClient, admin: dict[str, str],
                                                           customer_id: str) -> None:
    before = key_count(client, admin)

    body = assert_problem(client.post(KEYS, json={"role": "customer", "customer_id": customer_id}, headers=admin),
                          422, "unknown_customer")

    assert error_fields(body) == ["customer_id"]
    assert key_count(client, admin) == before


def test_an_associate_key_for_an_unknown_location_is_refused(client: TestClient, admin: dict[str, str],
                                                             location_id: str) -> None:
    before = key_count(client, admin)

    response = client.post(KEYS, json={"role": "associate", "location_ids": [location_id, "nowhere"]}, headers=admin)

    body = assert_problem(response, 422, "unknown_location")
    assert error_fields(body) == ["location_ids.1"]
    assert key_count(client, admin) == before


def test_an_integration_key_for_an_unknown_channel_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    before = key_count(client, admin)

    response = client.post(KEYS, json={"role": "integration", "channel": "carrier-pigeon"}, headers=admin)

    body = assert_problem(response, 422, "unknown_channel")
    assert error_fields(body) == ["channel"]
    assert key_count(client, admin) == before


def test_only_admins_manage_keys(client: TestClient, db: Database) -> None:
    operations = bearer(make_key(db, Role.OPERATIONS))

    assert_problem(client.get(KEYS, headers=operations), 403, "role_forbidden")
    assert_problem(client.post(KEYS, json={"role": "admin"}, headers=operations), 403, "role_forbidden")


# --- channels ------------------------------------------------------------------------------------------


def test_the_ten_standard_channels_are_listed(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get(CHANNELS, headers=admin)

    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 10
    assert {c["code"] for c in items} == STANDARD_CHANNELS
    assert all(c["kind"] == c["code"] and c["active"] is True for c in items)


def test_admin_registers_a_second_marketplace(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(CHANNELS, json=ZALANDO, headers=admin)

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["code"], body["kind"], body["name"], body["active"]) == (
        "marketplace-zalando", "marketplace", "Zalando", True)
    codes = {c["code"] for c in client.get(CHANNELS, headers=admin).json()["items"]}
    assert codes == STANDARD_CHANNELS | {"marketplace-zalando"}
    assert client.get(f"{CHANNELS}/marketplace-zalando", headers=admin).json()["kind"] == "marketplace"


def test_registering_the_same_channel_twice_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    client.post(CHANNELS, json=ZALANDO, headers=admin)

    assert_problem(client.post(CHANNELS, json=ZALANDO, headers=admin), 409, "duplicate_channel")


def test_a_standard_channel_code_cannot_be_registered_again(client: TestClient, admin: dict[str, str]) -> None:
    assert_problem(client.post(CHANNELS, json={**ZALANDO, "code": "web"}, headers=admin), 409, "duplicate_channel")
    assert len(client.get(CHANNELS, headers=admin).json()["items"]) == 10


def test_operations_cannot_register_channels(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    operations = bearer(make_key(db, Role.OPERATIONS))

    assert_problem(client.post(CHANNELS, json=ZALANDO, headers=operations), 403, "role_forbidden")
    assert len(client.get(CHANNELS, headers=admin).json()["items"]) == 10


def test_a_channel_of_an_unknown_kind_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(CHANNELS, json={**ZALANDO, "kind": "fax"}, headers=admin)

    assert_problem(response, 422, "validation_error")
    assert len(client.get(CHANNELS, headers=admin).json()["items"]) == 10


# --- health ------------------------------------------------------------------------------------------


def test_healthz_answers_without_a_key(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_reports_the_database_and_the_current_migration(client: TestClient, db: Database) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["migrations"]) == ("ok", db.dialect, migrate.head_revision())


# --- every error is problem+json ----------------------------------------------------------------------

Call = Callable[[TestClient, Database, dict[str, str]], Response]

ERROR_CALLS: dict[str, tuple[Call, int, str]] = {
    "unknown-route": (lambda c, db, a: c.get("/api/v1/no-such-thing", headers=a), 404, "not_found"),
    "unknown-page": (lambda c, db, a: c.get("/no/such/page"), 404, "not_found"),
    "wrong-method": (lambda c, db, a: c.delete(PRODUCTS, headers=a), 405, "method_not_allowed"),
    "missing-key": (lambda c, db, a: c.get(PRODUCTS), 401, "missing_key"),
    "invalid-key": (lambda c, db, a: c.get(PRODUCTS, headers=bearer("omr_nope")), 401, "invalid_key"),
    "role-forbidden": (lambda c, db, a: c.get(KEYS, headers=customer_headers(db)),
                       403, "role_forbidden"),
    "unknown-sku": (lambda c, db, a: c.get(f"{PRODUCTS}/NOPE", headers=a), 404, "unknown_sku"),
    "duplicate-sku": (lambda c, db, a: [c.post(PRODUCTS, json=product(), headers=a) for _ in range(2)][-1],
                      409, "duplicate_sku"),
    "validation": (lambda c, db, a: c.post(PRODUCTS, json={"sku": "P-1"}, headers=a), 422, "validation_error"),
    "malformed-json": (lambda c, db, a: c.post(PRODUCTS, content=b"{",
                                               headers={**a, "Content-Type": "application/json"}),
                       422, "malformed_json"),
    "bad-query": (lambda c, db, a: c.get(PRODUCTS, params={"limit": "many"}, headers=a), 422, "validation_error"),
    "domain-invalid": (lambda c, db, a: c.post(PRODUCTS, json={**product(), "ean": "123"}, headers=a),
                       422, "invalid_ean"),
    "unknown-channel": (lambda c, db, a: c.get(f"{CHANNELS}/nope", headers=a), 404, "unknown_channel"),
}


@pytest.mark.parametrize("case", list(ERROR_CALLS))
def test_every_error_is_problem_json_with_a_stable_code(client: TestClient, db: Database, admin: dict[str, str],
                                                        case: str) -> None:
    call, status, code = ERROR_CALLS[case]

    response = call(client, db, admin)

    body = assert_problem(response, status, code)
    assert body["type"] == f"/problems/{code}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
