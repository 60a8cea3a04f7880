"""Cart rules without a database: limits, the channel a change is credited to, joining two carts,
where a held line is reserved, and how lines split into orders at checkout."""

from __future__ import annotations

from dataclasses import dataclass

#: A cart line is a shopping intent, not a wholesale order: more units than this go through sales.
MAX_LINE_QUANTITY = 9_999
MAX_LINES = 200
DEFAULT_HOLD_MINUTES = 15
MAX_HOLD_MINUTES = 120

#: The channel a change is credited to when the caller does not name one and its key is not bound to one.
ROLE_CHANNELS = {"associate": "pos", "agent": "call_centre", "customer": "web"}


def default_channel(*, role: str, key_channel: str | None, cart_channel: str | None) -> str:
    """The channel of a change nobody named: the key's own, the role's usual one, else the cart's."""
    if key_channel:
        return key_channel
    return ROLE_CHANNELS.get(role) or cart_channel or "web"


@dataclass(frozen=True)
class LineRef:
    line_id: int
    product_id: int
    quantity: int


@dataclass(frozen=True)
class JoinPlan:
    """What joining carts into a target does: lines that move over as they are (keeping their channel),
    lines folded into a kept line of the same SKU, and the quantities kept lines reach."""

    new_quantities: dict[int, int]  # kept line id -> its quantity after the join (only those that change)
    moved: list[int]  # line ids that change cart
    folded: list[int]  # line ids added to a kept line of the same SKU, then deleted
    dropped: list[int]  # line ids a full cart has no room for, deleted
    capped: list[int]  # product ids whose quantity stopped at the line maximum


def plan_join(target: list[LineRef], incoming: list[LineRef], *, max_lines: int = MAX_LINES,
              max_quantity: int = MAX_LINE_QUANTITY) -> JoinPlan:
    """Join incoming lines into a target cart: the same SKU adds up (capped), others move in, oldest first."""
    original = {line.line_id: line.quantity for line in (*target, *incoming)}
    quantities = {line.line_id: line.quantity for line in target}
    kept = {line.product_id: line.line_id for line in target}
    moved: list[int] = []
    folded: list[int] = []
    dropped: list[int] = []
    capped: list[int] = []
    for line in sorted(incoming, key=lambda x: x.line_id):
        keeper = kept.get(line.product_id)
        if keeper is None:
            if len(kept) >= max_lines:
                dropped.append(line.line_id)
                continue
            kept[line.product_id] = line.line_id
            quantities[line.line_id] = line.quantity
            moved.append(line.line_id)
            continue
        total = quantities[keeper] + line.quantity
        if total > max_quantity:
            total = max_quantity
            capped.append(line.product_id)
        quantities[keeper] = total
        folded.append(line.line_id)
    changed = {line_id: q for line_id, q in quantities.items() if q != original[line_id]}
    return JoinPlan(new_quantities=changed, moved=moved, folded=folded, dropped=dropped, capped=capped)


@dataclass(frozen=True)
class Fulfilment:
    type: str  # delivery | pickup
    location_id: str | None = None


def line_fulfilment(hint: Fulfilment | None, default: Fulfilment) -> Fulfilment:
    """A line goes the way its own hint says (endless aisle), else the way the whole checkout goes."""
    return hint if hint is not None else default


def group_lines(hints: list[tuple[int, Fulfilment | None]], default: Fulfilment) -> list[tuple[Fulfilment, list[int]]]:
    """Split cart lines into one order per way of fulfilment: the checkout's default first, then by location."""
    groups: dict[Fulfilment, list[int]] = {}
    for line_id, hint in hints:
        groups.setdefault(line_fulfilment(hint, default), []).append(line_id)

    def order(item: tuple[Fulfilment, list[int]]) -> tuple[int, str, str]:
        f = item[0]
        return (0 if f == default else 1, f.type, f.location_id or "")

    return sorted(groups.items(), key=order)


def hold_location(*, quantity: int, preferred: str | None, available: dict[str, int]) -> str | None:
    """Where a held line is reserved: its pickup store when it has one, else the location with most units
    available (ties by id); None when no location stocks the SKU at all."""
    if preferred is not None:
        return preferred
    if not available:
        return None
    enough = [loc for loc, units in available.items() if units >= quantity]
    pool = enough or list(available)
    return min(pool, key=lambda loc: (-available[loc], loc))


def serving_location(*, line_fulfilment: str | None, line_location: str | None, cart_pickup: str | None) -> str | None:
    """The store a line is served from as the cart stands: its own pickup store, none for a delivered line,
    else the cart's pickup store."""
    if line_fulfilment == "pickup":
        return line_location
    if line_fulfilment == "delivery":
        return None
    return cart_pickup
