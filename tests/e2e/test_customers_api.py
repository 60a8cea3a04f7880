"""Customers over HTTP: identify, look-up of merged ids, merges and their undo, review queue, timeline, consents,
export, erasure, addresses, roles and bad input; and `omniretail customers dedupe`."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from typer.testing import CliRunner

from omniretail.cli import app as cli_app
from omniretail.core.config import get_settings
from omniretail.core.db import Database
from omniretail.core.security import Role
from omniretail.customers.bulkload import load_people
from omniretail.customers.matching import Person
from omniretail.customers.models import Identity, Merge, Profile, Suggestion
from tests.conftest import bearer, make_key
from tests.helpers import assert_problem, error_fields

CUSTOMERS = "/api/v1/customers"
Headers = dict[str, str]
KASSEL = {"line1": "Lindenstraße 5", "line2": None, "city": "Kassel", "postcode": "34117", "region": None,
          "country": "DE"}
IDENTIFY_ADA = {  # exactly the shape docs/api.md fixes
    "channel": "web",
    "identities": [{"type": "email", "value": "Ada@Example.com", "country": None},
                   {"type": "phone", "value": "0561 123456", "country": "DE"}],
    "attributes": {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1990-05-17", "language": "en",
                   "address": KASSEL},
}


def identify(client: TestClient, headers: Headers, *identities: tuple[str, str], channel: str = "web",
             **attributes: Any) -> Response:
    return client.post(f"{CUSTOMERS}/identify", headers=headers, json={
        "channel": channel, "identities": [{"type": t, "value": v} for t, v in identities], "attributes": attributes})


def new_customer(client: TestClient, headers: Headers, *identities: tuple[str, str], **attributes: Any) -> int:
    response = identify(client, headers, *identities, **attributes)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def merge(client: TestClient, headers: Headers, survivor: int, absorbed: int, **extra: Any) -> Response:
    return client.post(f"{CUSTOMERS}/merge", headers=headers,
                       json={"survivor_id": survivor, "absorbed_id": absorbed, **extra})


@pytest.fixture
def ada(client, admin) -> int:
    return ok(client.post(f"{CUSTOMERS}/identify", headers=admin, json=IDENTIFY_ADA), 201)["id"]


@pytest.fixture
def bob(client, admin) -> int:
    return new_customer(client, admin, ("loyalty_card", "4711 0002"), given_name="Bob", family_name="Brown")


# --- identify and look-up ------------------------------------------------------------------------------


def test_identify_in_the_documented_shape_answers_201_then_200_with_the_same_id(client, admin):
    first = ok(client.post(f"{CUSTOMERS}/identify", headers=admin, json=IDENTIFY_ADA), 201)
    assert {k: first[k] for k in ("status", "given_name", "family_name", "date_of_birth", "language", "email",
                                  "phone", "created_channel")} == {
        "status": "active", "given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1990-05-17",
        "language": "en", "email": "ada@example.com", "phone": "+49561123456", "created_channel": "web"}
    assert [(i["type"], i["value"]) for i in first["identities"]] == [("email", "ada@example.com"),
                                                                      ("phone", "+49561123456")]
    assert [(a["line1"], a["is_default"]) for a in first["addresses"]] == [("Lindenstraße 5", True)]
    assert first["resolution"] == {"matched_by": "new", "linked": ["email", "phone"], "suggestions": [],
                                   "merged": []}
    assert first["loyalty"] == {"balance": 0, "tier": "member"}
    again = ok(identify(client, admin, ("phone", "+49 561 123456"), channel="pos"))
    assert (again["id"], again["resolution"]["matched_by"]) == (first["id"], "phone")
    assert ok(client.get(f"{CUSTOMERS}/{first['id']}", headers=admin))["id"] == first["id"]


def test_a_merged_id_answers_200_with_the_surviving_profile(client, admin, ada, bob):
    ok(merge(client, admin, ada, bob))
    found = ok(client.get(f"{CUSTOMERS}/{bob}", headers=admin))
    assert (found["id"], found["requested_id"], found["status"], found["merged_from"]) == (ada, bob, "active", [bob])
    assert ("loyalty_card", "47110002") in [(i["type"], i["value"]) for i in found["identities"]]


def test_an_unknown_customer_is_404(client, admin):
    for url in (f"{CUSTOMERS}/99999", f"{CUSTOMERS}/99999/timeline", f"{CUSTOMERS}/99999/consents",
                f"{CUSTOMERS}/99999/export", f"{CUSTOMERS}/99999/prefill"):
        assert_problem(client.get(url, headers=admin), 404, "unknown_customer")


def test_staff_find_a_customer_by_email_phone_card_or_name(client, admin, ada, bob):
    for q in ("ADA@example.com", "0561 123456", "Lovelace", "lovelace ad"):
        assert [p["id"] for p in ok(client.get(CUSTOMERS, headers=admin, params={"q": q}))["items"]] == [ada], q
    assert [p["id"] for p in ok(client.get(CUSTOMERS, headers=admin, params={"q": "4711-0002"}))["items"]] == [bob]


def test_a_card_number_with_letters_is_found_in_any_case(client, admin):
    card_holder = new_customer(client, admin, ("loyalty_card", "C-2048"), given_name="Cleo")

    for q in ("C-2048", "c2048"):
        assert [p["id"] for p in ok(client.get(CUSTOMERS, headers=admin, params={"q": q}))["items"]] == [card_holder]


def test_identify_without_any_identity_or_name_is_refused_and_creates_nothing(client, admin, db):
    body = assert_problem(client.post(f"{CUSTOMERS}/identify", headers=admin, json={"channel": "web"}), 422,
                          "nothing_to_identify")

    assert error_fields(body) == ["identities"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Profile)) == 0


def test_an_integration_key_identifies_only_for_its_own_channel(client, db):
    web_shop = bearer(make_key(db, Role.INTEGRATION, channel="web"))

    assert identify(client, web_shop, ("email", "x@example.com"), channel="web").status_code == 201
    assert_problem(identify(client, web_shop, ("email", "y@example.com"), channel="pos"), 403,
                   "channel_out_of_scope")


def test_an_abbreviated_street_is_the_same_saved_address(client, admin, ada):
    same = {**KASSEL, "line1": "Lindenstr. 5"}
    response = client.post(f"{CUSTOMERS}/{ada}/addresses", headers=admin, json=same)

    assert response.status_code == 200
    assert len(ok(client.get(f"{CUSTOMERS}/{ada}/addresses", headers=admin))["items"]) == 1


def test_a_profile_is_edited_with_patch_and_fields_left_out_stay(client, admin, ada):
    changed = ok(client.patch(f"{CUSTOMERS}/{ada}", headers=admin, json={"family_name": "King",
                                                                         "preferred_channel": "sms"}))
    assert (changed["given_name"], changed["family_name"], changed["preferred_channel"]) == ("Ada", "King", "sms")
    body = assert_problem(client.patch(f"{CUSTOMERS}/{ada}", headers=admin, json={"preferred_channel": "fax"}),
                          422, "unknown_channel")
    assert error_fields(body) == ["preferred_channel"]


# --- merges --------------------------------------------------------------------------------------------


def test_a_merge_and_its_undo_over_http(client, admin, ada, bob):
    merged = ok(merge(client, admin, ada, bob, reason="same person at the till"))
    assert (merged["survivor_id"], merged["absorbed_id"], merged["source"], merged["reason"], merged["undone_at"]) == (
        ada, bob, "staff", "same person at the till", None)
    assert merged["moved"]["customer_identities"] == 1
    assert ok(client.get(f"{CUSTOMERS}/merges/{merged['id']}", headers=admin))["id"] == merged["id"]
    assert [m["id"] for m in ok(client.get(f"{CUSTOMERS}/{bob}/merges", headers=admin))["items"]] == [merged["id"]]
    undone = ok(client.post(f"{CUSTOMERS}/merges/{merged['id']}/undo", headers=admin, json={"reason": "two people"}))
    assert undone["undone_at"] is not None and undone["undone_by"].startswith("key:")
    assert ok(client.get(f"{CUSTOMERS}/{bob}", headers=admin))["id"] == bob
    assert_problem(client.post(f"{CUSTOMERS}/merges/{merged['id']}/undo", headers=admin), 409,
                   "merge_already_undone")
    assert_problem(client.post(f"{CUSTOMERS}/merges/424242/undo", headers=admin), 404, "unknown_merge")


def test_merges_that_cannot_be_are_conflicts(client, admin, ada, bob):
    assert_problem(merge(client, admin, ada, ada), 409, "same_profile")
    assert ok(client.post(f"{CUSTOMERS}/{bob}/erase", headers=admin))["erased_now"] is True
    assert_problem(merge(client, admin, ada, bob), 409, "profile_erased")
    assert_problem(merge(client, admin, ada, 99999), 404, "unknown_customer")
    body = assert_problem(merge(client, admin, ada, 0), 422, "validation_error")
    assert error_fields(body) == ["absorbed_id"]


def test_a_merge_is_undone_only_while_it_is_the_latest(client, admin, ada, bob):
    third = new_customer(client, admin, ("email", "third@example.com"))
    first = ok(merge(client, admin, ada, bob))["id"]
    ok(merge(client, admin, third, ada))
    assert_problem(client.post(f"{CUSTOMERS}/merges/{first}/undo", headers=admin), 409, "merge_not_latest")


def test_the_review_queue_lists_accepts_and_rejects_suggestions(client, admin, ada, bob):
    carl = new_customer(client, admin, ("device_id", "dev-3"), given_name="Carl", family_name="Clark")
    conflict = ok(identify(client, admin, ("email", "ada@example.com"), ("loyalty_card", "47110002")))
    assert conflict["id"] == bob and len(conflict["resolution"]["suggestions"]) == 1
    ok(identify(client, admin, ("email", "ada@example.com"), ("device_id", "dev-3")))
    queue = ok(client.get(f"{CUSTOMERS}/suggestions", headers=admin, params={"limit": 1}))
    assert [(s["a_id"], s["b_id"], s["status"]) for s in queue["items"]] == [(ada, bob, "pending")]
    assert [(p["id"], p["given_name"], p["family_name"], p["city"]) for p in queue["items"][0]["profiles"]] == [
        (ada, "Ada", "Lovelace", "Kassel"), (bob, "Bob", "Brown", None)]
    rest = ok(client.get(f"{CUSTOMERS}/suggestions", headers=admin, params={"cursor": queue["next_cursor"]}))
    assert ([(s["a_id"], s["b_id"]) for s in rest["items"]], rest["next_cursor"]) == ([(ada, carl)], None)
    first, second = queue["items"][0]["id"], rest["items"][0]["id"]
    accepted = ok(client.post(f"{CUSTOMERS}/suggestions/{first}/accept", headers=admin, json={"survivor_id": bob}))
    assert (accepted["survivor_id"], accepted["absorbed_id"], accepted["source"]) == (bob, ada, "suggestion")
    rejected = ok(client.post(f"{CUSTOMERS}/suggestions/{second}/reject", headers=admin, json={"reason": "no"}))
    assert rejected["status"] == "rejected"
    assert_problem(client.post(f"{CUSTOMERS}/suggestions/{second}/accept", headers=admin), 409, "suggestion_decided")
    assert_problem(client.post(f"{CUSTOMERS}/suggestions/777/reject", headers=admin), 404, "unknown_suggestion")
    assert ok(client.get(f"{CUSTOMERS}/suggestions", headers=admin))["items"] == []
    decided = ok(client.get(f"{CUSTOMERS}/suggestions", headers=admin, params={"status": "rejected"}))["items"]
    assert [s["id"] for s in decided] == [second]


# --- timeline ------------------------------------------------------------------------------------------


def test_the_timeline_is_newest_first_and_pages_with_a_cursor(client, admin, ada):
    for purpose in ("marketing", "analytics", "service"):
        ok(client.post(f"{CUSTOMERS}/{ada}/consents", headers=admin, json={
            "source_channel": "web", "consents": [{"purpose": purpose, "channel": "all", "granted": True,
                                                   "wording_version": "v1"}]}), 201)
    everything = ok(client.get(f"{CUSTOMERS}/{ada}/timeline", headers=admin))
    ids = [e["id"] for e in everything["items"]]
    assert ids == sorted(ids, reverse=True) and everything["next_cursor"] is None
    assert [e["kind"] for e in everything["items"]][:3] == ["consent_given"] * 3
    assert everything["items"][-1]["kind"] == "profile_created"
    paged, cursor = [], None
    while True:
        page = ok(client.get(f"{CUSTOMERS}/{ada}/timeline", headers=admin,
                             params={"limit": 2, **({"cursor": cursor} if cursor else {})}))
        assert len(page["items"]) <= 2 and page["customer_id"] == ada
        paged += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == ids
    assert_problem(client.get(f"{CUSTOMERS}/{ada}/timeline", headers=admin, params={"cursor": "bm9wZQ"}), 422,
                   "invalid_cursor")


def test_the_timeline_of_a_merged_id_is_the_survivors(client, admin, ada, bob):
    ok(merge(client, admin, ada, bob))
    timeline = ok(client.get(f"{CUSTOMERS}/{bob}/timeline", headers=admin))
    assert timeline["customer_id"] == ada
    assert timeline["items"][0]["kind"] == "merged"


# --- consents, export, erasure -------------------------------------------------------------------------


def test_consents_are_recorded_listed_in_force_and_in_history(client, admin, ada):
    url = f"{CUSTOMERS}/{ada}/consents"
    recorded = ok(client.post(url, headers=admin, json={"source_channel": "web", "consents": [
        {"purpose": "marketing", "channel": "email", "granted": True, "wording_version": "v1"}]}), 201)
    assert [(c["purpose"], c["channel"], c["granted"]) for c in recorded["items"]] == [("marketing", "email", True)]
    ok(client.post(url, headers=admin, json={"source_channel": "call_centre", "consents": [
        {"purpose": "marketing", "channel": "email", "granted": False, "wording_version": "v2"}]}), 201)
    current = ok(client.get(url, headers=admin))["items"]
    assert [(c["granted"], c["wording_version"], c["source_channel"]) for c in current] == [
        (False, "v2", "call_centre")]
    history = ok(client.get(url, headers=admin, params={"history": "true"}))["items"]
    assert [c["granted"] for c in history] == [False, True]


@pytest.mark.parametrize(("consent", "status", "code", "field"), [
    ({"purpose": "spam", "channel": "all"}, 422, "validation_error", "consents.0.purpose"),
    ({"purpose": "marketing", "channel": "fax"}, 422, "unknown_channel", "consents.0.channel"),
])
def test_an_unknown_purpose_or_channel_is_refused_naming_its_field(client, admin, ada, consent, status, code,
                                                                  field):
    body = assert_problem(client.post(f"{CUSTOMERS}/{ada}/consents", headers=admin, json={
        "source_channel": "web", "consents": [{**consent, "granted": True, "wording_version": "v1"}]}), status, code)
    assert error_fields(body) == [field]


def test_the_export_is_a_json_attachment_of_everything_held(client, admin, ada):
    response = client.get(f"{CUSTOMERS}/{ada}/export", headers=admin)
    document = ok(response)
    assert response.headers["content-disposition"] == f'attachment; filename="customer-{ada}.json"'
    assert sorted(document) == ["addresses", "consents", "exported_at", "identities", "loyalty", "merged_profiles",
                                "merges", "profile", "timeline"]
    assert (document["profile"]["id"], document["profile"]["email"]) == (ada, "ada@example.com")


def test_erasure_over_http_is_harmless_twice_and_revokes_the_customers_key(client, admin, db, ada):
    own = bearer(make_key(db, Role.CUSTOMER, customer_id=str(ada)))
    assert ok(client.get(f"{CUSTOMERS}/{ada}", headers=own))["id"] == ada
    assert ok(client.post(f"{CUSTOMERS}/{ada}/erase", headers=own, json={"reason": "please forget me"})) == {
        "customer_id": ada, "status": "erased", "erased_now": True}
    assert_problem(client.get(f"{CUSTOMERS}/{ada}", headers=own), 401, "invalid_key")
    assert ok(client.post(f"{CUSTOMERS}/{ada}/erase", headers=admin))["erased_now"] is False
    erased = ok(client.get(f"{CUSTOMERS}/{ada}", headers=admin))
    assert (erased["status"], erased["given_name"], erased["email"], erased["identities"], erased["addresses"]) == (
        "erased", None, None, [], [])
    assert_problem(client.post(f"{CUSTOMERS}/{ada}/addresses", headers=admin, json=KASSEL), 409, "profile_erased")
    consent = {"purpose": "marketing", "channel": "all", "granted": True, "wording_version": "v1"}
    assert_problem(client.post(f"{CUSTOMERS}/{ada}/consents", headers=admin,
                               json={"source_channel": "web", "consents": [consent]}), 409, "profile_erased")
    assert_problem(client.patch(f"{CUSTOMERS}/{ada}", headers=admin, json={"given_name": "Ada"}), 409,
                   "profile_erased")
    assert ok(identify(client, admin, ("email", "ada@example.com")), 201)["id"] != ada


# --- addresses and prefill -----------------------------------------------------------------------------


def test_addresses_are_saved_once_flagged_removed_and_prefill_the_next_order(client, admin, ada):
    url = f"{CUSTOMERS}/{ada}/addresses"
    kassel = ok(client.get(url, headers=admin))["items"][0]["id"]
    berlin = ok(client.post(url, headers=admin, json={"line1": "Torstraße 1", "city": "Berlin", "postcode": "10119",
                                                      "country": "DE", "phone": "030 1234567"}), 201)
    assert (berlin["phone"], berlin["is_default"]) == ("+49301234567", False)
    same = ok(client.post(url, headers=admin, json={"line1": "TORSTRASSE 1", "city": "Berlin", "postcode": "10119",
                                                    "country": "de"}))
    assert same["id"] == berlin["id"]
    flagged = ok(client.post(f"{url}/{kassel}/delivery-failed", headers=admin, json={"reason": "refused"}))
    assert (flagged["failed_deliveries"], flagged["last_failed_at"] is not None) == (1, True)
    prefill = ok(client.get(f"{CUSTOMERS}/{ada}/prefill", headers=admin))
    assert (prefill["given_name"], prefill["email"], prefill["phone"], prefill["address"]["id"]) == (
        "Ada", "ada@example.com", "+49561123456", berlin["id"])
    assert client.delete(f"{url}/{berlin['id']}", headers=admin).status_code == 204
    assert [a["id"] for a in ok(client.get(url, headers=admin))["items"]] == [kassel]
    assert_problem(client.delete(f"{url}/{berlin['id']}", headers=admin), 404, "unknown_address")


@pytest.mark.parametrize(("address", "code", "field"), [
    ({"line1": "Lindenstraße 5", "city": "Kassel", "country": "DE"}, "missing_postcode", "address.postcode"),
    ({"line1": "Main St 1", "city": "X", "postcode": "1", "country": "XX"}, "invalid_country", "address.country"),
    ({"line1": "Lindenstraße 5", "city": "Kassel", "postcode": "34117", "country": "DE", "phone": "12"},
     "invalid_phone", "address.phone"),
    ({"line1": "Lindenstraße 5", "city": "Kassel", "postcode": "34117", "country": "DEU"}, "validation_error",
     "country"),
])
def test_a_bad_address_is_refused_naming_its_field(client, admin, ada, address, code, field):
    body = assert_problem(client.post(f"{CUSTOMERS}/{ada}/addresses", headers=admin, json=address), 422, code)
    assert error_fields(body) == [field]


def test_an_address_in_hong_kong_needs_no_postcode(client, admin, ada):
    saved = ok(client.post(f"{CUSTOMERS}/{ada}/addresses", headers=admin,
                           json={"line1": "1 Queen's Road", "city": "Hong Kong", "country": "HK"}), 201)
    assert (saved["postcode"], saved["country"]) == (None, "HK")


# --- roles ---------------------------------------------------------------------------------------------


def test_without_a_key_every_customer_route_is_401(client, ada):
    assert_problem(client.post(f"{CUSTOMERS}/identify", json=IDENTIFY_ADA), 401, "missing_key")
    assert_problem(client.get(f"{CUSTOMERS}/{ada}"), 401, "missing_key")
    assert_problem(client.get(f"{CUSTOMERS}/{ada}/timeline"), 401, "missing_key")
    assert_problem(client.post(f"{CUSTOMERS}/merge", json={"survivor_id": ada, "absorbed_id": ada}), 401,
                   "missing_key")


def test_a_customer_key_sees_its_own_profile_and_no_other(client, admin, db, ada, bob):
    own = bearer(make_key(db, Role.CUSTOMER, customer_id=str(ada)))
    assert ok(client.get(f"{CUSTOMERS}/{ada}", headers=own))["id"] == ada
    assert ok(client.get(f"{CUSTOMERS}/{ada}/timeline", headers=own))["customer_id"] == ada
    assert ok(client.get(f"{CUSTOMERS}/{ada}/export", headers=own))["profile"]["id"] == ada
    for url in (f"{CUSTOMERS}/{bob}", f"{CUSTOMERS}/{bob}/timeline", f"{CUSTOMERS}/{bob}/consents",
                f"{CUSTOMERS}/{bob}/export", f"{CUSTOMERS}/{bob}/prefill", f"{CUSTOMERS}/{bob}/addresses"):
        assert_problem(client.get(url, headers=own), 403, "not_your_profile")
    assert_problem(client.post(f"{CUSTOMERS}/{bob}/erase", headers=own), 403, "not_your_profile")
    assert_problem(client.post(f"{CUSTOMERS}/identify", headers=own, json=IDENTIFY_ADA), 403, "role_forbidden")
    assert_problem(merge(client, own, ada, bob), 403, "role_forbidden")
    assert_problem(client.get(f"{CUSTOMERS}/suggestions", headers=own), 403, "role_forbidden")


def test_a_customer_sees_in_the_timeline_what_staff_did_but_not_who(client, admin, db, ada):
    own = bearer(make_key(db, Role.CUSTOMER, customer_id=str(ada)))
    ok(client.post(f"{CUSTOMERS}/{ada}/consents", headers=own, json={"source_channel": "app", "consents": [
        {"purpose": "marketing", "channel": "email", "granted": False, "wording_version": "v1"}]}), 201)

    staff_view = ok(client.get(f"{CUSTOMERS}/{ada}/timeline", headers=admin))["items"]
    own_view = ok(client.get(f"{CUSTOMERS}/{ada}/timeline", headers=own))["items"]

    assert [e["kind"] for e in own_view] == [e["kind"] for e in staff_view]
    assert {e["actor"] for e in own_view} == {"you", "staff"}
    assert own_view[0]["actor"] == "you" and own_view[0]["kind"] == "consent_withdrawn"
    assert "staff" not in {e["actor"] for e in staff_view}


def test_a_customer_key_follows_its_profile_through_a_merge(client, admin, db, ada, bob):
    own = bearer(make_key(db, Role.CUSTOMER, customer_id=str(bob)))
    ok(merge(client, admin, ada, bob))
    assert ok(client.get(f"{CUSTOMERS}/{bob}", headers=own))["id"] == ada
    assert ok(client.get(f"{CUSTOMERS}/{ada}", headers=own))["id"] == ada


def test_an_associate_and_an_integration_identify_but_only_resolvers_merge(client, admin, db, ada, bob):
    assert client.post("/api/v1/locations", headers=admin, json={
        "id": "s1", "name": "Store", "type": "store", "lat": 52.5, "lon": 13.4}).status_code == 201
    associate = bearer(make_key(db, Role.ASSOCIATE, location_ids=["s1"]))
    integration = bearer(make_key(db, Role.INTEGRATION, channel="marketplace"))
    agent = bearer(make_key(db, Role.AGENT))
    assert ok(identify(client, associate, ("loyalty_card", "4711-0002"), channel="pos"))["id"] == bob
    assert ok(identify(client, integration, ("email", "ada@example.com"), channel="marketplace"))["id"] == ada
    assert ok(identify(client, integration, ("email", "new@example.com"), channel="marketplace"), 201)
    assert_problem(merge(client, associate, ada, bob), 403, "role_forbidden")
    assert_problem(merge(client, integration, ada, bob), 403, "role_forbidden")
    assert_problem(client.get(f"{CUSTOMERS}/suggestions", headers=associate), 403, "role_forbidden")
    assert_problem(client.get(f"{CUSTOMERS}/{ada}/export", headers=associate), 403, "role_forbidden")
    assert_problem(client.post(f"{CUSTOMERS}/{ada}/erase", headers=agent), 403, "role_forbidden")
    assert ok(merge(client, agent, ada, bob))["survivor_id"] == ada


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code", "fields"), [
    ({"channel": "web", "identities": [{"type": "email", "value": "ada@example.com"},
                                       {"type": "phone", "value": "12345", "country": "DE"}]},
     "invalid_phone", ["identities.1.value"]),
    ({"channel": "web", "identities": [{"type": "email", "value": "ada@"}]}, "invalid_email", ["identities.0.value"]),
    ({"channel": "web", "identities": [{"type": "passport", "value": "X1"}]}, "validation_error",
     ["identities.0.type"]),
    ({"channel": "web", "identities": [{"type": "email", "value": ""}]}, "validation_error", ["identities.0.value"]),
    ({"channel": "fax", "identities": [{"type": "email", "value": "ada@example.com"}]}, "unknown_channel",
     ["channel"]),
    ({"channel": "web", "attributes": {"date_of_birth": "1850-01-01"}}, "validation_error",
     ["attributes.date_of_birth"]),
    ({"channel": "web", "attributes": {"preferred_channel": "fax"}}, "unknown_channel",
     ["attributes.preferred_channel"]),
    ({"channel": "web", "attributes": {"address": {"line1": "Lindenstraße 5", "city": "Kassel", "country": "DE"}}},
     "missing_postcode", ["attributes.address.postcode"]),
    ({"channel": "web", "identities": [], "nickname": "Ada"}, "validation_error", ["nickname"]),
    ({"identities": []}, "validation_error", ["channel"]),
])
def test_bad_identify_input_is_a_422_problem_naming_the_field(client, admin, db, body, code, fields):
    response = client.post(f"{CUSTOMERS}/identify", headers=admin, json=body)
    assert error_fields(assert_problem(response, 422, code)) == fields
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Profile)) == 0


def test_eight_requests_identifying_one_new_email_at_once_make_one_profile(client, admin, db):
    barrier = threading.Barrier(8)
    answers: list[tuple[int, int]] = []

    def call() -> None:
        barrier.wait()
        response = identify(client, admin, ("email", "race@example.com"))
        answers.append((response.status_code, response.json().get("id", 0)))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({pid for _, pid in answers}) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Profile)) == 1
        assert list(s.scalars(select(Identity.profile_id))) == [answers[0][1]]


# --- the command line ----------------------------------------------------------------------------------


@pytest.fixture
def cli_settings(monkeypatch, db: Database):
    """Point the in-process CLI at the test database; forget the cached settings before and after."""
    monkeypatch.setenv("OMNIRETAIL_DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_customers_dedupe_on_the_command_line_merges_duplicates_and_reports(db, cli_settings):
    ada = Person(given_name="Ada", family_name="Lovelace", date_of_birth=date(1990, 5, 17), line1="Lindenstraße 5",
                 postcode="34117", city="Kassel", country="DE", emails=("ada@example.com",))
    typo = Person(given_name="Ada", family_name="Lovelcae", date_of_birth=date(1990, 5, 17), line1="Lindenstrasse 5",
                  postcode="34117", city="Kassel", country="DE", emails=("ada.lovelace@example.com",))
    bob = Person(given_name="Bob", family_name="Brown", line1="Torstraße 1", postcode="10119", city="Berlin",
                 country="DE")
    with db.write() as s:
        first, second, _ = load_people(s, [ada, typo, bob], channels=["web"], actor="test")
    result = CliRunner().invoke(cli_app, ["customers", "dedupe", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "3 profiles: 1 merged automatically, 0 pairs queued for review, 0 pairs already decided by staff" in (
        " ".join(result.stdout.split()))
    with db.read() as s:
        assert [(m.survivor_id, m.absorbed_id, m.source) for m in s.scalars(select(Merge))] == [
            (first, second, "dedupe")]
        assert s.scalar(select(func.count()).select_from(Suggestion)) == 0
    again = CliRunner().invoke(cli_app, ["customers", "dedupe", "--workers", "1"])
    assert again.exit_code == 0, again.output
    assert "2 profiles: 0 merged automatically" in " ".join(again.stdout.split())


def test_customers_dedupe_refuses_a_worker_count_out_of_range(db, cli_settings):
    result = CliRunner().invoke(cli_app, ["customers", "dedupe", "--workers", "0"])
    assert result.exit_code == 2
