"""Loyalty over HTTP: balance and tiers, the ledger, earning and spending, rewards and gifts, roles, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from omniretail.core.db import Database
from omniretail.core.security import Role
from omniretail.customers.models import Profile
from omniretail.inventory.invariants import stock_violations
from tests.conftest import bearer, make_key
from tests.helpers import assert_problem, error_fields

REWARDS = "/api/v1/loyalty/rewards"
Headers = dict[str, str]


def new_profile(db: Database, given: str = "Ada", *, merged_into: int | None = None) -> int:
    with db.write() as s:
        profile = Profile(status="merged" if merged_into else "active", merged_into_id=merged_into,
                          given_name=given, family_name="Lovelace")
        s.add(profile)
        s.flush()
        return profile.id


def loyalty_url(customer_id: int, tail: str = "") -> str:
    return f"/api/v1/customers/{customer_id}/loyalty{tail}"


def post_entry(client: TestClient, headers: Headers, customer_id: int, kind: str, points: int | None = None,
               cause_id: str = "o-1", **fields: Any) -> Response:
    body = {"kind": kind, "channel": fields.pop("channel", "web"),
            "cause": fields.pop("cause", {"type": "order", "id": cause_id}), **fields}
    if points is not None:
        body["points"] = points
    return client.post(loyalty_url(customer_id, "/entries"), headers=headers, json=body)


def posted(client: TestClient, headers: Headers, customer_id: int, kind: str, points: int | None = None,
           cause_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    response = post_entry(client, headers, customer_id, kind, points, cause_id, **fields)
    assert response.status_code == 201, response.text
    return response.json()


def account(client: TestClient, headers: Headers, customer_id: int) -> dict[str, Any]:
    response = client.get(loyalty_url(customer_id), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def ada(db: Database) -> int:
    return new_profile(db)


@pytest.fixture
def store(client: TestClient, admin: Headers) -> None:
    """Store s1 with 3 gift mugs (hidden at 2 or fewer) and a gift reward for 100 points."""
    assert client.post("/api/v1/locations", headers=admin, json={
        "id": "s1", "name": "Store", "type": "store", "lat": 52.5, "lon": 13.4}).status_code == 201
    assert client.post("/api/v1/products", headers=admin, json={
        "sku": "MUG", "name": "Mug", "price": {"amount": "4.00", "currency": "EUR"}, "is_gift": True,
        "gift_min_stock": 2, "gift_low_policy": "hide"}).status_code == 201
    assert client.post("/api/v1/inventory/receipts", headers=admin, json={
        "location_id": "s1", "sku": "MUG", "quantity": 3, "lot": "L1"}).status_code == 201
    assert client.post(REWARDS, headers=admin, json={
        "code": "MUG-100", "name": "A mug", "points": 100, "sku": "MUG"}).status_code == 201


# --- balance, ledger, earning, spending ------------------------------------------------------------


def test_a_new_customer_is_a_member_with_no_points_and_the_first_tier_ahead(client, admin, ada):
    assert account(client, admin, ada) == {"customer_id": ada, "balance": 0, "lifetime_earned": 0, "tier": "member",
                                           "next_tier": {"name": "silver", "points_needed": 1000}}


def test_a_purchase_amount_earns_points_and_answers_201_with_the_entry_and_the_balance(client, admin, ada):
    body = posted(client, admin, ada, "earn", amount={"amount": "1234.56", "currency": "EUR"}, channel="pos",
                  cause={"type": "pos_sale", "id": "till-3/77"})
    entry = body["entry"]
    assert (body["customer_id"], body["balance"], body["tier"]) == (ada, 1234, "silver")
    assert (entry["kind"], entry["points"], entry["balance_after"], entry["cause"], entry["channel"]) == (
        "earn", 1234, 1234, {"type": "pos_sale", "id": "till-3/77"}, "pos")
    assert account(client, admin, ada)["next_tier"] == {"name": "gold", "points_needed": 5000 - 1234}


def test_earning_twice_for_one_order_answers_409_duplicate_cause(client, admin, ada):
    posted(client, admin, ada, "earn", 40, "o-7")
    assert_problem(post_entry(client, admin, ada, "earn", 40, "o-7"), 409, "duplicate_cause")
    assert account(client, admin, ada)["balance"] == 40


def test_spending_more_than_the_balance_answers_409_with_the_balance(client, admin, ada):
    posted(client, admin, ada, "earn", 25)
    body = assert_problem(post_entry(client, admin, ada, "spend", 26, "s-1"), 409, "insufficient_points")
    assert body["balance"] == 25
    assert posted(client, admin, ada, "spend", 25, "s-1")["balance"] == 0


def test_a_reversal_and_an_adjustment_are_booked_with_their_reasons(client, admin, ada):
    posted(client, admin, ada, "earn", 100, "o-1")
    body = posted(client, admin, ada, "reverse", 30, "o-1", reason="2 of 5 items returned")
    assert (body["entry"]["points"], body["entry"]["reason"], body["balance"]) == (-30, "2 of 5 items returned", 70)
    body = posted(client, admin, ada, "adjust", -5, cause={"type": "manual", "id": "ticket-9"}, reason="goodwill back")
    assert (body["entry"]["kind"], body["balance"]) == ("adjust", 65)
    assert account(client, admin, ada)["lifetime_earned"] == 70


def test_the_ledger_is_listed_newest_first_a_page_at_a_time(client, admin, ada):
    for n in range(3):
        posted(client, admin, ada, "earn", 10 + n, f"o-{n}")
    first = client.get(loyalty_url(ada, "/entries"), headers=admin, params={"limit": 2}).json()
    assert [e["points"] for e in first["items"]] == [12, 11]
    second = client.get(loyalty_url(ada, "/entries"), headers=admin,
                        params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert ([e["points"] for e in second["items"]], second["next_cursor"]) == ([10], None)


def test_a_merged_customer_id_answers_for_the_surviving_profile(client, admin, db, ada):
    posted(client, admin, ada, "earn", 15)
    old = new_profile(db, "Ada L.", merged_into=ada)
    assert account(client, admin, old)["customer_id"] == ada
    assert posted(client, admin, old, "earn", 5, "o-2")["customer_id"] == ada
    assert account(client, admin, ada)["balance"] == 20


@pytest.mark.parametrize(("change", "field"), [
    ({"points": 0}, "points"),
    ({"points": -3}, "points"),
    ({"points": 1_000_000_001}, "points"),
    ({"points": "many"}, "points"),
    ({"channel": "telegraph"}, "channel"),
    ({"cause": {"type": "order"}}, "cause.id"),
    ({"kind": "gift"}, "kind"),
    ({"amount": {"amount": "1.00", "currency": "EUR"}}, "points"),
    ({"points": None, "amount": {"amount": "1.001", "currency": "EUR"}}, "amount.amount"),
    ({"points": None, "amount": {"amount": "10", "currency": "XXY"}}, "amount.currency"),
])
def test_bad_input_answers_422_naming_the_field(client, admin, ada, change, field):
    body = {"kind": "earn", "points": 10, "channel": "web", "cause": {"type": "order", "id": "o-1"}, **change}
    if body["points"] is None:
        del body["points"]
    response = client.post(loyalty_url(ada, "/entries"), headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert field in error_fields(response.json())
    assert account(client, admin, ada)["balance"] == 0


def test_spending_with_a_purchase_amount_or_without_points_is_refused(client, admin, ada):
    response = post_entry(client, admin, ada, "spend", 5, amount={"amount": "1.00", "currency": "EUR"})
    assert error_fields(assert_problem(response, 422, "amount_not_allowed")) == ["amount"]
    assert error_fields(assert_problem(post_entry(client, admin, ada, "spend"), 422, "points_required")) == ["points"]
    response = post_entry(client, admin, ada, "adjust", 5, cause={"type": "manual", "id": "t-1"})
    assert error_fields(assert_problem(response, 422, "reason_required")) == ["reason"]


def test_an_unknown_customer_answers_404(client, admin):
    assert_problem(client.get(loyalty_url(999_999), headers=admin), 404, "unknown_customer")
    assert_problem(post_entry(client, admin, 999_999, "earn", 5), 404, "unknown_customer")


def test_an_idempotency_key_replays_the_first_answer_and_books_once(client, admin, ada):
    headers = {**admin, "Idempotency-Key": "earn-o-1"}
    first = post_entry(client, headers, ada, "earn", 50)
    again = post_entry(client, headers, ada, "earn", 50)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert account(client, admin, ada)["balance"] == 50
    assert_problem(post_entry(client, headers, ada, "earn", 51), 409, "idempotency_key_reused")


# --- roles ------------------------------------------------------------------------------------------


def test_a_customer_key_reads_and_spends_its_own_points_only(client, admin, db, ada):
    bob = new_profile(db, "Bob")
    posted(client, admin, ada, "earn", 30)
    own = bearer(make_key(db, Role.CUSTOMER, customer_id=str(ada)))
    assert account(client, own, ada)["balance"] == 30
    assert posted(client, own, ada, "spend", 10, "s-1", channel="app")["balance"] == 20
    assert_problem(client.get(loyalty_url(bob), headers=own), 403, "not_your_profile")
    assert_problem(client.get(loyalty_url(bob, "/entries"), headers=own), 403, "not_your_profile")
    assert_problem(post_entry(client, own, bob, "spend", 1, "s-2"), 403, "not_your_profile")
    assert_problem(post_entry(client, own, ada, "earn", 1000, "o-2"), 403, "role_forbidden")


def test_each_role_books_only_the_kinds_it_may(client, admin, db, ada):
    posted(client, admin, ada, "earn", 100, "o-1")
    assert client.post("/api/v1/locations", headers=admin, json={
        "id": "s1", "name": "Store", "type": "store", "lat": 52.5, "lon": 13.4}).status_code == 201
    associate = bearer(make_key(db, Role.ASSOCIATE, location_ids=["s1"]))
    agent = bearer(make_key(db, Role.AGENT))
    pos = bearer(make_key(db, Role.INTEGRATION, channel="pos"))
    assert posted(client, associate, ada, "earn", 10, "o-2", channel="pos")["balance"] == 110
    assert_problem(post_entry(client, associate, ada, "spend", 10, "s-1"), 403, "role_forbidden")
    assert posted(client, agent, ada, "spend", 10, "s-1", channel="call_centre")["balance"] == 100
    assert_problem(post_entry(client, agent, ada, "earn", 10, "o-3"), 403, "role_forbidden")
    assert_problem(post_entry(client, agent, ada, "adjust", 10, reason="nice"), 403, "role_forbidden")
    assert posted(client, pos, ada, "reverse", 10, "o-2", channel="pos", reason="returned")["balance"] == 90
    assert_problem(post_entry(client, pos, ada, "adjust", 10, reason="nice"), 403, "role_forbidden")
    assert client.get(loyalty_url(ada), headers=agent).status_code == 200
    assert_problem(client.get(loyalty_url(ada)), 401, "missing_key")


# --- rewards and redemptions ------------------------------------------------------------------------


def test_rewards_are_created_by_operations_and_listed_to_everyone(client, admin, db, ada, store):
    customer = bearer(make_key(db, Role.CUSTOMER, customer_id=str(ada)))
    agent = bearer(make_key(db, Role.AGENT))
    response = client.post(REWARDS, headers=admin, json={"code": "COFFEE", "name": "Free coffee", "points": 30})
    assert response.status_code == 201, response.text
    assert {k: response.json()[k] for k in ("code", "points", "sku", "gift", "active")} == {
        "code": "COFFEE", "points": 30, "sku": None, "gift": False, "active": True}
    listed = client.get(REWARDS, headers=customer).json()
    assert [(r["code"], r["sku"], r["gift"]) for r in listed["items"]] == [("MUG-100", "MUG", True),
                                                                          ("COFFEE", None, False)]
    assert_problem(client.post(REWARDS, headers=agent, json={"code": "X", "name": "X", "points": 1}), 403,
                   "role_forbidden")
    assert_problem(client.post(REWARDS, headers=admin, json={"code": "COFFEE", "name": "Again", "points": 5}), 409,
                   "duplicate_reward")
    body = assert_problem(client.post(REWARDS, headers=admin, json={"code": "Z", "name": "Z", "points": 0}), 422,
                          "invalid_points")
    assert error_fields(body) == ["points"]
    body = assert_problem(client.post(REWARDS, headers=admin, json={"code": "Y", "name": "Y", "points": 5,
                                                                    "sku": "NOPE"}), 422, "unknown_sku")
    assert error_fields(body) == ["sku"]


def test_a_customer_redeems_a_gift_and_one_unit_leaves_the_store(client, admin, db, ada, store):
    posted(client, admin, ada, "earn", 150)
    own = bearer(make_key(db, Role.CUSTOMER, customer_id=str(ada)))
    response = client.post(loyalty_url(ada, "/redemptions"), headers=own,
                           json={"reward": "MUG-100", "location_id": "s1", "channel": "app"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["reward"], body["points"], body["balance"], body["sku"], body["location_id"]) == (
        "MUG-100", 100, 50, "MUG", "s1")
    assert (body["entry"]["kind"], body["entry"]["cause"]) == (
        "redeem", {"type": "reward", "id": f"MUG-100:{body['id']}"})
    level = client.get("/api/v1/inventory/s1/MUG", headers=admin).json()
    assert level["on_hand"] == 2
    with db.read() as s:
        assert stock_violations(s) == []


def test_a_hidden_gift_that_runs_out_answers_409_and_keeps_the_points(client, admin, db, ada, store):
    posted(client, admin, ada, "earn", 300)
    redeem = {"reward": "MUG-100", "location_id": "s1", "channel": "pos"}
    assert client.post(loyalty_url(ada, "/redemptions"), headers=admin, json=redeem).status_code == 201
    body = assert_problem(client.post(loyalty_url(ada, "/redemptions"), headers=admin, json=redeem), 409,
                          "reward_unavailable")
    assert body["why"] == "running_out"
    assert account(client, admin, ada)["balance"] == 200
    assert client.get("/api/v1/inventory/s1/MUG", headers=admin).json()["on_hand"] == 2


def test_redemptions_refuse_other_customers_unknown_rewards_and_gifts_without_a_location(client, admin, db, ada,
                                                                                         store):
    bob = new_profile(db, "Bob")
    posted(client, admin, bob, "earn", 500)
    own = bearer(make_key(db, Role.CUSTOMER, customer_id=str(ada)))
    assert_problem(client.post(loyalty_url(bob, "/redemptions"), headers=own,
                               json={"reward": "MUG-100", "location_id": "s1", "channel": "app"}), 403,
                   "not_your_profile")
    assert_problem(client.post(loyalty_url(bob, "/redemptions"), headers=admin,
                               json={"reward": "NOPE", "channel": "app"}), 404, "unknown_reward")
    body = assert_problem(client.post(loyalty_url(bob, "/redemptions"), headers=admin,
                                      json={"reward": "MUG-100", "channel": "app"}), 422, "location_required")
    assert error_fields(body) == ["location_id"]
    assert account(client, admin, bob)["balance"] == 500
