"""Rules of the points programme: tiers by lifetime points, points for a purchase. Pure module."""

from __future__ import annotations

from dataclasses import dataclass

#: Everyone below the first configured tier.
BASE_TIER = "member"
#: The longest tier name the accounts table stores.
MAX_TIER_NAME = 20


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int  # lifetime points from which the tier holds


@dataclass(frozen=True)
class Rules:
    points_per_unit: int
    tiers: tuple[Tier, ...]


def parse_tiers(text: str) -> tuple[Tier, ...]:
    """`"silver:1000,gold:5000"` → tiers in ascending order; raise ValueError on anything else."""
    tiers: list[Tier] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, threshold = (x.strip() for x in part.partition(":"))
        if not sep or not name or not threshold.isdigit():
            raise ValueError(f"tier {part!r} is not name:lifetime points")
        if len(name) > MAX_TIER_NAME or name == BASE_TIER:
            raise ValueError(f"tier name {name!r} is reserved or longer than {MAX_TIER_NAME} characters")
        if int(threshold) <= 0:
            raise ValueError(f"tier {name!r} needs a threshold above 0 (below the first tier: {BASE_TIER})")
        if tiers and (int(threshold) <= tiers[-1].threshold or name in {t.name for t in tiers}):
            raise ValueError("tiers are named once each, in ascending order of their thresholds")
        tiers.append(Tier(name, int(threshold)))
    return tuple(tiers)


def parse_rules(*, points_per_unit: int, tiers: str) -> Rules:
    if points_per_unit < 0:
        raise ValueError("points per unit cannot be negative")
    return Rules(points_per_unit, parse_tiers(tiers))


def tier_for(lifetime_points: int, tiers: tuple[Tier, ...]) -> str:
    """The highest tier whose threshold the lifetime points reach."""
    reached = [t.name for t in tiers if lifetime_points >= t.threshold]
    return reached[-1] if reached else BASE_TIER


def next_tier(lifetime_points: int, tiers: tuple[Tier, ...]) -> tuple[str, int] | None:
    """The next tier up and the lifetime points still needed for it; None at the top."""
    for tier in tiers:
        if lifetime_points < tier.threshold:
            return tier.name, tier.threshold - lifetime_points
    return None


def points_for(amount_minor: int, *, exponent: int, points_per_unit: int) -> int:
    """Points a purchase earns: `points_per_unit` for each whole currency unit (cents never round up)."""
    if amount_minor < 0 or exponent < 0:
        raise ValueError("amounts and currency exponents are not negative")
    return amount_minor // 10**exponent * points_per_unit
