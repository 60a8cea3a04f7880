"""Batch re-optimisation (`omniretail sourcing rebatch`): the delivery orders of a window that are confirmed but
not yet picked are sourced again together, capacity and stock shared, and moved where that costs less in total.

Each order's units count as available where they are reserved now, so the batch may keep or move them; when the
batch's plan costs less than the current one, the orders whose locations change have their reservations moved
(and, if released already, their unpicked fulfilments replaced) in one transaction, and their stored decision
becomes the batch's. Orders without coordinates, pickups and orders any part of which is being picked stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.config import Settings
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor
from omniretail.inventory import reservations
from omniretail.inventory.models import Reservation
from omniretail.locations import capacity
from omniretail.orders import placement
from omniretail.orders import service as orders
from omniretail.orders.models import Order, OrderItem
from omniretail.sourcing import service as sourcing
from omniretail.sourcing.batch import source_batch
from omniretail.sourcing.cost import CostModel
from omniretail.sourcing.model import Order as SourcingOrder
from omniretail.sourcing.models import SourcingDecision

MOVABLE = ("confirmed", "in_fulfilment")


@dataclass
class RebatchReport:
    orders: int = 0
    moved: int = 0
    cost_before: float = 0.0
    cost_after: float = 0.0
    splits_before: int = 0
    splits_after: int = 0
    packages_before: int = 0
    packages_after: int = 0
    applied: bool = False
    moved_orders: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "moved": self.moved, "cost_before": round(self.cost_before, 6),
                "cost_after": round(self.cost_after, 6), "saved": round(self.cost_before - self.cost_after, 6),
                "splits_before": self.splits_before, "splits_after": self.splits_after,
                "splits_saved": self.splits_before - self.splits_after, "packages_before": self.packages_before,
                "packages_after": self.packages_after, "applied": self.applied, "moved_orders": self.moved_orders}


def _window(session: Session, since: datetime) -> list[Order]:
    from omniretail.fulfilment.models import Fulfilment

    started = exists().where(Fulfilment.order_id == Order.id, Fulfilment.status.not_in(("created", "cancelled")))
    query = (select(Order).join(SourcingDecision, SourcingDecision.order_id == Order.id)
             .where(Order.status.in_(MOVABLE), Order.fulfilment_type == "delivery", Order.created_at >= since,
                    ~started).order_by(Order.id).with_for_update(of=Order))
    return list(session.scalars(query))


def rebatch(session: Session, *, actor: Actor, since: datetime, settings: Settings, apply: bool = True,
            time_limit: float = 10.0) -> RebatchReport:
    """Re-source the window's movable delivery orders together; move them if that saves cost (unless not
    `apply`: then only report what it would save)."""
    report = RebatchReport()
    found = _window(session, since)
    if not found:
        return report
    ids = [o.id for o in found]
    held: dict[int, list[Reservation]] = {i: [] for i in ids}
    for r in session.scalars(select(Reservation).where(
            Reservation.owner_type == "order", Reservation.status == "active",
            Reservation.owner_id.in_([str(i) for i in ids]))):
        held[int(r.owner_id)].append(r)
    items = session.execute(select(OrderItem.order_id, OrderItem.sku, OrderItem.product_id, OrderItem.quantity)
                            .where(OrderItem.order_id.in_(ids))).all()
    product_ids = {row.sku: row.product_id for row in items}
    skus = {pid: sku for sku, pid in product_ids.items()}
    own: dict[tuple[str, int], int] = {}
    for reserved in held.values():
        for r in reserved:
            own[(r.location_id, r.product_id)] = own.get((r.location_id, r.product_id), 0) + r.quantity
    # The batch's own units counted on their location's today are free again for the batch to place.
    now = utcnow()
    mine = [r for reserved in held.values() for r in reserved]
    own_load = capacity.counted_today(mine, capacity.zones(session, {r.location_id for r in mine}), now)
    rows = [SimpleNamespace(**{**row._asdict(), "reserved": row.reserved - own.get((row.location_id, row.product_id),
                                                                                    0),
                               "load": max(0, row.load - own_load.get(row.location_id, 0))})
            for row in placement.candidate_rows(session, product_ids.values(), include_empty=True, at=now)]
    network = sourcing.network_of(rows, skus)
    wanted: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
    for row in items:
        wanted[row.order_id].append((row.sku, row.quantity))
    batch_orders, kept = [], []
    for order in found:
        point = placement.destination(order.delivery_address or {})
        if point is not None and held[order.id]:
            batch_orders.append(SourcingOrder.of(str(order.id), wanted[order.id], lat=point[0], lon=point[1]))
            kept.append(order)
    if not kept:
        return report
    before = {d.order_id: d for d in session.scalars(select(SourcingDecision).where(
        SourcingDecision.order_id.in_([o.id for o in kept])))}
    result = source_batch(batch_orders, network, CostModel.from_dict(settings.sourcing_cost_overrides()),
                          time_limit=time_limit)
    report.orders = len(kept)
    report.cost_before = sum(before[o.id].total_cost for o in kept)
    report.splits_before = sum(before[o.id].split for o in kept)
    report.packages_before = sum(before[o.id].packages for o in kept)
    report.cost_after, report.splits_after = result.total_cost, sum(d.split for d in result.decisions)
    report.packages_after = sum(d.packages for d in result.decisions)
    if report.cost_after >= report.cost_before - 1e-6 or any(d.unfilled for d in result.decisions):
        report.cost_after, report.splits_after = report.cost_before, report.splits_before
        report.packages_after = report.packages_before
        return report
    changed = []
    for order, decision in zip(kept, result.decisions, strict=True):
        now_at = sorted((r.location_id, skus[r.product_id], r.quantity) for r in held[order.id])
        new_at = sorted((p.location_id, p.sku, p.quantity) for p in decision.picks)
        if now_at != new_at:
            changed.append((order, decision))
    report.moved, report.moved_orders = len(changed), [o.id for o, _ in changed]
    if not apply:
        return report
    _move_all(session, actor, changed, held)
    report.applied = True
    return report


def _move_all(session: Session, actor: Actor, changed: list[tuple[Order, Any]],
              held: dict[int, list[Reservation]]) -> None:
    from omniretail.fulfilment import service as fulfilment

    stock = orders.stock_actor(actor)
    now = utcnow()
    # Release everything first, so units one order gives up can go to another in the same batch.
    for order, _ in changed:
        for r in sorted(held[order.id], key=lambda x: (x.location_id, x.product_id, x.id)):
            reservations.release(session, actor=stock, reservation_id=r.id, reason=f"order {order.id} re-batched")
    # The days' loads: units moved away from where they were counted today, and onto where they go now.
    capacity.move(session, away=[r for order, _ in changed for r in held[order.id]],
                  to=capacity.units_by_location(p for _, decision in changed for p in decision.picks))
    for order, decision in changed:
        reservations.reserve(session, actor=stock, owner_type="order", owner_id=str(order.id),
                             reason=f"order {order.id} re-batched",
                             lines=[reservations.Line(p.location_id, p.sku, p.quantity) for p in decision.picks])
        stored = session.get(SourcingDecision, order.id)
        row = sourcing.decision_row(order.id, decision, now)
        stored.policy, stored.total_cost, stored.packages, stored.split = "optimal_batch", row["total_cost"], \
            row["packages"], row["split"]
        stored.decision = {**row["decision"], "policy": "optimal_batch"}
        if order.status == "in_fulfilment":
            fulfilment.replace_unpicked(session, actor=actor, order=order)
        where = sorted({p.location_id for p in decision.picks})
        audit.record(session, actor, "order.resourced", "order", str(order.id), {"locations": where},
                     note="re-sourced in a batch")
        emit(session, Event("order.resourced", "order", str(order.id), {
            "order_id": order.id, "locations": where, "total_cost": row["total_cost"]}))
