"""Generated sourcing instances: reproducible, in the documented format, on real cities."""

import json

import pytest

from omniretail.sourcing.bidprice import Forecast
from omniretail.sourcing.instances import cities, generate_instance, load_instance, parse_instance, write_instance
from omniretail.sourcing.optimizer import Order


def test_the_same_seed_gives_the_same_instance_and_another_seed_another():
    first = generate_instance(locations=5, orders=40, skus=30, seed=7)
    assert json.dumps(first) == json.dumps(generate_instance(locations=5, orders=40, skus=30, seed=7))
    assert json.dumps(first) != json.dumps(generate_instance(locations=5, orders=40, skus=30, seed=8))


def test_an_instance_has_exactly_the_documented_keys():
    document = generate_instance(locations=4, orders=25, skus=20, seed=1)
    assert set(document) == {"cost", "locations", "orders", "generator", "forecast"}
    assert len(document["locations"]) == 4 and len(document["orders"]) == 25
    assert set(document["forecast"]) == {"orders", "source", "demand"} and document["forecast"]["orders"] == 25
    assert all(set(entry) == {"lat", "lon", "sku", "qty"} and entry["qty"] > 0
               for entry in document["forecast"]["demand"])
    assert set(generate_instance(locations=4, orders=25, skus=20, seed=1, history=0)) == {
        "cost", "locations", "orders", "generator"}
    for location in document["locations"]:
        assert {"id", "lat", "lon", "capacity", "stock"} <= set(location)
        assert all(isinstance(q, int) and q > 0 for q in location["stock"].values())
    for order in document["orders"]:
        assert set(order) == {"id", "lat", "lon", "lines"}
        assert 1 <= sum(line["qty"] for line in order["lines"]) <= 10
        assert all(set(line) == {"sku", "qty"} for line in order["lines"])
        assert len({line["sku"] for line in order["lines"]}) == len(order["lines"])


def test_locations_sit_in_real_cities_of_the_contiguous_united_states():
    known = {(round(lat, 5), round(lon, 5)) for _, lat, lon, _ in cities("US")}
    document = generate_instance(locations=6, orders=0, skus=5, seed=3)
    assert all((loc["lat"], loc["lon"]) in known for loc in document["locations"])
    assert all(24 <= loc["lat"] <= 50 and -125 <= loc["lon"] <= -66 for loc in document["locations"])
    assert cities("US")[0][0] == "New York City"


def test_loose_capacity_covers_the_whole_batch_and_tight_capacity_about_its_demand():
    loose = parse_instance(generate_instance(locations=5, orders=300, skus=40, seed=2, capacity="loose"))
    tight = parse_instance(generate_instance(locations=5, orders=300, skus=40, seed=2, capacity="tight"))
    units = loose.summary()["order_units"]
    assert all(loc.capacity >= units for loc in loose.network.locations)
    expected = 300 * 10 / sum(1 / n for n in range(1, 11))  # orders of n items with weight 1/n
    assert 1.05 * expected <= tight.summary()["capacity_units"] <= 1.05 * expected + 5
    with pytest.raises(ValueError, match="capacity must be one of loose, tight"):
        generate_instance(capacity="roomy")


def test_an_instance_file_reads_back_into_cost_network_and_orders(tmp_path):
    document = generate_instance(locations=3, orders=10, skus=8, seed=4)
    document["cost"]["package"] = 7.5
    path = tmp_path / "instance.json"
    write_instance(document, path)
    instance = load_instance(path)
    assert instance.cost.package == 7.5
    assert [loc.id for loc in instance.network.locations] == ["L001", "L002", "L003"]
    first = document["orders"][0]
    assert instance.orders[0] == Order(first["id"], {line["sku"]: line["qty"] for line in first["lines"]},
                                       lat=first["lat"], lon=first["lon"])
    assert instance.summary()["orders"] == 10


