"""The exact model, solved with HiGHS: one order (`optimal`) or many sharing stock and capacity (batch). Pure.

Per order k: x[k,r,s] integer units of SKU s over route r; y[k,p] binary, a parcel from point p (deliveries);
u[k,s] units left unfilled. Minimise parcels x package + units x route unit cost + unfilled x penalty, minus
lot credits, subject to
  sum_r x[k,r,s] + u[k,s] = ordered[k,s]                  every line is sent or counted unfilled
  x[k,r,s] <= min(ordered, available) * y[k,point(r)]     a point sends nothing without its parcel
  sum_{k,r from o} x[k,r,s] <= available[o,s]             stock, shared by the orders of one model
  sum_{k,r from o,s} x[k,r,s] <= capacity[o]              units the origin can still pick today
Lots: the units taken at (o, s) are split into FEFO segments z[o,s,j] <= segment size with the segment's credit
as a negative cost; credits fall from one segment to the next, so the solver fills the soonest-expiring first.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omniretail.sourcing.decision import Assignment
from omniretail.sourcing.problem import Problem

_banner_lock = threading.Lock()
_banner_shown = False


def new_highs():  # type: ignore[no-untyped-def]
    """A silent HiGHS instance. HiGHS prints a banner to fd 1 on its first construction in a process, before
    any option can be set; it is sent to /dev/null so that commands writing JSON to stdout stay clean."""
    global _banner_shown
    import highspy

    with _banner_lock:
        if _banner_shown:
            highs = highspy.Highs()
        else:
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                with open(os.devnull, "wb") as sink:
                    os.dup2(sink.fileno(), 1)
                    highs = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            _banner_shown = True
    highs.setOptionValue("output_flag", False)
    return highs


@dataclass
class Solution:
    assignments: list[Assignment]
    objective: float
    dual_bound: float
    status: str
    seconds: float
    start_objective: float = float("inf")  # the objective of the start handed to HiGHS (inf: none)


class _Model:
    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[int] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []
        self.entry_row: list[int] = []
        self.entry_col: list[int] = []
        self.entry_value: list[float] = []

    def column(self, cost: float, lower: float, upper: float, integer: bool) -> int:
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(1 if integer else 0)
        return len(self.cost) - 1

    def row(self, terms: Sequence[tuple[int, float]], lower: float, upper: float) -> None:
        index = len(self.row_lower)
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        for col, value in terms:
            self.entry_row.append(index)
            self.entry_col.append(col)
            self.entry_value.append(value)

    def solve(self, start: list[float] | None, time_limit: float | None, gap: float):  # type: ignore[no-untyped-def]
        import highspy

        lp = highspy.HighsLp()
        lp.num_col_ = len(self.cost)
        lp.num_row_ = len(self.row_lower)
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_ = np.array(self.lower)
        lp.col_upper_ = np.array(self.upper)
        lp.row_lower_ = np.array(self.row_lower)
        lp.row_upper_ = np.array(self.row_upper)
        cols = np.array(self.entry_col, dtype=np.int64)
        order = np.argsort(cols, kind="stable")
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(lp.num_col_ + 1)).astype(np.int32)
        lp.a_matrix_.index_ = np.array(self.entry_row, dtype=np.int32)[order]
        lp.a_matrix_.value_ = np.array(self.entry_value)[order]
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in self.integer]
        values, objective, dual, status, seconds = self._run(lp, start, time_limit, gap, presolve=True)
        achieved = sum(c * v for c, v in zip(self.cost, values, strict=True)) if values else objective
        if start is not None and values and abs(achieved - objective) > 1e-6 * max(1.0, abs(objective)):
            # HiGHS 1.16 with presolve on and a start solution can report its incumbent's objective but hand
            # back the start's values; without presolve the values are the incumbent's.
            values, objective, dual, status, more = self._run(lp, start, time_limit, gap, presolve=False)
            seconds += more
            achieved = sum(c * v for c, v in zip(self.cost, values, strict=True)) if values else objective
        return values, achieved, dual, status, seconds

    @staticmethod
    def _run(lp, start, time_limit, gap, *, presolve):  # type: ignore[no-untyped-def]
        import highspy

        highs = new_highs()
        highs.setOptionValue("mip_rel_gap", gap)
        highs.setOptionValue("mip_abs_gap", 1e-7)
        if not presolve:
            highs.setOptionValue("presolve", "off")
        if time_limit is not None:
            highs.setOptionValue("time_limit", float(time_limit))
        highs.passModel(lp)
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = list(start)
            solution.value_valid = True
            highs.setSolution(solution)
        highs.run()
        status = highs.modelStatusToString(highs.getModelStatus())
        info = highs.getInfo()
        values = list(highs.getSolution().col_value)
        return values, info.objective_function_value, info.mip_dual_bound, status, highs.getRunTime()


def solve(problems: Sequence[Problem], *, points: Sequence[set[int] | None] | None = None,
          start: Sequence[Assignment] | None = None, time_limit: float | None = None,
          gap: float = 0.0) -> Solution:
    """Solve the orders together. `points` restricts each order's candidate shipping points (None: all);
    `start` is a feasible assignment per order handed to HiGHS as its first incumbent."""
    model = _Model()
    x_cols: list[dict[tuple[int, str], int]] = []
    by_stock: dict[tuple[int, str], list[int]] = {}
    by_origin: dict[int, list[int]] = {}
    y_cols: list[dict[int, int]] = []
    u_cols: list[dict[str, int]] = []
    avail: dict[tuple[int, str], int] = {}
    capacity: dict[int, int | None] = {}
    credits: dict[tuple[int, str], list[tuple[int, float]]] = {}
    for k, problem in enumerate(problems):
        allowed = points[k] if points is not None else None
        xs: dict[tuple[int, str], int] = {}
        ys: dict[int, int] = {}
        for p in problem.points:
            if allowed is not None and p not in allowed:
                continue
            route_ids = problem.point_routes[p]
            y = None if problem.pickup else model.column(problem.package, 0, 1, True)
            if y is not None:
                ys[p] = y
            for r in route_ids:
                route = problem.routes[r]
                for sku, ordered in problem.demand.items():
                    units = problem.avail.get((route.origin, sku), 0)
                    if not units:
                        continue
                    bound = min(ordered, units)
                    col = model.column(route.unit_cost, 0, bound, True)
                    xs[(r, sku)] = col
                    by_stock.setdefault((route.origin, sku), []).append(col)
                    by_origin.setdefault(route.origin, []).append(col)
                    if y is not None:
                        model.row([(col, 1.0), (y, -float(bound))], -np.inf, 0.0)
        us: dict[str, int] = {}
        for sku, ordered in problem.demand.items():
            us[sku] = model.column(problem.cost.unfilled_per_unit, 0, ordered, False)
            terms = [(col, 1.0) for (r, s), col in xs.items() if s == sku] + [(us[sku], 1.0)]
            model.row(terms, ordered, ordered)
        x_cols.append(xs)
        y_cols.append(ys)
        u_cols.append(us)
        for key, units in problem.avail.items():
            avail.setdefault(key, units)
        for origin, left in problem.capacity.items():
            capacity.setdefault(origin, left)
        for key, segments in problem.credits.items():
            credits.setdefault(key, segments)
    z_cols: dict[tuple[int, str], list[int]] = {}
    for key, cols in by_stock.items():
        segments = credits.get(key)
        if segments:
            z_cols[key] = [model.column(-credit, 0, units, False) for units, credit in segments]
            model.row([(c, 1.0) for c in cols] + [(z, -1.0) for z in z_cols[key]], 0.0, 0.0)
        elif len(cols) > 1 or sum(model.upper[c] for c in cols) > avail[key]:
            model.row([(c, 1.0) for c in cols], -np.inf, float(avail[key]))
    for origin, cols in by_origin.items():
        left = capacity[origin]
        if left is not None and sum(model.upper[c] for c in cols) > left:
            model.row([(c, 1.0) for c in cols], -np.inf, float(left))
    initial = None
    if start is not None:
        initial = _start_vector(problems, model, start, x_cols, y_cols, u_cols, z_cols, credits)
    values, objective, dual, status, seconds = model.solve(initial, time_limit, gap)
    start_objective = float("inf") if initial is None else sum(c * v for c, v in zip(model.cost, initial, strict=True))
    assignments = [{key: n for key, col in xs.items() if (n := int(round(values[col]))) > 0} if values else {}
                   for xs in x_cols]
    return Solution(assignments, objective, dual, status, seconds, start_objective)


def _start_vector(problems, model, start, x_cols, y_cols, u_cols, z_cols, credits):  # type: ignore[no-untyped-def]
    values = [0.0] * len(model.cost)
    taken: dict[tuple[int, str], int] = {}
    for k, assignment in enumerate(start):
        problem = problems[k]
        filled: dict[str, int] = {}
        for (r, sku), units in assignment.items():
            col = x_cols[k].get((r, sku))
            if col is None:
                return None  # the start uses a point the model left out
            values[col] = float(units)
            point = problem.routes[r].point
            if point in y_cols[k]:
                values[y_cols[k][point]] = 1.0
            filled[sku] = filled.get(sku, 0) + units
            origin_key = (problem.routes[r].origin, sku)
            taken[origin_key] = taken.get(origin_key, 0) + units
        for sku, col in u_cols[k].items():
            values[col] = float(problem.demand[sku] - filled.get(sku, 0))
    for key, cols in z_cols.items():
        units = taken.get(key, 0)
        for col, (size, _) in zip(cols, credits[key], strict=True):
            values[col] = float(min(size, units))
            units -= min(size, units)
    return values


def most_units_fillable(demand: dict[str, int], network) -> int:  # type: ignore[no-untyped-def]
    """The most units of `demand` (per SKU, over many orders) the network's stock and picking capacity could
    send, ignoring which location may ship where: a max-flow LP. Demand minus this is a floor on the units any
    plan leaves unfilled."""
    model = _Model()
    by_sku: dict[str, list[int]] = {}
    for origin, stock in enumerate(network.stock):
        left = network.capacity[origin]
        if left is not None and left <= 0:
            continue
        cols = [model.column(-1.0, 0, float(stock[sku]), False) for sku in demand if stock.get(sku, 0) > 0]
        for sku, col in zip((s for s in demand if stock.get(s, 0) > 0), cols, strict=True):
            by_sku.setdefault(sku, []).append(col)
        if left is not None and cols and sum(model.upper[c] for c in cols) > left:
            model.row([(c, 1.0) for c in cols], -np.inf, float(left))
    for sku, cols in by_sku.items():
        model.row([(c, 1.0) for c in cols], -np.inf, float(demand[sku]))
    if not model.cost:
        return 0
    _, objective, _, status, _ = model.solve(None, None, 0.0)
    if status != "Optimal":
        raise RuntimeError(f"HiGHS could not solve the max-flow bound: {status}")
    return int(round(-objective))
