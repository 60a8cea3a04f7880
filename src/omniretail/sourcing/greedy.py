"""The rule-based policies: `greedy`, the nearest location first, and `most_lines`, the fewest parcels first. Pure.

`greedy` (the baseline of docs/benchmarks.md, what an order management system does out of the box): locations in
order of distance from the customer; each remaining line goes to the nearest location that can send it in full,
so the nearest location sends every line it holds and the next nearest the rest. A line no single location can
send in full takes its units from the nearest locations in turn.

`most_lines` (the "fewest splits, then nearest" rule): at each step the candidate that can send the most
remaining lines in full wins, ties to the nearest; it sends those lines. When no location can send any
remaining line in full, the one that can send the most units (ties to the nearest) sends what it has. Repeat
until everything is sent or nobody can send more.

Both know lines, units and distance only (no lots, no lane prices, no bid prices).
"""

from __future__ import annotations

import math

from omniretail.sourcing.assign import assign
from omniretail.sourcing.decision import Alternative, Assignment, Decision, breakdown, decide
from omniretail.sourcing.problem import Problem

GREEDY = "greedy"
MOST_LINES = "most_lines"


def source_greedy(problem: Problem) -> Decision:
    """Every line from the nearest location that can send it in full (else its units from the nearest in turn)."""
    routes = problem.routes
    avail = dict(problem.avail)
    capacity = dict(problem.capacity)
    assignment: Assignment = {}
    ranked = sorted(problem.points, key=lambda p: (problem.distance[p], p))
    ordered = {p: sorted(problem.point_routes[p], key=lambda r: routes[r].unit_cost) for p in ranked}
    for sku, want in problem.demand.items():
        for p in ranked:
            have = sum(min(avail.get((routes[r].origin, sku), 0),
                           want if capacity[routes[r].origin] is None else capacity[routes[r].origin])  # type: ignore[type-var]
                       for r in _distinct_origins(routes, ordered[p]))
            if have >= want:
                _take(problem, ordered[p], sku, want, avail, capacity, assignment)
                break
        else:
            left = want
            for p in ranked:
                if left == 0:
                    break
                left -= _take(problem, ordered[p], sku, left, avail, capacity, assignment)
    used = {routes[r].point for r, _ in assignment}
    others = [p for p in ranked if p not in used][:2]
    alternatives = tuple(_alone(problem, p, "next nearest location, alone") for p in others)
    return decide(problem, assignment, GREEDY, alternatives=alternatives,
                  notes=(f"{len(used)} locations: each line from the nearest location that can send it",))


def source_most_lines(problem: Problem) -> Decision:
    """The location that can send the most remaining lines in full, nearest first, then again for the rest."""
    routes = problem.routes
    remaining = dict(problem.demand)
    avail = dict(problem.avail)
    capacity = dict(problem.capacity)
    assignment: Assignment = {}
    chosen: set[int] = set()
    runners_up: list[tuple[int, int, float, int]] = []
    ordered = {p: sorted(problem.point_routes[p], key=lambda r: routes[r].unit_cost) for p in problem.points}

    def sendable(p: int, sku: str) -> int:
        return sum(avail.get((routes[r].origin, sku), 0) for r in _distinct_origins(routes, ordered[p]))

    def room(p: int) -> float:
        caps = [capacity[routes[r].origin] for r in _distinct_origins(routes, ordered[p])]
        return math.inf if None in caps else float(sum(c or 0 for c in caps))

    while any(remaining.values()):
        ranking: list[tuple[int, int, float, int]] = []
        for p in problem.points:
            if p in chosen:
                continue
            budget = room(p)
            lines = units = 0
            for sku, want in remaining.items():
                if want == 0:
                    continue
                can = min(want, sendable(p, sku))
                if can == want and budget >= want:
                    lines += 1
                    budget -= want
                units += can
            units = int(min(units, room(p)))
            if units:
                ranking.append((-lines, -units, problem.distance[p], p))
        if not ranking:
            break
        ranking.sort()
        if not chosen:
            runners_up = ranking[1:3]
        lines_in_full, _, _, point = ranking[0]
        chosen.add(point)
        budget = room(point)
        for sku, want in remaining.items():
            if want == 0:
                continue
            can = min(want, sendable(point, sku))
            if lines_in_full and (can < want or budget < want):
                continue  # only the lines it can send in full
            can = int(min(can, budget))
            sent = _take(problem, ordered[point], sku, can, avail, capacity, assignment)
            remaining[sku] = want - sent
            budget -= sent
    alternatives = tuple(_alone(problem, p, f"next by the rule ({-lines} lines in full), alone")
                         for lines, _, _, p in runners_up)
    return decide(problem, assignment, MOST_LINES, alternatives=alternatives,
                  notes=(f"{len(chosen)} locations chosen by most lines in full, then nearest",))


def _distinct_origins(routes, route_ids: list[int]) -> list[int]:  # type: ignore[no-untyped-def]
    seen: set[int] = set()
    result = []
    for r in route_ids:
        if routes[r].origin not in seen:
            seen.add(routes[r].origin)
            result.append(r)
    return result


def _take(problem: Problem, route_ids: list[int], sku: str, units: int, avail: dict[tuple[int, str], int],
          capacity: dict[int, int | None], assignment: Assignment) -> int:
    sent = 0
    for r in route_ids:
        if sent == units:
            break
        origin = problem.routes[r].origin
        left = capacity[origin]
        take = min(units - sent, avail.get((origin, sku), 0), units if left is None else left)
        if take <= 0:
            continue
        assignment[(r, sku)] = assignment.get((r, sku), 0) + take
        avail[(origin, sku)] -= take
        if left is not None:
            capacity[origin] = left - take
        sent += take
    return sent


def _alone(problem: Problem, point: int, note: str) -> Alternative:
    assignment = assign(problem, [point])
    filled = sum(assignment.values())
    return Alternative(note, (problem.network.locations[point].id,), breakdown(problem, assignment).total,
                       sum(problem.demand.values()) - filled)