def test_the_optional_fields_lanes_lots_and_pickups_are_read():
    instance = parse_instance({
        "cost": {"item_mile": 0.000541},
        "locations": [{"id": "S", "lat": 1, "lon": 2, "capacity": None, "stock": {"X": 2}, "kind": "store",
                       "ships": False, "lots": {"X": [{"qty": 2, "expires_in_days": 4}]}},
                      {"id": "H", "lat": 1, "lon": 3, "capacity": 10, "stock": {}, "kind": "hub"}],
        "lanes": [{"from": "H", "to": "S", "cost_per_unit": 0.5, "delay_days": 2}],
        "orders": [{"id": "p", "pickup_location_id": "S", "lines": [{"sku": "X", "qty": 1}, {"sku": "X", "qty": 1}]}]})
    assert instance.network.locations[0].ships is False
    assert instance.network.lots[0] == {"X": [[2, 4]]}
    assert instance.network.lanes[0].delay_days == 2
    assert instance.orders[0].lines == {"X": 2} and instance.orders[0].pickup_location_id == "S"


def test_a_document_that_is_not_an_instance_is_refused_with_what_is_missing():
    with pytest.raises(ValueError, match="not a sourcing instance: missing or malformed 'locations'"):
        parse_instance({"orders": []})


def per_sku(pairs):
    total = {}
    for sku, qty in pairs:
        total[sku] = total.get(sku, 0) + qty
    return total


def test_the_forecast_is_an_independent_history_sample_never_the_batchs_own_orders():
    document = generate_instance(locations=5, orders=400, skus=30, seed=2, capacity="tight")
    forecast = document["forecast"]
    assert document["generator"]["history_seed"] == 2 + 1_000_000 and "not the batch's orders" in forecast["source"]
    batch = per_sku((line["sku"], line["qty"]) for order in document["orders"] for line in order["lines"])
    history = per_sku((entry["sku"], entry["qty"]) for entry in forecast["demand"])
    assert history != batch  # another draw from the same law: close in total, different in detail
    assert abs(sum(history.values()) - sum(batch.values())) < 0.2 * sum(batch.values())
    # the forecast does not depend on the batch: other orders (or none), same history
    for other in (generate_instance(locations=5, orders=50, skus=30, seed=2, capacity="tight", history=400),
                  generate_instance(locations=5, orders=0, skus=30, seed=2, capacity="tight", history=400)):
        assert other["forecast"] == forecast
    # ... and the batch does not depend on the forecast: without one, the same locations and orders
    bare = generate_instance(locations=5, orders=400, skus=30, seed=2, capacity="tight", history=0)
    assert (bare["locations"], bare["orders"]) == (document["locations"], document["orders"])
    # the batch's orders go to jittered points, the forecast to city centres: no batch order is in it
    cities_at = {(round(lat, 5), round(lon, 5)) for _, lat, lon, _ in cities("US")}
    assert {(e["lat"], e["lon"]) for e in forecast["demand"]} <= cities_at
    assert generate_instance(locations=5, orders=400, skus=30, seed=2, history_seed=9)["forecast"] != forecast
    with pytest.raises(ValueError, match="seed of its own"):
        generate_instance(locations=5, orders=10, skus=30, seed=2, history_seed=2)


def test_the_instance_format_round_trips_with_and_without_a_forecast(tmp_path):
    document = generate_instance(locations=3, orders=20, skus=8, seed=5)
    path = tmp_path / "with.json"
    write_instance(document, path)
    instance = load_instance(path)
    assert instance.forecast == Forecast.from_dict(document["forecast"])
    assert instance.forecast.to_dict() == document["forecast"]
    assert instance.summary()["forecast"]["orders"] == 20
    del document["forecast"]
    write_instance(document, tmp_path / "without.json")
    bare = load_instance(tmp_path / "without.json")
    assert bare.forecast is None and bare.summary()["forecast"] is None
    assert bare.orders == instance.orders and bare.network.stock == instance.network.stock
    with pytest.raises(ValueError, match="missing or malformed 'demand'"):
        parse_instance({**document, "forecast": {"orders": 3}})
