"""Sourcing many orders together, stock and capacity shared (`optimal_batch`). Pure module.

One MILP over thousands of orders and every location is too big for HiGHS in reasonable time (on 2 cores a
window of 30,000 columns did not close its gap in a minute, one of 8,000 took about a second when stock was
plentiful and hit a 10 s limit when it was not; 2,000-column windows gave the best result per second), so the
batch is solved by fix-and-optimise over windows of orders:

1. Start from a feasible plan for the whole batch: the orders sourced one after the other by the default policy
   (online, in the given sequence; the plans fit together because each took what the previous ones left).
2. Pass "region": orders sorted by their nearest location (orders that compete for the same stock sit
   together), cut into windows of about `max_columns` MILP columns. Pass "sequence": consecutive windows of
   the given sequence. For each window, fix every order outside it, hand the rest of the stock and capacity to
   one MILP over the window's orders (each order restricted to a few candidate locations: its nearest, the
   nearest holders of each SKU, the nearest that hold everything, and those of the current plan), start HiGHS
   from the current plan, and keep the result when it is cheaper. A window can only lower the total; a window
   whose plan already costs the sum of its orders' own lower bounds is skipped, as nothing can beat it.
3. Replay the final plan in sequence to state each order's decision and cost exactly.

`lower_bound` is the sum of each order's lower bound alone on the untouched network: no plan of the batch can
cost less, since orders sharing the network can only do worse than each on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from omniretail.sourcing.cost import CostModel
from omniretail.sourcing.decision import Alternative, Decision, Pick, assignment_from_picks, decide
from omniretail.sourcing.heuristic import source_default
from omniretail.sourcing.milp import solve
from omniretail.sourcing.model import Network, Order
from omniretail.sourcing.policies import source_sequence
from omniretail.sourcing.problem import Problem, build_problem

POLICY = "optimal_batch"
PASSES = ("region", "sequence")
NEAREST = 6
PER_SKU = 2
COVERS = 3
EPS = 1e-7


@dataclass
class BatchResult:
    decisions: list[Decision]
    start_cost: float
    lower_bound: float | None
    windows: int
    improved_windows: int
    skipped_windows: int
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_cost(self) -> float:
        return sum(d.total_cost for d in self.decisions)


def source_batch(orders: Iterable[Order], network: Network, cost: CostModel | None = None, *,
                 max_columns: int = 2_000, time_limit: float = 2.0, gap: float = 1e-6,
                 passes: Sequence[str] = PASSES, start: list[Decision] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """Source the orders together; the caller's network is left as it was. `start` is a feasible plan for all
    of them in sequence (default: the default policy online); `progress(done, total)` follows the windows."""
    began = time.perf_counter()
    orders = list(orders)
    cost = cost or CostModel()
    unknown = set(passes) - set(PASSES)
    if unknown:
        raise ValueError(f"unknown batch passes {sorted(unknown)}; use {', '.join(PASSES)}")
    plan = list(start) if start is not None else source_sequence(orders, network, cost, "default")
    if len(plan) != len(orders):
        raise ValueError("the start plan must have one decision per order")
    start_plan = list(plan)
    alone = [_alone(order, network, cost) for order in orders]
    bounds = [bound for bound, _, _ in alone]
    used = _totals(plan)
    windows = [w for name in passes for w in _windows(name, alone, max_columns)]
    improved = skipped = 0
    statuses: dict[str, int] = {}
    for done, window in enumerate(windows, 1):
        if all(bounds[i] is not None for i in window) and \
                sum(plan[i].total_cost for i in window) <= sum(bounds[i] for i in window) + EPS:  # type: ignore[misc]
            skipped += 1
        elif _improve(window, orders, network, cost, plan, used, time_limit, gap, statuses):
            improved += 1
            used = _totals(plan)
        if progress is not None:
            progress(done, len(windows))
    decisions = _replay(orders, network, cost, plan, start_plan)
    lower = None if any(b is None for b in bounds) else sum(bounds)  # type: ignore[arg-type]
    return BatchResult(decisions, sum(d.total_cost for d in start_plan), lower, len(windows), improved, skipped,
                       statuses, time.perf_counter() - began)


def _alone(order: Order, network: Network, cost: CostModel) -> tuple[float | None, int, int]:
    """(lower bound, nearest candidate location, model columns) of an order on the untouched network."""
    problem = build_problem(order, network, cost)
    bound = source_default(problem).lower_bound
    allowed = _candidates(problem)
    columns = sum(1 + sum(1 for r in problem.point_routes[p] for s in problem.demand
                          if (problem.routes[r].origin, s) in problem.avail) for p in allowed)
    region = min(allowed, key=lambda p: (problem.distance[p], p), default=-1)
    return bound, region, columns


def _windows(name: str, alone: list[tuple[float | None, int, int]], max_columns: int) -> Iterable[list[int]]:
    """Windows of about `max_columns` model columns: by nearest location ("region") or in sequence."""
    indices = list(range(len(alone)))
    if name == "region":
        indices.sort(key=lambda i: (alone[i][1], i))
    window: list[int] = []
    columns = 0
    for i in indices:
        if window and columns + alone[i][2] > max_columns:
            yield sorted(window)
            window, columns = [], 0
        window.append(i)
        columns += alone[i][2]
    if window:
        yield sorted(window)


def _improve(window: list[int], orders: list[Order], network: Network, cost: CostModel, plan: list[Decision],
             used: dict[tuple[str, str], int], time_limit: float, gap: float, statuses: dict[str, int]) -> bool:
    """Re-solve the window's orders together with everything else fixed; True when the plan got cheaper."""
    inside = _totals(plan[i] for i in window)
    residual = network.copy()
    residual.consume(Pick(loc, sku, n - inside.get((loc, sku), 0)) for (loc, sku), n in used.items()
                     if n > inside.get((loc, sku), 0))
    problems = [build_problem(orders[i], residual, cost) for i in window]
    starts = [assignment_from_picks(p, plan[i].picks) for p, i in zip(problems, window, strict=True)]
    if any(s is None for s in starts):
        raise RuntimeError("the current plan does not fit the residual network")
    allowed = [_candidates(p) | {p.routes[r].point for r, _ in s} for p, s in zip(problems, starts, strict=True)]  # type: ignore[union-attr]
    solution = solve(problems, points=allowed, start=starts, time_limit=time_limit, gap=gap)  # type: ignore[arg-type]
    statuses[solution.status] = statuses.get(solution.status, 0) + 1
    if not solution.assignments or solution.objective >= solution.start_objective - EPS:
        return False
    for problem, i, assignment in zip(problems, window, solution.assignments, strict=True):
        plan[i] = decide(problem, assignment, POLICY)
    return True


