"""The cost of sourcing an order: parameters and the breakdown every decision carries. Pure module.

A delivery costs `package` per parcel (one per location that ships), `item` per unit, and `item_km` per unit
and kilometre from the shipping location to the customer (haversine). Units moved on a transfer lane first cost
the lane's price per unit plus `delay_per_unit_day` for every day the customer waits. Units nobody can send cost
`unfilled_per_unit`, far above any way of sending them, so a decision never leaves a unit it could send. Units
from lots that expire within `expiry_horizon_days` earn a small credit, `expiry_per_unit_day` per unit for each
day short of the horizon, so that between otherwise equal choices the stock nearest expiry leaves first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from omniretail.locations.geo import KM_PER_MILE

PER_ITEM_MILE = 0.000541


@dataclass(frozen=True)
class CostModel:
    package: float = 8.759
    item: float = 0.423
    item_km: float = PER_ITEM_MILE / KM_PER_MILE
    transfer_per_unit: float = 0.25
    delay_per_unit_day: float = 0.10
    unfilled_per_unit: float = 1000.0
    expiry_per_unit_day: float = 0.00001
    expiry_horizon_days: int = 365

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"cost {f.name} must not be negative")

    def expiry_credit(self, days: int) -> float:
        """Credit per unit taken from a lot that expires in `days` (0 beyond the horizon)."""
        if days >= self.expiry_horizon_days:
            return 0.0
        return self.expiry_per_unit_day * (self.expiry_horizon_days - max(0, days))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CostModel:
        """Parameters by name; `item_mile` may stand for `item_km` (converted); missing names keep defaults."""
        values = dict(data or {})
        if "item_mile" in values:
            if "item_km" in values:
                raise ValueError("give item_km or item_mile, not both")
            values["item_km"] = float(values.pop("item_mile")) / KM_PER_MILE
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown cost parameters: {', '.join(unknown)}")
        return cls(**{name: (int(v) if name == "expiry_horizon_days" else float(v)) for name, v in values.items()})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class CostBreakdown:
    """What a decision costs, by cause; `total` = the costs minus the expiry credit."""

    packages: float = 0.0
    items: float = 0.0
    distance: float = 0.0
    transfer: float = 0.0
    delay: float = 0.0
    unfilled: float = 0.0
    expiry_credit: float = 0.0

    @property
    def total(self) -> float:
        return (self.packages + self.items + self.distance + self.transfer + self.delay + self.unfilled
                - self.expiry_credit)

    def to_dict(self) -> dict[str, float]:
        data = {k: round(v, 6) for k, v in asdict(self).items()}
        data["total"] = round(self.total, 6)
        return data
