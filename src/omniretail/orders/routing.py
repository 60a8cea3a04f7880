"""Where a delivery order's units are reserved, until the sourcing issue brings cost-based routing. Pure module.

The rule: the nearest location that can send every line whole (warehouses before stores when the address
has no coordinates); otherwise the fewest locations, chosen greedily — each time the one that can send the
most of the remaining lines whole, nearest first on ties; a line no single location holds is split across
the fewest locations, those holding most of it first. A line the whole network cannot cover makes the order short.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    location_id: str
    distance_km: float | None = None  # None: the address has no coordinates
    rank: int = 0  # tie-break before the id: 0 warehouses, 1 stores shipping from store
    available: dict[str, int] = field(default_factory=dict)  # sku -> units that may be promised


@dataclass(frozen=True)
class Plan:
    lines: list[tuple[str, str, int]]  # (location_id, sku, quantity)
    short: list[dict[str, object]]  # {"sku", "requested", "available"} for lines the network cannot cover


def _order(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.distance_km if c.distance_km is not None else 0.0, c.rank,
                                             c.location_id))


def plan_delivery(demand: dict[str, int], candidates: list[Candidate]) -> Plan:
    """Choose the locations that send each SKU of `demand` (sku -> units)."""
    ordered = _order(candidates)
    short = []
    for sku, wanted in demand.items():
        total = sum(c.available.get(sku, 0) for c in ordered)
        if total < wanted:
            short.append({"sku": sku, "requested": wanted, "available": total})
    if short:
        return Plan([], short)
    for candidate in ordered:
        if all(candidate.available.get(sku, 0) >= wanted for sku, wanted in demand.items()):
            return Plan([(candidate.location_id, sku, wanted) for sku, wanted in demand.items()], [])
    lines: list[tuple[str, str, int]] = []
    remaining = dict(demand)
    pool, chosen = list(ordered), []
    while remaining and pool:
        whole = [[sku for sku, wanted in remaining.items() if c.available.get(sku, 0) >= wanted] for c in pool]
        best = max(range(len(pool)), key=lambda i: (len(whole[i]), -i))
        if not whole[best]:
            break
        for sku in whole[best]:
            lines.append((pool[best].location_id, sku, remaining.pop(sku)))
        chosen.append(pool.pop(best))
    for sku, wanted in list(remaining.items()):
        # The fewest locations for one line: those holding most of it first (nearest on ties).
        for candidate in sorted(chosen + pool, key=lambda c: -c.available.get(sku, 0)):
            take = min(candidate.available.get(sku, 0), wanted)
            if take:
                lines.append((candidate.location_id, sku, take))
                wanted -= take
            if not wanted:
                break
        remaining.pop(sku)
    return Plan(lines, [])
