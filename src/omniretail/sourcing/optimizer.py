"""Sourcing engine: choose which locations fulfil which units of an order. Pure module (no database, no HTTP).

    decision = source(order, network, cost, policy="default")
    decisions = source_sequence(orders, network, cost, policy="default")   # online: each consumes stock
    result = source_batch(orders, network, cost)                           # together, capacity shared

Policies: `default` (bounded search, fast, proves optimality in most cases), `greedy` (the usual baseline:
each line from the nearest location that can send it), `most_lines` (fewest parcels first: most lines in full,
nearest first), `optimal` (exact MILP with HiGHS, started from the default's plan).
The default also takes bid prices, `source(..., prices=pricer.refresh(network))` (`sourcing.bidprice`): what
scarce stock and capacity are worth to the demand still expected, solved between decisions from a forecast.
"""

from __future__ import annotations

from omniretail.sourcing.batch import BatchResult, source_batch
from omniretail.sourcing.cost import CostBreakdown, CostModel
from omniretail.sourcing.decision import Alternative, Decision, Pick, Shipment
from omniretail.sourcing.model import Lane, Location, Lot, Network, Order
from omniretail.sourcing.policies import POLICIES, source, source_optimal, source_sequence
from omniretail.sourcing.problem import REASONS

__all__ = [
    "POLICIES", "REASONS", "Alternative", "BatchResult", "CostBreakdown", "CostModel", "Decision", "Lane", "Location",
    "Lot", "Network", "Order", "Pick", "Shipment", "source", "source_batch", "source_optimal", "source_sequence",
]
