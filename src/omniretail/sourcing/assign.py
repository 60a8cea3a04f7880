"""Given the shipping points a policy chose, which route sends each unit. Pure module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from omniretail.sourcing.decision import Assignment
from omniretail.sourcing.problem import Problem


def assign(problem: Problem, points: Sequence[int], shadow: Mapping[tuple[int, str], float] | None = None
           ) -> Assignment:
    """Send every unit the points can send, each over its cheapest route with stock and capacity left.

    Exact for one point without lanes and for any set whose capacity does not bind; when capacity binds, the
    SKUs with the fewest routes are served first so that scarce lines are not crowded out. `shadow` adds a
    price per unit taken at (origin, SKU) to the route's cost when ranking routes (bid prices).
    """
    routes = problem.routes
    chosen = [r for p in points for r in problem.point_routes[p]]
    avail = problem.avail
    options: dict[str, list[int]] = {}
    for sku in problem.demand:
        found = [r for r in chosen if (routes[r].origin, sku) in avail]
        if found:
            if shadow:
                found.sort(key=lambda r, s=sku: routes[r].unit_cost + shadow.get((routes[r].origin, s), 0.0))
            else:
                found.sort(key=lambda r: routes[r].unit_cost)
            options[sku] = found
    capacity_left = dict(problem.capacity)
    assignment: Assignment = {}
    for sku in sorted(options, key=lambda s: (len(options[s]), s)):
        need = problem.demand[sku]
        candidates = options[sku]
        if any((routes[r].origin, sku) in problem.credits for r in candidates):
            need = _take_with_lots(problem, sku, need, candidates, capacity_left, assignment, shadow)
            continue
        for r in candidates:  # cheapest first; a shared origin's stock is counted once
            if need == 0:
                break
            origin = routes[r].origin
            left = capacity_left[origin]
            already = _taken_at(assignment, problem, origin, sku, candidates)
            take = min(need, avail[(origin, sku)] - already, need if left is None else left)
            if take > 0:
                assignment[(r, sku)] = assignment.get((r, sku), 0) + take
                need -= take
                if left is not None:
                    capacity_left[origin] = left - take
    return assignment


def _taken_at(assignment: Assignment, problem: Problem, origin: int, sku: str, candidates: list[int]) -> int:
    return sum(assignment.get((r, sku), 0) for r in candidates if problem.routes[r].origin == origin)


def _take_with_lots(problem: Problem, sku: str, need: int, candidates: list[int], capacity_left: dict[int, int | None],
                    assignment: Assignment, shadow: Mapping[tuple[int, str], float] | None = None) -> int:
    """Unit by lot segment: the next units go where unit cost minus the expiry credit of the next lot is least."""
    routes = problem.routes
    used: dict[int, int] = {}  # origin -> units of this SKU taken so far
    while need:
        best: tuple[float, int, int] | None = None
        for r in candidates:
            origin = routes[r].origin
            left = capacity_left[origin]
            taken = used.get(origin, 0)
            free = problem.avail[(origin, sku)] - taken
            if free <= 0 or left == 0:
                continue
            credit, segment_left = _next_segment(problem.credits.get((origin, sku)), taken, free)
            marginal = routes[r].unit_cost - credit + (shadow.get((origin, sku), 0.0) if shadow else 0.0)
            room = min(segment_left, free, need if left is None else left)
            if best is None or marginal < best[0]:
                best = (marginal, r, room)
        if best is None:
            break
        _, r, room = best
        take = min(room, need)
        origin = routes[r].origin
        assignment[(r, sku)] = assignment.get((r, sku), 0) + take
        used[origin] = used.get(origin, 0) + take
        need -= take
        left = capacity_left[origin]
        if left is not None:
            capacity_left[origin] = left - take
    return need


def _next_segment(segments: list[tuple[int, float]] | None, taken: int, free: int) -> tuple[float, int]:
    """(credit per unit, units left) of the lot segment the next unit comes from."""
    if not segments:
        return 0.0, free
    for units, credit in segments:
        if taken < units:
            return credit, units - taken
        taken -= units
    return 0.0, free
