"""A sourcing decision that explains itself, and the one place where an assignment's cost is computed. Pure.

Every policy produces an assignment (units per route and SKU); `decide` turns it into a `Decision` with the
exact cost breakdown, so policies are compared on the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omniretail.sourcing.cost import CostBreakdown
from omniretail.sourcing.model import NO_EXPIRY
from omniretail.sourcing.problem import REASONS, Problem

Assignment = dict[tuple[int, str], int]  # (route index, sku) -> units


@dataclass(frozen=True)
class Pick:
    """Units of one SKU taken at one location; `via` names the location a transfer lane brings them to."""

    location_id: str
    sku: str
    quantity: int
    via: str | None = None
    lots: tuple[tuple[int, int | None], ...] = ()  # (units, days to expiry) of dated lots, soonest first

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"location_id": self.location_id, "sku": self.sku, "quantity": self.quantity}
        if self.via is not None:
            data["via"] = self.via
        if self.lots:
            data["lots"] = [{"quantity": n, "expires_in_days": d} for n, d in self.lots]
        return data


@dataclass(frozen=True)
class Shipment:
    """What leaves one location for the customer (a parcel) or waits at the pickup location."""

    location_id: str
    distance_km: float
    units: dict[str, int]
    picks: tuple[Pick, ...]
    ready_in_days: int

    def to_dict(self) -> dict[str, Any]:
        return {"location_id": self.location_id, "distance_km": round(self.distance_km, 3), "units": self.units,
                "picks": [p.to_dict() for p in self.picks], "ready_in_days": self.ready_in_days}


@dataclass(frozen=True)
class Alternative:
    """Another way the policy looked at, with what it would have cost."""

    note: str
    location_ids: tuple[str, ...]
    total_cost: float
    unfilled_units: int

    def to_dict(self) -> dict[str, Any]:
        return {"note": self.note, "location_ids": list(self.location_ids), "total_cost": round(self.total_cost, 6),
                "unfilled_units": self.unfilled_units}


@dataclass(frozen=True)
class Decision:
    order_id: str
    policy: str
    pickup: bool
    shipments: tuple[Shipment, ...]
    unfilled: dict[str, int]
    reasons: dict[str, str]
    cost: CostBreakdown
    alternatives: tuple[Alternative, ...] = ()
    lower_bound: float | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def total_cost(self) -> float:
        return self.cost.total

    @property
    def packages(self) -> int:
        return 0 if self.pickup else len(self.shipments)

    @property
    def split(self) -> bool:
        """Shipped in more than one parcel (a pickup is split when units come from more than one place)."""
        if self.pickup:
            return len({p.location_id for p in self.picks}) > 1
        return len(self.shipments) > 1

    @property
    def picks(self) -> tuple[Pick, ...]:
        return tuple(p for s in self.shipments for p in s.picks)

    @property
    def unfilled_units(self) -> int:
        return sum(self.unfilled.values())

    @property
    def ready_in_days(self) -> int:
        return max((s.ready_in_days for s in self.shipments), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id, "policy": self.policy, "fulfilment": "pickup" if self.pickup else "delivery",
            "shipments": [s.to_dict() for s in self.shipments], "packages": self.packages, "split": self.split,
            "unfilled": dict(self.unfilled),
            "reasons": {sku: {"code": code, "detail": REASONS[code]} for sku, code in self.reasons.items()},
            "cost": self.cost.to_dict(), "ready_in_days": self.ready_in_days,
            "alternatives": [a.to_dict() for a in self.alternatives],
            "lower_bound": None if self.lower_bound is None else round(self.lower_bound, 6),
            "notes": list(self.notes),
        }


def breakdown(problem: Problem, assignment: Assignment) -> CostBreakdown:
    """The exact cost of an assignment (which must respect stock; see `fits`)."""
    cost = problem.cost
    items = distance = transfer = delay = 0.0
    points: set[int] = set()
    filled: dict[str, int] = {}
    taken: dict[tuple[int, str], int] = {}
    for (r, sku), units in assignment.items():
        if units <= 0:
            continue
        route = problem.routes[r]
        points.add(route.point)
        filled[sku] = filled.get(sku, 0) + units
        taken[(route.origin, sku)] = taken.get((route.origin, sku), 0) + units
        items += cost.item * units
        distance += cost.item_km * problem.distance[route.point] * units
        transfer += route.transfer * units
        delay += cost.delay_per_unit_day * route.delay_days * units
    credit = 0.0
    for key, units in taken.items():
        for n, per_unit in problem.credits.get(key, ()):
            if units <= 0:
                break
            credit += per_unit * min(n, units)
            units -= n
    unfilled = sum(max(0, q - filled.get(sku, 0)) for sku, q in problem.demand.items())
    return CostBreakdown(packages=problem.package * len(points), items=items, distance=distance, transfer=transfer,
                         delay=delay, unfilled=cost.unfilled_per_unit * unfilled, expiry_credit=credit)


def fits(problem: Problem, assignment: Assignment) -> bool:
    """The assignment takes no more than is available, ordered or pickable."""
    per_origin: dict[int, int] = {}
    per_stock: dict[tuple[int, str], int] = {}
    per_sku: dict[str, int] = {}
    for (r, sku), units in assignment.items():
        if units < 0:
            return False
        origin = problem.routes[r].origin
        per_origin[origin] = per_origin.get(origin, 0) + units
        per_stock[(origin, sku)] = per_stock.get((origin, sku), 0) + units
        per_sku[sku] = per_sku.get(sku, 0) + units
    return (all(units <= problem.avail.get(key, 0) for key, units in per_stock.items())
            and all(units <= problem.demand.get(sku, 0) for sku, units in per_sku.items())
            and all(problem.capacity[o] is None or units <= problem.capacity[o]  # type: ignore[operator]
                    for o, units in per_origin.items()))


def decide(problem: Problem, assignment: Assignment, policy: str, *, alternatives: tuple[Alternative, ...] = (),
           lower_bound: float | None = None, notes: tuple[str, ...] = ()) -> Decision:
    if not fits(problem, assignment):
        raise ValueError(f"policy {policy} produced an assignment that does not fit order {problem.order.id}")
    network = problem.network
    ids = [loc.id for loc in network.locations]
    lots_left = {key: [[n, 0] for n, _ in segments] for key, segments in problem.credits.items()}
    by_point: dict[int, list[Pick]] = {}
    units_at: dict[int, dict[str, int]] = {}
    ready: dict[int, int] = {}
    filled: dict[str, int] = {}
    for (r, sku), units in sorted(assignment.items()):
        if units <= 0:
            continue
        route = problem.routes[r]
        dated = _dated_lots(problem, lots_left, route.origin, sku, units)
        pick = Pick(ids[route.origin], sku, units, via=None if route.origin == route.point else ids[route.point],
                    lots=dated)
        by_point.setdefault(route.point, []).append(pick)
        units_at.setdefault(route.point, {})
        units_at[route.point][sku] = units_at[route.point].get(sku, 0) + units
        ready[route.point] = max(ready.get(route.point, 0), route.delay_days)
        filled[sku] = filled.get(sku, 0) + units
    shipments = tuple(Shipment(ids[p], problem.distance[p], units_at[p], tuple(by_point[p]), ready[p])
                      for p in sorted(by_point, key=lambda p: (problem.distance[p], ids[p])))
    unfilled = {sku: q - filled.get(sku, 0) for sku, q in problem.demand.items() if q > filled.get(sku, 0)}
    reasons = {sku: _reason(problem, assignment, sku) for sku in unfilled}
    return Decision(order_id=problem.order.id, policy=policy, pickup=problem.pickup, shipments=shipments,
                    unfilled=unfilled, reasons=reasons, cost=breakdown(problem, assignment),
                    alternatives=alternatives, lower_bound=lower_bound, notes=notes)


def _reason(problem: Problem, assignment: Assignment, sku: str) -> str:
    """Why units of `sku` stay unfilled: a shortage found before deciding, the capacity this plan used up at
    every location holding it, or else the policy's choice (a penalty below the cost of sending them)."""
    if sku in problem.reasons:
        return problem.reasons[sku]
    used: dict[int, int] = {}
    for (r, _), units in assignment.items():
        used[problem.routes[r].origin] = used.get(problem.routes[r].origin, 0) + units
    holders = [o for (o, s) in problem.avail if s == sku]
    if holders and all(problem.capacity[o] is not None and used.get(o, 0) >= problem.capacity[o]  # type: ignore[operator]
                       for o in holders):
        return "capacity"
    return "not_sourced"


