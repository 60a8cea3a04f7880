"""The default policy: a bounded search over one- and two-parcel covers, then local improvement. Pure module.

1. Every single location that can send the whole order, in order of a lower bound on its cost, until the bound
   passes the best found (exact costs).
2. Unless the best single is proven optimal (no two-parcel plan can beat it: 2 parcels plus every unit at its
   cheapest route already cost more), pairs: for each location, taken as the nearer of the two, the nearest
   farther locations that can send what it lacks; the scan stops when the pair bound passes the best.
3. When neither proves optimal, a greedy cover (parcel plus distance per newly covered unit) and swaps.

Without lanes, lot credits or binding capacity, steps 1 and 2 are exact over one- and two-parcel plans, so the
decision carries a lower bound on any plan's cost and says when it is proven optimal.

With bid prices (`sourcing.bidprice`), every unit taken at a location also costs that location's price for the
SKU and for its picking capacity, and every unit left unfilled the dearest of those prices on top of the penalty
(so the prices choose where units come from, never whether a unit the network can send is sent). The search is
the same over these costs; the decision states its true cost, a lower bound on it, and that prices were used.
"""

from __future__ import annotations

import math
from typing import Protocol

from omniretail.sourcing.assign import assign
from omniretail.sourcing.decision import Alternative, Assignment, Decision, breakdown, decide
from omniretail.sourcing.problem import Problem

POLICY = "default"
PAIR_PARTNERS = 2  # nearest farther partners tried per location
SWAP_CANDIDATES = 6  # nearest outside locations tried in local improvement
IMPROVE_ROUNDS = 2
ALTERNATIVES = 3  # shown with each decision
EPS = 1e-9


class Prices(Protocol):
    def of(self, origin: int, sku: str) -> float: ...


def source_default(problem: Problem, prices: Prices | None = None) -> Decision:
    """The default policy's decision; `prices` (bid prices, per location position and SKU) guide the choice."""
    if problem.target_units == 0:  # the only plan: every unit unfilled
        return decide(problem, {}, POLICY, lower_bound=breakdown(problem, {}).total, notes=("nothing can be sent",))
    return _Search(problem, prices).run()


