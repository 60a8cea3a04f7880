"""Fulfilment (C20–C22): pick, pack, ship or hand over at the store, pickups, returns and store attribution."""

from omniretail.fulfilment import service as _service  # noqa: F401  (cancelling an order cancels its fulfilments)
