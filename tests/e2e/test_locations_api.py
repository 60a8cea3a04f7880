"""Locations over HTTP: register, validate hours and time zones, find near a point, change."""

from __future__ import annotations

from math import radians
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import assert_problem, error_fields

PROBLEM_JSON = "application/problem+json"
LOCATIONS = "/api/v1/locations"
KM_PER_DEGREE_OF_LATITUDE = radians(1) * 6371.0088
CLOSED_WEEK = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def store(**fields: Any) -> dict[str, Any]:
    return {"name": "Berlin Mitte", "type": "store", "lat": 52.52, "lon": 13.405, "timezone": "Europe/Berlin",
            **fields}


def new_location(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post(LOCATIONS, json=store(**fields), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def location_ids(client: TestClient, headers: dict[str, str]) -> list[str]:
    """Ids of every location, following `next_cursor` (at most 50 pages)."""
    ids: list[str] = []
    cursor = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = client.get(LOCATIONS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        ids += [loc["id"] for loc in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("more than 50 pages: the cursor never ends")




# --- register -------------------------------------------------------------------------------------


def test_a_store_with_hours_as_an_object_is_registered(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(LOCATIONS, headers=admin, json=store(
        id="ber-mitte", pickup=True, ship_from_store=True, daily_capacity=40,
        opening_hours={"mon": [["09:00", "13:00"], ["14:00", "20:00"]], "sat": [["10:00", "16:00"]]}))

    assert response.status_code == 201
    body = response.json()
    assert (body["id"], body["name"], body["type"], body["lat"], body["lon"], body["timezone"]) == (
        "ber-mitte", "Berlin Mitte", "store", 52.52, 13.405, "Europe/Berlin")
    assert (body["pickup"], body["ship_from_store"], body["hub"], body["daily_capacity"]) == (True, True, False, 40)
    assert body["opening_hours"] == {**CLOSED_WEEK, "mon": [["09:00", "13:00"], ["14:00", "20:00"]],
                                     "sat": [["10:00", "16:00"]]}
    assert client.get(f"{LOCATIONS}/ber-mitte", headers=admin).json()["opening_hours"] == body["opening_hours"]


def test_a_store_with_hours_in_text_form_is_registered(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(LOCATIONS, headers=admin, json=store(
        opening_hours="mon-fri 09:00-18:00; sat 10:00-14:00; sun closed"))

    assert response.status_code == 201
    weekday = [["09:00", "18:00"]]
    assert response.json()["opening_hours"] == {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday,
                                                "fri": weekday, "sat": [["10:00", "14:00"]], "sun": []}


def test_a_hub_takes_part_in_hub_moves_by_default(client: TestClient, admin: dict[str, str]) -> None:
    assert new_location(client, admin, name="Hub North", type="hub")["hub"] is True
    assert new_location(client, admin, name="Warehouse South", type="warehouse")["hub"] is False


def test_the_id_is_made_from_the_name_when_left_out(client: TestClient, admin: dict[str, str]) -> None:
    first = new_location(client, admin, name="Köln Hbf Store")
    second = new_location(client, admin, name="Köln Hbf Store")

    assert (first["id"], second["id"]) == ("koln-hbf-store", "koln-hbf-store-2")
    assert client.get(f"{LOCATIONS}/koln-hbf-store-2", headers=admin).status_code == 200


def test_a_duplicate_id_is_refused_and_the_first_location_stays(client: TestClient, admin: dict[str, str]) -> None:
    new_location(client, admin, id="ber-1", name="First")

    response = client.post(LOCATIONS, headers=admin, json=store(id="ber-1", name="Second"))

    assert_problem(response, 409, "duplicate_location")
    assert location_ids(client, admin) == ["ber-1"]
    assert client.get(f"{LOCATIONS}/ber-1", headers=admin).json()["name"] == "First"


def test_an_invalid_timezone_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(LOCATIONS, headers=admin, json=store(timezone="Mars/Olympus_Mons"))

    body = assert_problem(response, 422, "invalid_timezone")
    assert error_fields(body) == ["timezone"]
    assert location_ids(client, admin) == []


@pytest.mark.parametrize("hours", [
    "mon 18:00-09:00",
    {"mon": [["18:00", "09:00"]]},
    "mon-fri 09:00-18:00; funday 10:00-12:00",
    {"funday": [["10:00", "12:00"]]},
    "mon 09:00-12:00,11:00-14:00",
    {"mon": [["09:00", "12:00"], ["11:00", "14:00"]]},
    "mon 09:00-25:00",
    "mon-fri 09:00-18:00; fri 10:00-12:00",
], ids=["close-before-open-text", "close-before-open-object", "unknown-day-text", "unknown-day-object",
        "overlap-text", "overlap-object", "no-such-time", "day-given-twice"])
def test_bad_opening_hours_are_refused(client: TestClient, admin: dict[str, str], hours: Any) -> None:
    response = client.post(LOCATIONS, headers=admin, json=store(opening_hours=hours))

    body = assert_problem(response, 422, "invalid_opening_hours")
    assert error_fields(body) == ["opening_hours"]
    assert location_ids(client, admin) == []


@pytest.mark.parametrize(("field", "value"), [("lat", 90.5), ("lat", -91), ("lon", 180.5)])
def test_coordinates_out_of_range_are_refused(client: TestClient, admin: dict[str, str], field: str,
                                              value: float) -> None:
    response = client.post(LOCATIONS, headers=admin, json=store(**{field: value}))

    body = assert_problem(response, 422, "validation_error")
    assert error_fields(body) == [field]
    assert location_ids(client, admin) == []


def test_unknown_location_is_404_with_its_code(client: TestClient, admin: dict[str, str]) -> None:
    assert_problem(client.get(f"{LOCATIONS}/nowhere", headers=admin), 404, "unknown_location")
    assert_problem(client.patch(f"{LOCATIONS}/nowhere", json={"daily_capacity": 5}, headers=admin),
                   404, "unknown_location")


# --- near a point ------------------------------------------------------------------------------------


@pytest.fixture
def berlin_meridian(client: TestClient, admin: dict[str, str]) -> None:
    """Stores due north of (52.5, 13.4): ids sort in another order than their distances."""
    for location_id, lat in (("a-far", 52.8), ("b-near", 52.55), ("c-mid", 52.6), ("d-outside", 53.5)):
        new_location(client, admin, id=location_id, name=location_id, lat=lat, lon=13.4)


def test_near_search_is_sorted_by_distance_with_the_distance(
        client: TestClient, admin: dict[str, str], berlin_meridian: None) -> None:
    response = client.get(LOCATIONS, params={"lat": 52.5, "lon": 13.4, "radius_km": 50}, headers=admin)

    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["id"] for i in items] == ["b-near", "c-mid", "a-far"]
    assert [i["distance_km"] for i in items] == [
        pytest.approx(d * KM_PER_DEGREE_OF_LATITUDE, abs=0.002) for d in (0.05, 0.1, 0.3)]


def test_a_plain_list_has_no_distances(client: TestClient, admin: dict[str, str], berlin_meridian: None) -> None:
    items = client.get(LOCATIONS, headers=admin).json()["items"]

    assert [(i["id"], i["distance_km"]) for i in items] == [
        ("a-far", None), ("b-near", None), ("c-mid", None), ("d-outside", None)]


def test_near_search_pages_with_next_cursor_like_every_list(
        client: TestClient, admin: dict[str, str], berlin_meridian: None) -> None:
    near = {"lat": 52.5, "lon": 13.4, "radius_km": 50}
    first = client.get(LOCATIONS, params={**near, "limit": 2}, headers=admin).json()

    assert [i["id"] for i in first["items"]] == ["b-near", "c-mid"]
    assert first["next_cursor"] is not None
    second = client.get(LOCATIONS, params={**near, "limit": 2, "cursor": first["next_cursor"]}, headers=admin).json()
    assert [i["id"] for i in second["items"]] == ["a-far"]


def test_near_search_finds_locations_across_the_antimeridian(client: TestClient, admin: dict[str, str]) -> None:
    new_location(client, admin, id="taveuni-east", name="Taveuni East", lat=-16.8, lon=179.99, timezone="Pacific/Fiji")

    response = client.get(LOCATIONS, params={"lat": -16.8, "lon": -179.99, "radius_km": 50}, headers=admin)

    assert response.status_code == 200
    assert [i["id"] for i in response.json()["items"]] == ["taveuni-east"]


@pytest.mark.parametrize(("params", "missing"), [({"lat": 52.5}, "lon"), ({"lon": 13.4}, "lat")])
def test_near_search_with_only_one_coordinate_is_refused(
        client: TestClient, admin: dict[str, str], params: dict[str, float], missing: str) -> None:
    body = assert_problem(client.get(LOCATIONS, params=params, headers=admin), 422, "incomplete_point")
    assert error_fields(body) == [missing]


def test_listing_pages_through_every_location_once(client: TestClient, admin: dict[str, str]) -> None:
    for i in range(5):
        new_location(client, admin, id=f"loc-{i}", name=f"Store {i}")
    ids: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(LOCATIONS, params=params, headers=admin).json()
        ids += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert ids == ["loc-0", "loc-1", "loc-2", "loc-3", "loc-4"]


def test_a_bad_location_cursor_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    assert_problem(client.get(LOCATIONS, params={"cursor": "!!not-a-cursor!!"}, headers=admin), 422, "invalid_cursor")


# --- change ---------------------------------------------------------------------------------------


def test_patch_changes_hours_and_capacity(client: TestClient, admin: dict[str, str]) -> None:
    new_location(client, admin, id="ber-1", opening_hours="mon-fri 09:00-18:00", daily_capacity=10)

    response = client.patch(f"{LOCATIONS}/ber-1", headers=admin, json={
        "opening_hours": "mon-sat 08:00-20:00; sun closed", "daily_capacity": 25})

    assert response.status_code == 200
    long_day = [["08:00", "20:00"]]
    expected = {**CLOSED_WEEK, **{day: long_day for day in ("mon", "tue", "wed", "thu", "fri", "sat")}}
    assert (response.json()["opening_hours"], response.json()["daily_capacity"]) == (expected, 25)
    stored = client.get(f"{LOCATIONS}/ber-1", headers=admin).json()
    assert (stored["opening_hours"], stored["daily_capacity"]) == (expected, 25)


def test_patch_with_bad_hours_is_refused_and_changes_nothing(client: TestClient, admin: dict[str, str]) -> None:
    new_location(client, admin, id="ber-1", opening_hours="mon 09:00-18:00", daily_capacity=10)

    response = client.patch(f"{LOCATIONS}/ber-1", headers=admin, json={
        "daily_capacity": 99, "opening_hours": "mon 18:00-09:00"})

    assert_problem(response, 422, "invalid_opening_hours")
    stored = client.get(f"{LOCATIONS}/ber-1", headers=admin).json()
    assert (stored["opening_hours"]["mon"], stored["daily_capacity"]) == ([["09:00", "18:00"]], 10)


def test_patch_with_a_negative_capacity_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    new_location(client, admin, id="ber-1", daily_capacity=10)

    response = client.patch(f"{LOCATIONS}/ber-1", headers=admin, json={"daily_capacity": -1})

    assert_problem(response, 422, "validation_error")
    assert client.get(f"{LOCATIONS}/ber-1", headers=admin).json()["daily_capacity"] == 10