def _dated_lots(problem: Problem, lots_left: dict[tuple[int, str], list[list[int]]], origin: int, sku: str,
                units: int) -> tuple[tuple[int, int | None], ...]:
    """The dated lots (FEFO) the units come from, read from the network's lots for this origin and SKU."""
    key = (origin, sku)
    if key not in lots_left:
        return ()
    source = problem.network.lots[origin].get(sku, [])
    segments = lots_left[key]
    result: list[tuple[int, int | None]] = []
    for i, segment in enumerate(segments):
        if units == 0:
            break
        free = segment[0] - segment[1]
        if free <= 0:
            continue
        take = min(free, units)
        segment[1] += take
        units -= take
        days = source[i][1]
        if days != NO_EXPIRY:
            result.append((take, days))
    return tuple(result)


def assignment_from_picks(problem: Problem, picks: Sequence[Pick]) -> Assignment | None:
    """The picks of a decision as an assignment of `problem` (None when a route is not open in it)."""
    index = problem.network.index
    assignment: Assignment = {}
    for pick in picks:
        origin = index[pick.location_id]
        point = origin if pick.via is None else index[pick.via]
        r = problem.route_of.get((origin, point))
        if r is None:
            return None
        assignment[(r, pick.sku)] = assignment.get((r, pick.sku), 0) + pick.quantity
    return assignment
