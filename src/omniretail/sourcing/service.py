"""Sourcing for live orders: the network as the database shows it (units that may be promised per location and
SKU, from the level rows `orders.placement.candidate_rows` reads), the policy of the order's channel, and the
decision kept with the order so it explains itself later (`GET /api/v1/orders/{id}/sourcing`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from omniretail.core.config import Settings
from omniretail.core.errors import NotFound
from omniretail.inventory import allocation
from omniretail.locations import capacity
from omniretail.sourcing.cost import CostModel
from omniretail.sourcing.decision import Decision
from omniretail.sourcing.model import Location, Network, Order
from omniretail.sourcing.models import SourcingDecision
from omniretail.sourcing.policies import POLICIES, source


def parse_policies(text: str) -> dict[str, str]:
    """`channel:policy` pairs separated by commas (`marketplace:greedy,web:optimal`); refuses unknown policies."""
    chosen: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        channel, _, policy = part.partition(":")
        if not channel.strip() or policy.strip() not in POLICIES:
            raise ValueError(f"{part!r}: write channel:policy with a policy of {', '.join(POLICIES)}")
        chosen[channel.strip()] = policy.strip()
    return chosen


def policy_for(settings: Settings, channel: str) -> str:
    return parse_policies(settings.sourcing_channel_policies).get(channel, settings.sourcing_policy)


def promisable(row: Any) -> int:
    """Units a candidate level row may still promise: on hand less reserved, expired and its safety stock (the
    level's own, else its location's)."""
    safety = row.safety_stock if row.safety_stock is not None else row.default_safety
    return allocation.available(on_hand=row.on_hand, reserved=row.reserved, expired=row.expired,
                                safety_stock=safety or 0)


def network_of(candidates: Iterable[Any], skus: dict[int, str]) -> Network:
    """The network of candidate level rows (`location_id`, `product_id`, `on_hand`, `reserved`, `expired`,
    `safety_stock`, `default_safety`, `type`, `lat`, `lon`, `daily_capacity`, `load`): what each location may still
    promise, and the units it may still send out today."""
    places: dict[str, Location] = {}
    for row in candidates:
        units = promisable(row)
        place = places.get(row.location_id)
        if place is None:
            place = places[row.location_id] = Location(row.location_id, float(row.lat), float(row.lon),
                                                        kind=row.type if row.type in ("store", "warehouse") else
                                                        "warehouse",
                                                        capacity=capacity.left(row.daily_capacity, row.load))
        if units > 0 and place.capacity != 0:  # a location whose day is full sends nothing more today
            place.stock[skus[row.product_id]] = units
    return Network(sorted(places.values(), key=lambda p: p.id))


def source_delivery(*, demand: dict[str, int], product_ids: dict[str, int], candidates: Iterable[Any],
                    lat: float, lon: float, channel: str, settings: Settings, prices: Any = None) -> Decision:
    """Decide which locations send a delivery's units, by the channel's policy; the default policy chooses with
    the live bid prices (`prices`, a `sourcing.live.LivePrices`) when there are any."""
    network = network_of(candidates, {pid: sku for sku, pid in product_ids.items()})
    order = Order.of("new", demand.items(), lat=lat, lon=lon)
    policy = policy_for(settings, channel)
    bound = prices.bind(network) if prices and policy == "default" else None
    return source(order, network, CostModel.from_dict(settings.sourcing_cost_overrides()), policy, prices=bound)


def decision_row(order_id: int, decision: Decision, now: Any) -> dict[str, Any]:
    data = decision.to_dict() | {"order_id": str(order_id)}
    return {"order_id": order_id, "policy": decision.policy, "total_cost": round(decision.total_cost, 6),
            "packages": decision.packages, "split": decision.split, "decision": data, "created_at": now}


def decision_of(session: Session, order_id: int) -> SourcingDecision:
    found = session.get(SourcingDecision, order_id)
    if found is None:
        raise NotFound(f"Order {order_id} was not sourced by cost (a pickup, a till sale, or an address without a "
                       "place on the map)", code="no_sourcing_decision")
    return found
