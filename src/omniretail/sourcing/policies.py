"""The per-order policies and the online sequence. Pure module; `optimizer` is the entry point."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from omniretail.sourcing.cost import CostModel
from omniretail.sourcing.decision import Alternative, Decision, assignment_from_picks, breakdown, decide
from omniretail.sourcing.greedy import source_greedy, source_most_lines
from omniretail.sourcing.heuristic import Prices, source_default
from omniretail.sourcing.milp import solve
from omniretail.sourcing.model import Network, Order
from omniretail.sourcing.problem import Problem, build_problem

POLICIES = ("default", "greedy", "most_lines", "optimal")


def source(order: Order, network: Network, cost: CostModel | None = None, policy: str = "default", *,
           prices: Prices | None = None) -> Decision:
    """Decide where the order's units come from; the network is read, not changed (see `Network.consume`).

    `prices` (bid prices from `sourcing.bidprice`, for this network's locations) guide the default policy's
    choice; the other policies take none."""
    if policy not in POLICIES:
        raise ValueError(f"unknown sourcing policy {policy!r}; use one of {', '.join(POLICIES)}")
    if prices is not None and policy != "default":
        raise ValueError(f"bid prices guide the default policy only, not {policy!r}")
    problem = build_problem(order, network, cost or CostModel())
    if policy == "greedy":
        return source_greedy(problem)
    if policy == "most_lines":
        return source_most_lines(problem)
    if policy == "optimal":
        return source_optimal(problem)
    return source_default(problem, prices)


def source_optimal(problem: Problem) -> Decision:
    """The exact optimum of one order: the MILP of `milp`, with the default's plan as HiGHS's first incumbent."""
    heuristic = source_default(problem)
    if problem.target_units == 0:
        return _relabel(heuristic, "optimal", ())
    if heuristic.lower_bound is not None and heuristic.total_cost <= heuristic.lower_bound + 1e-9:
        return _relabel(heuristic, "optimal", ("the default plan meets the lower bound, so it is optimal",))
    start = assignment_from_picks(problem, heuristic.picks)
    solution = solve([problem], start=None if start is None else [start])
    found = solution.assignments[0]
    if solution.status != "Optimal" or (start is not None
                                        and breakdown(problem, start).total <= breakdown(problem, found).total):
        found = start if start is not None else found
    notes = (f"HiGHS {solution.status}: objective {solution.objective:.6f}, bound {solution.dual_bound:.6f}",)
    alternatives = (Alternative("default policy's plan", tuple(s.location_id for s in heuristic.shipments),
                                heuristic.total_cost, heuristic.unfilled_units),) + heuristic.alternatives[:2]
    return decide(problem, found, "optimal", alternatives=alternatives,
                  lower_bound=min(solution.dual_bound, breakdown(problem, found).total), notes=notes)


def source_sequence(orders: Iterable[Order], network: Network, cost: CostModel | None = None,
                    policy: str = "default", *, in_place: bool = False,
                    on_decision: Callable[[Decision, float], None] | None = None) -> list[Decision]:
    """Source orders one after the other, as they arrive: each decision takes its units from the network
    before the next order is sourced. The caller's network is left as it was unless `in_place`."""
    state = network if in_place else network.copy()
    cost = cost or CostModel()
    decisions = []
    for order in orders:
        started = time.perf_counter()
        decision = source(order, state, cost, policy)
        elapsed = time.perf_counter() - started
        state.consume(decision.picks)
        decisions.append(decision)
        if on_decision is not None:
            on_decision(decision, elapsed)
    return decisions


def _relabel(decision: Decision, policy: str, notes: tuple[str, ...]) -> Decision:
    return replace(decision, policy=policy, notes=decision.notes + notes)
