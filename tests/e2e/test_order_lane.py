"""The direct lane for POST /api/v1/orders (PostgreSQL): it answers only orders it placed, exactly as the route
would, and hands everything else to the framework with the body untouched."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniretail.core.db import Database
from omniretail.core.errors import DomainError
from omniretail.core.security import Role, auth_cache
from omniretail.orders import api, fastpath
from tests.conftest import bearer, make_key
from tests.e2e.test_orders_api import ORDERS, order, shop  # noqa: F401 - the fixture
from tests.helpers import assert_problem

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Who placed each order: the lane's fast path, the route's fast path, the route's transactional path."""
    seen: dict[str, list[Any]] = {"fast": [], "route": []}
    place, route_place = fastpath.place, api.service.place

    async def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            answer = await place(*args, **kwargs)
        except DomainError:
            seen["fast"].append("refused")
            raise
        seen["fast"].append(answer is not None)
        return answer

    def counted_route(*args: Any, **kwargs: Any) -> Any:
        seen["route"].append(kwargs["customer_id"])
        return route_place(*args, **kwargs)

    monkeypatch.setattr(fastpath, "place", counted)
    monkeypatch.setattr(api.service, "place", counted_route)
    return seen


def _integration(client: TestClient, db: Database) -> dict[str, str]:
    headers = bearer(make_key(db, Role.INTEGRATION, channel="web"))
    client.get("/api/v1/orders?limit=1", headers=headers)  # the key is now in the cache
    return headers


def test_a_clean_order_is_placed_by_the_lane_and_reads_back_the_same(client: TestClient, db: Database,
                                                                    shop: dict[str, int],  # noqa: F811
                                                                    calls: dict[str, list[Any]]) -> None:
    headers = _integration(client, db)
    response = client.post(ORDERS, headers={**headers, "Idempotency-Key": "lane-1"}, json=order(shop["ada"]))
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert calls == {"fast": [True], "route": []}
    placed = response.json()
    assert placed["status"] == "confirmed" and placed["lines"][0]["sku"] == "MILK"
    again = client.get(f"{ORDERS}/{placed['id']}", headers=headers).json()
    assert {k: again[k] for k in ("id", "status", "total", "lines")} == \
        {k: placed[k] for k in ("id", "status", "total", "lines")}
    replay = client.post(ORDERS, headers={**headers, "Idempotency-Key": "lane-1"}, json=order(shop["ada"]))
    assert replay.status_code == 201 and replay.json() == placed
    assert replay.headers.get("idempotent-replayed") == "true"  # the route answered the replay from the record


def test_a_key_not_yet_cached_goes_the_framework_way_and_is_cached(client: TestClient, db: Database,
                                                                   shop: dict[str, int],  # noqa: F811
                                                                   calls: dict[str, list[Any]]) -> None:
    auth_cache.clear()
    headers = bearer(make_key(db, Role.INTEGRATION, channel="web"))
    assert client.post(ORDERS, headers=headers, json=order(shop["ada"])).status_code == 201
    assert client.post(ORDERS, headers=headers, json=order(shop["bo"])).status_code == 201
    assert calls == {"fast": [True, True], "route": []}  # first by the route's fast path, then by the lane


@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    ({"lines": [{"sku": "MILK", "quantity": 0}]}, {}, 422, "invalid_quantity"),
    ({"payment": {"status": "maybe"}}, {}, 422, "validation_error"),
    ({"lines": [{"sku": "MILK", "quantity": 1, "price": "0.01"}]}, {}, 422, "price_not_accepted"),
    ({"total": "0.01"}, {}, 422, "price_not_accepted"),
    ({}, {"Idempotency-Key": " "}, 422, "invalid_idempotency_key"),
    ({"lines": [{"sku": "NOPE", "quantity": 1}]}, {}, 422, "unknown_sku"),
])
def test_bad_input_is_answered_by_the_route(client: TestClient, db: Database, shop: dict[str, int],  # noqa: F811
                                            calls: dict[str, list[Any]], body: dict[str, Any],
                                            headers: dict[str, str], status: int, code: str) -> None:
    auth = _integration(client, db)
    response = client.post(ORDERS, headers={**auth, **headers}, json={**order(shop["ada"]), **body})
    assert_problem(response, status, code)
    assert True not in calls["fast"]


def test_who_may_not_place_is_refused_by_the_route(client: TestClient, db: Database,
                                                   shop: dict[str, int],  # noqa: F811
                                                   calls: dict[str, list[Any]]) -> None:
    ada = bearer(make_key(db, Role.CUSTOMER, customer_id=str(shop["ada"])))
    client.get("/api/v1/orders?limit=1", headers=ada)
    assert_problem(client.post(ORDERS, headers=ada, json=order(shop["bo"])), 403, "not_your_profile")
    assert_problem(client.post(ORDERS, headers={"Authorization": "Bearer nope"}, json=order(shop["ada"])), 401,
                   "invalid_key")
    assert_problem(client.post(ORDERS, headers={"Authorization": "Basic abc"}, json=order(shop["ada"])), 401,
                   "missing_key")
    assert True not in calls["fast"]


def test_a_short_order_is_refused_by_the_lane_as_the_route_would(client: TestClient, db: Database,
                                                                  shop: dict[str, int],  # noqa: F811
                                                                  calls: dict[str, list[Any]]) -> None:
    headers = _integration(client, db)
    response = client.post(ORDERS, headers={**headers, "Idempotency-Key": "short"},
                           json=order(shop["ada"], [("MILK", 50)]))
    body = assert_problem(response, 409, "insufficient_stock")
    assert body["short"] == [{"location_id": "store-a", "sku": "MILK", "requested": 50, "available": 5}]
    assert calls == {"fast": ["refused"], "route": []}
    again = client.post(ORDERS, headers={**headers, "Idempotency-Key": "short"},
                        json=order(shop["ada"], [("MILK", 50)]))
    assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == body


def test_a_race_the_fast_path_cannot_decide_goes_once_to_the_transactional_path(
        client: TestClient, db: Database, shop: dict[str, int],  # noqa: F811
        calls: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    async def undecided(*_: Any) -> None:
        return None  # as when the store's levels do not show the refusal for certain

    monkeypatch.setattr(fastpath.refusals, "short_pickup", undecided)
    headers = _integration(client, db)
    response = client.post(ORDERS, headers=headers, json=order(shop["ada"], [("MILK", 50)]))
    assert_problem(response, 409, "insufficient_stock")
    assert calls == {"fast": [False], "route": [shop["ada"]]}  # the route did not try the fast path again


def test_a_query_string_or_other_method_is_not_the_lanes(client: TestClient, db: Database,
                                                         shop: dict[str, int],  # noqa: F811
                                                         calls: dict[str, list[Any]]) -> None:
    headers = _integration(client, db)
    assert client.post(f"{ORDERS}?x=1", headers=headers, json=order(shop["ada"])).status_code == 201
    assert calls["fast"] == [True] and calls["route"] == []  # the route's own fast path placed it
    assert client.get(ORDERS, headers=headers).status_code == 200