class _Search:
    def __init__(self, problem: Problem, prices: Prices | None = None) -> None:
        self.problem = problem
        cost = problem.cost
        self.shadow: dict[tuple[int, str], float] = {}
        if prices is not None:
            for key in problem.avail:
                price = prices.of(*key)
                if price > 0:
                    self.shadow[key] = price
        self.priced = bool(self.shadow)
        self.extra = max(self.shadow.values()) if self.priced else 0.0  # per unfilled unit, on top of the penalty
        self.penalty = cost.unfilled_per_unit + self.extra
        self.fill = {s: q for s, q in problem.fillable.items() if q > 0}
        self.units = sum(self.fill.values())
        self.demanded = sum(problem.demand.values())
        self.unfillable = sum(q - problem.fillable[s] for s, q in problem.demand.items())
        self.unfilled = self.penalty * self.unfillable
        routes = problem.routes
        self.reach = problem.reach
        self.base: dict[int, float] = {}
        self.pickable: dict[int, float] = {}
        lanes = False
        for p in problem.points:
            own = problem.point_routes[p]
            if len(own) == 1:
                route = routes[own[0]]
                left = problem.capacity[route.origin]
                self.pickable[p] = math.inf if left is None else left
                self.base[p] = route.unit_cost
                lanes = lanes or route.origin != p
            else:
                lanes = True
                caps = [problem.capacity[routes[r].origin] for r in own]
                self.pickable[p] = math.inf if None in caps else float(sum(c or 0 for c in caps))
                self.base[p] = min(routes[r].unit_cost for r in own)
        per_unit = cost.expiry_credit(0) if problem.credits else 0.0
        self.slack = per_unit * self.units
        # Plans that leave a fillable unit unfilled cost more than any three-parcel plan when the penalty is
        # this high, so one- and two-parcel covers are all the search must get exactly right.
        dearest = max(self.base.values(), default=0.0)
        self.low_penalty = cost.unfilled_per_unit < 2 * problem.package + dearest
        self.simple = (not lanes and not problem.credits and all(c >= self.units for c in self.pickable.values())
                       and not self.low_penalty and not self.priced)
        self.true_base = self.base
        if self.priced:  # the least price a unit sent from each point pays on top of its route
            self.base = {p: b + min((self.shadow.get((routes[r].origin, s), 0.0) for r in problem.point_routes[p]
                                     for s in self.fill if (routes[r].origin, s) in problem.avail), default=0.0)
                         for p, b in self.true_base.items()}
        self.unit_bound = self._unit_bound(self.shadow, self.penalty) + self.unfilled
        self._unit_costs: dict[int, dict[str, float]] | None = None
        self.holders: dict[str, list[int]] = {sku: [] for sku in self.fill}
        for p, reach in self.reach.items():
            for sku in reach:
                if sku in self.holders:
                    self.holders[sku].append(p)
        self.seen: dict[frozenset[int], tuple[float, Assignment]] = {}
        self.best: tuple[float, frozenset[int]] | None = None
        self.singles: list[tuple[float, int]] = []
        self.pairs: list[tuple[float, tuple[int, int]]] = []
        self.full: list[int] = []

    def _unit_bound(self, shadow: dict[tuple[int, str], float], penalty: float) -> float:
        """Every fillable unit at its cheapest route (or left, when dearer than `penalty`), no parcels: the part
        of any plan's cost that parcels add to, without the units nobody can send."""
        problem, routes = self.problem, self.problem.routes
        cheapest: dict[str, float] = {}
        by_origin: dict[int, float] = {}
        for route in routes:
            if route.unit_cost < by_origin.get(route.origin, math.inf):
                by_origin[route.origin] = route.unit_cost
        credits = problem.credits
        for (origin, sku), _ in problem.avail.items():
            c = by_origin[origin]
            if credits:
                c -= problem.max_credit(origin, sku)
            if shadow:
                c += shadow.get((origin, sku), 0.0)
            if c < cheapest.get(sku, math.inf):
                cheapest[sku] = c
        return sum(q * min(cheapest[s], penalty) for s, q in self.fill.items())  # a unit dearer to send is left

    def bound(self, parcels: int) -> float:
        """No plan with at least this many parcels costs less."""
        return parcels * self.problem.package + self.unit_bound

    def floor(self) -> float:
        """No plan at all costs less (the plan sending nothing included)."""
        return min(self.bound(1), self.penalty * self.units + self.unfilled)

    def true_floor(self) -> float:
        """No plan costs less in true cost (without prices)."""
        cost = self.problem.cost
        unfilled = cost.unfilled_per_unit * self.unfillable
        return min(self.problem.package + self._unit_bound({}, cost.unfilled_per_unit),
                   cost.unfilled_per_unit * self.units) + unfilled

    def _single_bound(self, p: int) -> float:
        """No plan sending everything from point p alone costs less."""
        if not self.priced:
            return self.problem.package + self.units * self.base[p]
        costs = self._costs()[p]
        return self.problem.package + sum(q * min(self.penalty, costs.get(s, math.inf)) for s, q in self.fill.items())

    def _costs(self) -> dict[int, dict[str, float]]:
        """Per point and SKU the least a unit costs there, price included (with prices only; computed once)."""
        if self._unit_costs is None:
            problem, routes, shadow = self.problem, self.problem.routes, self.shadow
            table: dict[int, dict[str, float]] = {}
            for p in problem.points:
                costs: dict[str, float] = {}
                for r in problem.point_routes[p]:
                    o, unit = routes[r].origin, routes[r].unit_cost
                    for s in self.fill:
                        if (o, s) in problem.avail:
                            c = unit + shadow.get((o, s), 0.0) - problem.max_credit(o, s)
                            if c < costs.get(s, math.inf):
                                costs[s] = c
                table[p] = costs
            self._unit_costs = table
        return self._unit_costs

    def _pair_bounds(self, ranked: list[int]) -> list[float]:
        """With prices: per rank, the least the units cost when sent by points of that rank or later."""
        table, fill, penalty = self._costs(), self.fill, self.penalty
        least = dict.fromkeys(fill, penalty)
        bounds = [0.0] * len(ranked)
        for i in range(len(ranked) - 1, -1, -1):
            for s, c in table[ranked[i]].items():
                if c < least[s]:
                    least[s] = c
            bounds[i] = sum(q * least[s] for s, q in fill.items())
        return bounds

    def evaluate(self, points: frozenset[int]) -> float:
        if points in self.seen:
            return self.seen[points][0]
        assignment = assign(self.problem, sorted(points, key=lambda p: self.base[p]), self.shadow or None)
        total = breakdown(self.problem, assignment).total
        if self.priced:
            routes, shadow = self.problem.routes, self.shadow
            sent = 0
            for (r, sku), units in assignment.items():
                total += shadow.get((routes[r].origin, sku), 0.0) * units
                sent += units
            total += self.extra * (self.demanded - sent)
        self.seen[points] = (total, assignment)
        if self.best is None or total < self.best[0] - EPS:
            self.best = (total, points)
        return total

    def best_cost(self) -> float:
        return math.inf if self.best is None else self.best[0]

    def run(self) -> Decision:
        problem = self.problem
        if problem.pickup:
            (point,) = problem.points
            self.evaluate(frozenset([point]))
            return self._decision(lower_bound=min(self.best_cost(), self.unit_bound))  # pickups pay no parcel
        if self.low_penalty:  # leaving units may be cheaper than sending them: try nothing and every single
            self.evaluate(frozenset())
            for p in problem.points:
                self.evaluate(frozenset([p]))
        self._singles()
        if self.best_cost() <= self.bound(2) + EPS:
            return self._decision(lower_bound=self.best_cost() if self.simple else min(self.best_cost(),
                                                                                      self.floor()))
        self._pairs()
        if self.simple and self.best_cost() <= self.bound(3) + EPS:
            return self._decision(lower_bound=self.best_cost())
        self._greedy_cover()
        self._improve()
        return self._decision(lower_bound=min(self.best_cost(), self.bound(3) if self.simple else self.floor()))

    def _singles(self) -> None:
        fill, units, reach = self.fill, self.units, self.reach
        able: set[int] | None = None
        for s, q in sorted(fill.items(), key=lambda item: -item[1]):
            have = {p for p in self.problem.points if reach[p].get(s, 0) >= q} if able is None else \
                {p for p in able if reach[p].get(s, 0) >= q}
            able = have
            if not able:
                break
        full = [p for p in able or () if self.pickable[p] >= units]
        bound = {p: self._single_bound(p) for p in full}
        full.sort(key=(lambda p: bound[p]) if self.priced else (lambda p: self.base[p]))
        self.full = full
        for p in full:
            if bound[p] - self.slack + self.unfilled >= self.best_cost() - EPS:
                break
            self.singles.append((self.evaluate(frozenset([p])), p))
        self.singles.sort()

    def _pairs(self) -> None:
        problem, fill, units = self.problem, self.fill, self.units
        ranked = sorted(problem.points, key=lambda p: (self.base[p], p))
        rank = {p: i for i, p in enumerate(ranked)}
        holders = {s: set(at) for s, at in self.holders.items()}
        two = 2 * problem.package - self.slack + self.unfilled
        later = self._pair_bounds(ranked) if self.priced else None
        for a in ranked:
            if two + (units * self.base[a] if later is None else later[rank[a]]) >= self.best_cost() - EPS:
                break
            reach_a = self.reach[a]
            taken = {s: min(q, reach_a.get(s, 0)) for s, q in fill.items()}
            sent = min(sum(taken.values()), self.pickable[a])
            deficits = {s: q - taken[s] for s, q in fill.items() if q > taken[s]}
            if not deficits and sent >= units:
                continue
            valid: set[int] | None = None
            for s in sorted(deficits, key=lambda s: len(holders[s])):
                need = deficits[s]
                able = {p for p in holders[s] if self.reach[p][s] >= need}
                valid = able if valid is None else valid & able
                if not valid:
                    break
            if valid is None:  # a lacks only capacity: any farther location with units can help
                valid = {p for p in ranked if self.reach[p]}
            partners = sorted((rank[b], b) for b in valid if rank[b] > rank[a])[:PAIR_PARTNERS]
            for _, b in partners:
                if two + sent * self.base[a] + (units - sent) * self.base[b] >= self.best_cost() - EPS:
                    continue
                if later is not None and two + self._pair_bound(a, b) >= self.best_cost() - EPS:
                    continue
                self.pairs.append((self.evaluate(frozenset([a, b])), (a, b)))
        self.pairs.sort()

    def _pair_bound(self, a: int, b: int) -> float:
        """With prices: the least the units cost when sent by a and b (capacity aside)."""
        table, penalty = self._costs(), self.penalty
        ca, cb = table[a], table[b]
        return sum(q * min(penalty, ca.get(s, math.inf), cb.get(s, math.inf)) for s, q in self.fill.items())

    def _greedy_cover(self, first: int | None = None, avoid: frozenset[int] = frozenset()) -> None:
        """Add the location with the least parcel-plus-distance cost per newly covered unit until all are
        (starting from `first`, never using `avoid`)."""
        problem = self.problem
        remaining = dict(self.fill)
        chosen: list[int] = []
        if first is not None:
            self._cover(first, chosen, remaining)
        while any(remaining.values()):
            new: dict[int, int] = {}
            for s, q in remaining.items():
                if q:
                    for p in self.holders[s]:
                        new[p] = new.get(p, 0) + min(q, self.reach[p][s])
            best: tuple[float, int] | None = None
            for p, units in new.items():
                if p in chosen or p in avoid:
                    continue
                units = min(units, self.pickable[p])  # type: ignore[assignment]
                if units <= 0:
                    continue
                ratio = (problem.package + units * self.base[p]) / units
                if best is None or ratio < best[0]:
                    best = (ratio, p)
            if best is None:
                break
            self._cover(best[1], chosen, remaining)
        if chosen:
            self.evaluate(frozenset(chosen))

    def _cover(self, point: int, chosen: list[int], remaining: dict[str, int]) -> None:
        chosen.append(point)
        reach = self.reach[point]
        budget = self.pickable[point]
        for s, q in remaining.items():
            take = min(q, reach.get(s, 0), budget)
            remaining[s] = q - take
            budget -= take

    def _improve(self) -> None:
        """Drop or swap one location at a time while the cost falls."""
        if self.best is None:
            return
        outside = sorted(self.problem.points, key=lambda p: self.base[p])
        for _ in range(IMPROVE_ROUNDS):
            current_cost, current = self.best
            for p in current:
                self.evaluate(current - {p})  # down to no parcel at all, when the penalty is that low
                tried = 0
                for q in outside:
                    if q in current:
                        continue
                    self.evaluate((current - {p}) | {q})
                    tried += 1
                    if tried == SWAP_CANDIDATES:
                        break
            if self.best[0] >= current_cost - EPS:
                return

    def _decision(self, *, lower_bound: float | None) -> Decision:
        assert self.best is not None
        if self.priced:
            lower_bound = self.true_floor()
        for p in self.full:  # the bound spared these; cost the next ones anyway, to show what was passed over
            if len(self.seen) > ALTERNATIVES:
                break
            self.evaluate(frozenset([p]))
        total, points = self.best
        if self.priced:
            total = breakdown(self.problem, self.seen[points][1]).total
        if len(self.seen) < ALTERNATIVES and not self.problem.pickup:  # and plans without the chosen locations
            chosen = self._used(self.seen[points][1])
            others = [p for p in sorted(self.problem.points, key=lambda p: self.base[p]) if p not in chosen]
            for p in others[:ALTERNATIVES - len(self.seen)]:
                self._greedy_cover(first=p, avoid=chosen)
        ids = self.problem.network.locations
        alternatives: list[Alternative] = []
        shown = {self._used(self.seen[points][1])}
        for _, (cost, assignment) in sorted(self.seen.items(), key=lambda item: item[1][0]):
            option = self._used(assignment)
            if option in shown:
                continue
            shown.add(option)
            filled = sum(assignment.values())
            note = {0: "send nothing", 1: "single location"}.get(len(option), f"{len(option)} locations")
            if self.priced:
                cost = breakdown(self.problem, assignment).total
            alternatives.append(Alternative(note, tuple(ids[p].id for p in sorted(option, key=lambda p: self.base[p])),
                                            cost, self.demanded - filled))
            if len(alternatives) == ALTERNATIVES:
                break
        notes = [f"looked at {len(self.seen)} plans: {len(self.singles)} single locations, {len(self.pairs)} pairs"]
        if self.priced:
            routes, chosen = self.problem.routes, self.seen[points][1]
            opportunity = sum(self.shadow.get((routes[r].origin, s), 0.0) * n for (r, s), n in chosen.items())
            notes.append(f"bid prices used to choose: opportunity cost of the units taken {opportunity:.2f} (not "
                         "part of the cost)")
        if lower_bound is not None and total <= lower_bound + EPS:
            notes.append("proven optimal: no other plan can cost less")
        return decide(self.problem, self.seen[points][1], POLICY, alternatives=tuple(alternatives),
                      lower_bound=lower_bound, notes=tuple(notes))

    def _used(self, assignment: Assignment) -> frozenset[int]:
        return frozenset(self.problem.routes[r].point for r, _ in assignment)
