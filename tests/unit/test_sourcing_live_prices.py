"""The live bid prices' per-process cache and their binding to a sourcing network (`sourcing.live`)."""

from omniretail.sourcing.live import LivePrices, _Cache
from omniretail.sourcing.optimizer import Location, Network


def test_prices_bind_to_network_positions_and_sum_stock_and_capacity():
    prices = LivePrices(stock={("b", "X"): 2.5}, capacity={"b": 1.0, "z": 9.0})
    network = Network([Location("a", 0.0, 0.0, stock={"X": 1}), Location("b", 0.0, 1.0, stock={"X": 1})])
    bound = prices.bind(network)
    assert bound is not None
    a, b = network.index["a"], network.index["b"]
    assert (bound.of(a, "X"), bound.of(b, "X"), bound.of(b, "Y")) == (0.0, 3.5, 1.0)
    assert LivePrices(capacity={"z": 9.0}).bind(network) is None  # none of its locations: nothing to add
    assert not LivePrices() and prices


def test_the_cache_serves_fresh_prices_and_one_caller_reloads_stale_ones_while_the_others_keep_the_old():
    now = [0.0]
    cache = _Cache(clock=lambda: now[0])
    old = LivePrices(capacity={"a": 1.0})
    cache.loaded["db"] = (0.0, old)
    now[0] = 29.0
    assert cache.fresh("db") is old
    now[0] = 31.0
    assert cache.fresh("db") is None
    assert cache.previous("db") is None  # this caller reloads
    assert cache.previous("db") is old  # the others go on with the old prices meanwhile
    cache.done("db")
    assert cache.previous("db") is None
    assert cache.previous("other") is None and cache.previous("other") is None  # never loaded: everyone reads
    cache.clear()
    assert cache.loaded == {} and cache.reloading == set()