def _totals(plan: Iterable[Decision]) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = {}
    for decision in plan:
        for pick in decision.picks:
            totals[(pick.location_id, pick.sku)] = totals.get((pick.location_id, pick.sku), 0) + pick.quantity
    return totals


def _candidates(problem: Problem) -> set[int]:
    """The few locations an order may use in the batch model."""
    routes = problem.routes
    base = {p: min(routes[r].unit_cost for r in problem.point_routes[p]) for p in problem.points}
    ranked = sorted(problem.points, key=lambda p: (base[p], p))
    chosen = set(ranked[:NEAREST])
    wanted = {s: q for s, q in problem.fillable.items() if q > 0}
    per_sku = dict.fromkeys(wanted, 0)
    covers = 0
    for p in ranked:
        reach = {s: problem.reachable(p, s) for s in wanted}
        for s, n in reach.items():
            if n and per_sku[s] < PER_SKU:
                per_sku[s] += 1
                chosen.add(p)
        if covers < COVERS and all(reach[s] >= q for s, q in wanted.items()):
            covers += 1
            chosen.add(p)
        if covers == COVERS and all(n == PER_SKU for n in per_sku.values()):
            break
    return chosen


def _replay(orders: list[Order], network: Network, cost: CostModel, plan: list[Decision],
            start_plan: list[Decision]) -> list[Decision]:
    """Each order's decision and exact cost, taking the plan's units in sequence (lots first-expired-first-out)."""
    state = network.copy()
    decisions = []
    for order, planned, first in zip(orders, plan, start_plan, strict=True):
        problem = build_problem(order, state, cost)
        assignment = assignment_from_picks(problem, planned.picks)
        if assignment is None:
            raise RuntimeError(f"the batch plan for order {order.id} does not fit")
        online = Alternative(f"{first.policy} policy, sourced online", tuple(s.location_id for s in first.shipments),
                             first.total_cost, first.unfilled_units)
        decision = decide(problem, assignment, POLICY, alternatives=(online,),
                          notes=("sourced together with the batch (fix-and-optimise over windows)",))
        state.consume(decision.picks)
        decisions.append(decision)
    return decisions
