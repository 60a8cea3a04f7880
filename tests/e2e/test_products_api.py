"""The catalogue over HTTP: create, validate, search, page, change, audit, alternatives, variants."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import assert_problem, error_fields

PROBLEM_JSON = "application/problem+json"
PRODUCTS = "/api/v1/products"


def new_product(client: TestClient, headers: dict[str, str], sku: str, name: str, amount: str = "1.00",
                **fields: Any) -> dict[str, Any]:
    response = client.post(PRODUCTS, json={"sku": sku, "name": name, "price": {"amount": amount, "currency": "EUR"},
                                           **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def all_pages(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a list, following `next_cursor` (at most 50 pages)."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    for _ in range(50):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("more than 50 pages: the cursor never ends")


def product_count(client: TestClient, headers: dict[str, str]) -> int:
    return sum(len(page) for page in all_pages(client, headers, PRODUCTS, limit=500))


def search_skus(client: TestClient, headers: dict[str, str], q: str, **params: Any) -> list[str]:
    response = client.get(PRODUCTS, params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [p["sku"] for p in response.json()["items"]]




def forged_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# --- create and validate ------------------------------------------------------------------------


def test_a_created_product_is_answered_with_201_and_its_fields(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "DAI-000123", "ean": "4006381333931", "name": "Whole milk 1 l", "brand": "Alpenhof",
        "category": "dairy", "price": {"amount": "1.29", "currency": "EUR"}, "attributes": {"fat": "3.5%"},
        "is_gift": False, "perishable": True,
    })

    assert response.status_code == 201
    body = response.json()
    assert (body["sku"], body["ean"], body["name"], body["brand"], body["category"]) == (
        "DAI-000123", "4006381333931", "Whole milk 1 l", "Alpenhof", "dairy")
    assert body["price"] == {"amount": "1.29", "currency": "EUR"}
    assert body["attributes"] == {"fat": "3.5%"}
    assert (body["is_gift"], body["perishable"], body["active"]) == (False, True, True)
    assert client.get(f"{PRODUCTS}/DAI-000123", headers=admin).json()["price"] == {"amount": "1.29", "currency": "EUR"}


def test_a_price_without_currency_takes_the_default_currency_and_two_decimals(
        client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(PRODUCTS, headers=admin, json={"sku": "B-1", "name": "Bread", "price": {"amount": "2.5"}})

    assert response.status_code == 201
    assert response.json()["price"] == {"amount": "2.50", "currency": "EUR"}


def test_invalid_ean_is_refused_with_its_code(client: TestClient, admin: dict[str, str]) -> None:
    before = product_count(client, admin)

    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "X-1", "ean": "4006381333932", "name": "Wrong check digit", "price": {"amount": "1.00"}})

    body = assert_problem(response, 422, "invalid_ean")
    assert body["errors"][0]["field"] == "ean"
    assert product_count(client, admin) == before


def test_duplicate_sku_is_refused_and_nothing_is_written(client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "DUP-1", "Original", "3.00")

    response = client.post(PRODUCTS, headers=admin, json={"sku": "DUP-1", "name": "Copy", "price": {"amount": "9.00"}})

    assert_problem(response, 409, "duplicate_sku")
    assert product_count(client, admin) == 1
    assert client.get(f"{PRODUCTS}/DUP-1", headers=admin).json()["name"] == "Original"


def test_duplicate_ean_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "E-1", "First", ean="4006381333931")

    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "E-2", "ean": "4006381333931", "name": "Second", "price": {"amount": "1.00"}})

    assert_problem(response, 409, "duplicate_ean")
    assert product_count(client, admin) == 1


@pytest.mark.parametrize(("first", "second"), [("036000291452", "0036000291452"), ("0036000291452", "036000291452")],
                         ids=["upc-then-ean13", "ean13-then-upc"])
def test_a_upc_a_and_its_zero_padded_ean13_are_the_same_article(
        client: TestClient, admin: dict[str, str], first: str, second: str) -> None:
    new_product(client, admin, "U-1", "Cola 12 oz", ean=first)

    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "U-2", "ean": second, "name": "Cola again", "price": {"amount": "1.00"}})

    assert_problem(response, 409, "duplicate_ean")
    assert product_count(client, admin) == 1


def test_unknown_sku_is_404_with_its_code(client: TestClient, admin: dict[str, str]) -> None:
    assert_problem(client.get(f"{PRODUCTS}/NOPE-1", headers=admin), 404, "unknown_sku")
    assert_problem(client.patch(f"{PRODUCTS}/NOPE-1", json={"name": "x"}, headers=admin), 404, "unknown_sku")
    assert_problem(client.get(f"{PRODUCTS}/NOPE-1/alternatives", headers=admin), 404, "unknown_sku")
    assert_problem(client.put(f"{PRODUCTS}/NOPE-1/alternatives", json={"skus": []}, headers=admin), 404, "unknown_sku")


def test_malformed_json_is_refused_with_its_code(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(PRODUCTS, content=b'{"sku": "M-1", "name": ', headers={
        **admin, "Content-Type": "application/json"})

    assert_problem(response, 422, "malformed_json")
    assert product_count(client, admin) == 0


def test_wrong_types_are_refused_naming_each_field(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "T-1", "name": "Types", "price": {"amount": "abc", "currency": "EUR"}, "is_gift": "maybe"})

    body = assert_problem(response, 422, "validation_error")
    assert sorted(error_fields(body)) == ["is_gift", "price.amount"]
    assert product_count(client, admin) == 0


def test_a_field_is_named_the_same_whether_its_type_or_its_value_is_wrong(
        client: TestClient, admin: dict[str, str]) -> None:
    wrong_type = client.post(PRODUCTS, headers=admin, json={"sku": "T-1", "name": "x", "price": {"amount": "abc"}})
    wrong_value = client.post(PRODUCTS, headers=admin, json={"sku": "T-1", "name": "x", "price": {"amount": "1.234"}})

    assert error_fields(wrong_type.json()) == error_fields(wrong_value.json()) == ["price.amount"]


def test_an_unknown_field_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "F-1", "name": "Extra", "price": {"amount": "1.00"}, "colour": "red"})

    body = assert_problem(response, 422, "validation_error")
    assert error_fields(body) == ["colour"]
    assert product_count(client, admin) == 0


@pytest.mark.parametrize(("amount", "currency"), [("1.234", "EUR"), ("1.5", "JPY"), ("-1.00", "EUR")],
                         ids=["three-decimals-eur", "decimals-on-yen", "negative"])
def test_an_amount_the_currency_cannot_hold_is_refused(
        client: TestClient, admin: dict[str, str], amount: str, currency: str) -> None:
    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "C-1", "name": "Coins", "price": {"amount": amount, "currency": currency}})

    body = assert_problem(response, 422, "invalid_amount")
    assert error_fields(body) == ["price.amount"]
    assert product_count(client, admin) == 0


def test_an_unknown_currency_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "C-1", "name": "Coins", "price": {"amount": "1.00", "currency": "XYZ"}})

    body = assert_problem(response, 422, "invalid_currency")
    assert error_fields(body) == ["price.currency"]


def test_a_price_past_a_32_bit_count_of_minor_units_is_stored(client: TestClient, admin: dict[str, str]) -> None:
    # 25 million euros (a building, or an ordinary laptop in a currency with many units to the euro) is 2.5e9
    # cents, past a 32-bit integer. (Rupiah no longer serves here: CLDR now gives IDR no minor unit.)
    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "LAP-1", "name": "Laptop", "price": {"amount": "25000000.00", "currency": "EUR"}})

    assert response.status_code == 201, response.text
    assert response.json()["price"] == {"amount": "25000000.00", "currency": "EUR"}
    assert client.get(f"{PRODUCTS}/LAP-1", headers=admin).json()["price"] == {"amount": "25000000.00",
                                                                              "currency": "EUR"}


def test_an_absurdly_large_price_is_refused_as_bad_input_not_a_server_error(
        client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(PRODUCTS, headers=admin, json={
        "sku": "BIG-1", "name": "Too dear", "price": {"amount": "1e20", "currency": "EUR"}})

    body = assert_problem(response, 422, "invalid_amount")
    assert error_fields(body) == ["price.amount"]
    assert product_count(client, admin) == 0


# --- search -----------------------------------------------------------------------------------------


@pytest.fixture
def shelf(client: TestClient, admin: dict[str, str]) -> None:
    """A few products whose names are far from one another."""
    new_product(client, admin, "CHO-1", "Dark chocolate", ean="4006381333931")
    new_product(client, admin, "ICE-1", "Vanilla ice cream", ean="036000291452")
    new_product(client, admin, "JUI-1", "Orange juice")
    new_product(client, admin, "DAI-000123", "Whole milk")


def test_search_by_exact_ean_finds_the_product(client: TestClient, admin: dict[str, str], shelf: None) -> None:
    assert search_skus(client, admin, "4006381333931") == ["CHO-1"]


def test_search_by_the_ean13_form_finds_a_product_stored_with_its_upc(
        client: TestClient, admin: dict[str, str], shelf: None) -> None:
    assert search_skus(client, admin, "0036000291452") == ["ICE-1"]


@pytest.mark.parametrize("query", ["chocolote", "chocolte", "chocollate", "cohcolate", "dark chocolote"],
                         ids=["substitution", "deletion", "insertion", "transposition", "two-words-one-typo"])
def test_search_with_one_wrong_letter_finds_the_only_close_match(
        client: TestClient, admin: dict[str, str], shelf: None, query: str) -> None:
    assert search_skus(client, admin, query) == ["CHO-1"]


def test_exact_matches_rank_above_fuzzy_ones(client: TestClient, admin: dict[str, str]) -> None:
    # The fuzzy one is older, shorter, better rated and sorts first by name: only the match ranks it lower.
    new_product(client, admin, "TEA-1", "Mild tea", rating=5.0)
    new_product(client, admin, "OAT-1", "Organic oat milk")

    assert search_skus(client, admin, "milk") == ["OAT-1", "TEA-1"]


def test_search_by_exact_sku_finds_the_product(client: TestClient, admin: dict[str, str], shelf: None) -> None:
    assert search_skus(client, admin, "DAI-000123") == ["DAI-000123"]


def test_search_without_a_match_returns_no_items(client: TestClient, admin: dict[str, str], shelf: None) -> None:
    response = client.get(PRODUCTS, params={"q": "xylophone"}, headers=admin)

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


# --- pagination ---------------------------------------------------------------------------------------


def test_listing_pages_through_every_product_once(client: TestClient, admin: dict[str, str]) -> None:
    skus = {f"P-{i}" for i in range(7)}
    for sku in sorted(skus):
        new_product(client, admin, sku, f"Thing {sku}")

    pages = all_pages(client, admin, PRODUCTS, limit=3)

    assert [len(page) for page in pages] == [3, 3, 1]
    listed = [p["sku"] for page in pages for p in page]
    assert len(listed) == len(set(listed))
    assert set(listed) == skus


def test_search_pages_through_every_match_once(client: TestClient, admin: dict[str, str]) -> None:
    skus = {f"MILK-{i}" for i in range(5)}
    for sku in sorted(skus):
        new_product(client, admin, sku, f"Milk carton {sku[-1]}")
    new_product(client, admin, "JUI-1", "Orange juice")

    pages = all_pages(client, admin, PRODUCTS, q="milk", limit=2)

    assert [len(page) for page in pages] == [2, 2, 1]
    found = [p["sku"] for page in pages for p in page]
    assert len(found) == len(set(found))
    assert set(found) == skus


def test_search_pages_hold_every_match_when_the_query_is_also_a_sku(
        client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "milk", "Oat drink")
    for i in range(3):
        new_product(client, admin, f"M-{i}", f"Milk {i}")

    pages = all_pages(client, admin, PRODUCTS, q="milk", limit=2)

    found = [p["sku"] for page in pages for p in page]
    assert found[0] == "milk"
    assert len(found) == len(set(found))
    assert set(found) == {"milk", "M-0", "M-1", "M-2"}


@pytest.mark.parametrize("cursor", ["!!not-a-cursor!!", forged_cursor([1, 2]), forged_cursor({"after": "x"}),
                                    forged_cursor({"after": -3})],
                         ids=["garbage", "a-list", "text-position", "negative-position"])
def test_a_bad_cursor_is_refused_with_its_code(client: TestClient, admin: dict[str, str], cursor: str) -> None:
    body = assert_problem(client.get(PRODUCTS, params={"cursor": cursor}, headers=admin), 422, "invalid_cursor")
    assert error_fields(body) == ["cursor"]


def test_a_bad_search_cursor_is_refused_with_its_code(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get(PRODUCTS, params={"q": "milk", "cursor": forged_cursor({"offset": "ten"})}, headers=admin)

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(("params", "key"), [({"cursor": forged_cursor({"after": 10**30})}, "after"),
                                              ({"q": "milk", "cursor": forged_cursor({"offset": 10**30})}, "offset")],
                         ids=["list", "search"])
def test_a_forged_cursor_with_an_impossible_position_is_refused_not_a_server_error(
        client: TestClient, admin: dict[str, str], params: dict[str, str], key: str) -> None:
    new_product(client, admin, "MILK-1", "Milk")

    assert_problem(client.get(PRODUCTS, params=params, headers=admin), 422, "invalid_cursor")


@pytest.mark.parametrize("limit", [0, 501])
def test_a_limit_outside_1_to_500_is_refused(client: TestClient, admin: dict[str, str], limit: int) -> None:
    for params in ({"limit": limit}, {"limit": limit, "q": "milk"}):
        body = assert_problem(client.get(PRODUCTS, params=params, headers=admin), 422, "validation_error")
        assert error_fields(body) == ["limit"]


def test_a_limit_of_500_is_allowed(client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "P-1", "Thing")

    response = client.get(PRODUCTS, params={"limit": 500}, headers=admin)

    assert response.status_code == 200
    assert [p["sku"] for p in response.json()["items"]] == ["P-1"]


# --- change and audit -----------------------------------------------------------------------------


def test_patch_changes_price_and_name_and_search_follows_the_new_name(
        client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "BRD-1", "Rye bread", "2.50")

    response = client.patch(f"{PRODUCTS}/BRD-1", headers=admin, json={
        "name": "Sourdough loaf", "price": {"amount": "3.10", "currency": "EUR"}})

    assert response.status_code == 200
    changed = response.json()
    assert (changed["name"], changed["price"]) == ("Sourdough loaf", {"amount": "3.10", "currency": "EUR"})
    stored = client.get(f"{PRODUCTS}/BRD-1", headers=admin).json()
    assert (stored["name"], stored["price"]) == ("Sourdough loaf", {"amount": "3.10", "currency": "EUR"})
    assert search_skus(client, admin, "sourdough") == ["BRD-1"]
    assert search_skus(client, admin, "rye bread") == []


def test_patch_with_null_name_is_refused_and_changes_nothing(client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "BRD-1", "Rye bread", "2.50", ean="036000291452")

    response = client.patch(f"{PRODUCTS}/BRD-1", headers=admin, json={
        "ean": "4006381333931", "price": {"amount": "9.99"}, "name": None})

    body = assert_problem(response, 422, "null_not_allowed")
    assert error_fields(body) == ["name"]
    stored = client.get(f"{PRODUCTS}/BRD-1", headers=admin).json()
    assert (stored["name"], stored["ean"], stored["price"]["amount"]) == ("Rye bread", "036000291452", "2.50")


def test_patch_to_another_products_ean_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "E-1", "First", ean="4006381333931")
    new_product(client, admin, "E-2", "Second", ean="036000291452")

    response = client.patch(f"{PRODUCTS}/E-2", headers=admin, json={"ean": "04006381333931"})

    assert_problem(response, 409, "duplicate_ean")
    assert client.get(f"{PRODUCTS}/E-2", headers=admin).json()["ean"] == "036000291452"


def test_patch_with_too_many_decimals_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "BRD-1", "Rye bread", "2.50")

    response = client.patch(f"{PRODUCTS}/BRD-1", headers=admin, json={"price": {"amount": "2.555"}})

    assert_problem(response, 422, "invalid_amount")
    assert client.get(f"{PRODUCTS}/BRD-1", headers=admin).json()["price"]["amount"] == "2.50"


def test_the_audit_lists_creation_then_change_newest_first(client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "BRD-1", "Rye bread", "2.50")
    client.patch(f"{PRODUCTS}/BRD-1", headers=admin, json={"name": "Sourdough loaf", "price": {"amount": "3.10"}})
    new_product(client, admin, "OTHER-1", "Unrelated")

    response = client.get("/api/v1/audit", params={"object_type": "product", "object_id": "BRD-1"}, headers=admin)

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["action"], i["object_id"]) for i in items] == [
        ("product.updated", "BRD-1"), ("product.created", "BRD-1")]
    assert items[0]["changes"] == {
        "name": {"from": "Rye bread", "to": "Sourdough loaf"},
        "price": {"from": {"amount": "2.50", "currency": "EUR"}, "to": {"amount": "3.10", "currency": "EUR"}},
    }
    assert items[0]["actor"] == items[1]["actor"] == "key:1:test admin"


# --- alternatives and variants --------------------------------------------------------------------


@pytest.fixture
def dairy(client: TestClient, admin: dict[str, str]) -> None:
    new_product(client, admin, "MILK", "Whole milk", "1.00", category="dairy")
    new_product(client, admin, "OAT", "Oat drink", "2.00", category="plant-drinks")
    new_product(client, admin, "SOY", "Soy drink", "1.80", category="dairy")
    new_product(client, admin, "NEAR", "Skimmed milk", "1.10", category="dairy")
    new_product(client, admin, "FAR", "Organic milk", "3.00", category="dairy")
    new_product(client, admin, "GIFT", "Milk gift box", "1.00", category="dairy", is_gift=True)
    new_product(client, admin, "BREAD", "Rye bread", "1.00", category="bakery")


def alternatives_of(client: TestClient, headers: dict[str, str], sku: str) -> list[tuple[str, str]]:
    response = client.get(f"{PRODUCTS}/{sku}/alternatives", headers=headers)
    assert response.status_code == 200, response.text
    return [(item["sku"], item["source"]) for item in response.json()["items"]]


def test_alternatives_are_curated_in_order_then_similar_from_the_same_category(
        client: TestClient, admin: dict[str, str], dairy: None) -> None:
    put = client.put(f"{PRODUCTS}/MILK/alternatives", json={"skus": ["OAT", "SOY"]}, headers=admin)

    assert put.status_code == 200
    assert [(i["sku"], i["source"]) for i in put.json()["items"]] == [("OAT", "curated"), ("SOY", "curated")]
    assert alternatives_of(client, admin, "MILK") == [
        ("OAT", "curated"), ("SOY", "curated"), ("NEAR", "similar"), ("FAR", "similar")]


def test_a_product_cannot_be_its_own_alternative(client: TestClient, admin: dict[str, str], dairy: None) -> None:
    response = client.put(f"{PRODUCTS}/MILK/alternatives", json={"skus": ["OAT", "MILK"]}, headers=admin)

    body = assert_problem(response, 422, "self_alternative")
    assert error_fields(body) == ["skus.1"]


def test_an_unknown_alternative_is_refused_and_the_curated_list_stays(
        client: TestClient, admin: dict[str, str], dairy: None) -> None:
    client.put(f"{PRODUCTS}/MILK/alternatives", json={"skus": ["OAT"]}, headers=admin)

    response = client.put(f"{PRODUCTS}/MILK/alternatives", json={"skus": ["SOY", "NOPE"]}, headers=admin)

    body = assert_problem(response, 422, "unknown_sku")
    assert error_fields(body) == ["skus.1"]
    assert alternatives_of(client, admin, "MILK")[0] == ("OAT", "curated")
    assert [s for s, source in alternatives_of(client, admin, "MILK") if source == "curated"] == ["OAT"]


def test_an_unknown_alternative_is_named_by_its_position_in_the_request(
        client: TestClient, admin: dict[str, str], dairy: None) -> None:
    response = client.put(f"{PRODUCTS}/MILK/alternatives", json={"skus": ["OAT", "OAT", "NOPE"]}, headers=admin)

    body = assert_problem(response, 422, "unknown_sku")
    assert error_fields(body) == ["skus.2"]


def test_a_product_shows_the_variants_of_its_family(client: TestClient, admin: dict[str, str]) -> None:
    for size in ("S", "M", "L"):
        new_product(client, admin, f"TEE-{size}", f"Basic tee {size}", family="tee-basic")
    new_product(client, admin, "POLO-M", "Polo shirt M", family="polo")
    new_product(client, admin, "SOCKS", "Socks")

    assert client.get(f"{PRODUCTS}/TEE-M", headers=admin).json()["variants"] == ["TEE-L", "TEE-M", "TEE-S"]
    assert client.get(f"{PRODUCTS}/POLO-M", headers=admin).json()["variants"] == ["POLO-M"]
    assert client.get(f"{PRODUCTS}/SOCKS", headers=admin).json()["variants"] == ["SOCKS"]
