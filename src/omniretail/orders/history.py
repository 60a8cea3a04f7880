"""Every state change of an order, written in its transaction four ways: a row of the order's timeline, an
entry in the customer's timeline, an audit entry and, for the changes other systems act on, an outbox event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.db import Base
from omniretail.core.money import from_minor
from omniretail.core.outbox import Event, event_row
from omniretail.core.security import Actor
from omniretail.customers.profiles import timeline_row
from omniretail.orders.models import Order

#: Outbox event per state entered; moving through `inspecting` is internal and announces nothing.
EVENTS = {"created": "order.created", "on_hold": "order.held", "confirmed": "order.confirmed",
          "cancelled": "order.cancelled", "completed": "order.completed", "in_fulfilment": "order.in_fulfilment",
          "partially_shipped": "order.partially_shipped", "ready_for_pickup": "order.ready_for_pickup",
          "returned": "order.returned"}


def money(order: Order) -> dict[str, str]:
    return {"amount": from_minor(order.total_minor, order.currency), "currency": order.currency}


def summary(order: Order, status: str, reason: str | None, units: int | None = None) -> str:
    """The line the customer's timeline shows for the order entering `status`."""
    total = money(order)
    texts = {
        "created": f"Order {order.id} placed via {order.channel}: "
                   + (f"{units} item(s), " if units is not None else "") + f"{total['amount']} {total['currency']}",
        "inspecting": f"Order {order.id} is being checked",
        "on_hold": f"Order {order.id} held for confirmation: "
                   + ", ".join(r["code"] for r in order.hold_reasons or []),
        "confirmed": f"Order {order.id} confirmed",
        "completed": f"Order {order.id} completed"
                     + (f", handed over at {order.location_id}" if order.fulfilment_type == "in_store" else ""),
    }
    text = texts.get(status, f"Order {order.id} {status.replace('_', ' ')}")
    return text + (f": {reason}" if reason and status != "on_hold" else "")


def move_summary(order: Order, steps: list[tuple[str | None, str]], reason: str | None, units: int | None) -> str:
    """One line for a move through several states: a new order names where inspection left it."""
    final = steps[-1][1]
    if steps[0][0] is not None or final == "created":
        return summary(order, final, reason, units)
    outcome = summary(order, final, None).removeprefix(f"Order {order.id} ")
    return summary(order, "created", None, units) + f"; {outcome}" + (f": {reason}" if reason else "")


def event_data(order: Order, status: str, reason: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    data = {"order_id": order.id, "status": status, "customer_id": order.customer_id, "channel": order.channel,
            "fulfilment": order.fulfilment_type, "location_id": order.location_id, "total": money(order)}
    if status == "on_hold":
        data["hold_reasons"] = list(order.hold_reasons or [])
    if reason:
        data["reason"] = reason
    return data | (extra or {})


def step_rows(*, actor: Actor, order: Order, steps: list[tuple[str | None, str]], channel: str | None,
              reason: str | None = None, data: dict[str, Any] | None = None, units: int | None = None,
              created: dict[str, Any] | None = None, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """The rows that record the (from, to) steps the order just took, by table; `created` is extra data of its
    `order.created` event."""
    now = now or utcnow()
    rows: dict[str, list[dict[str, Any]]] = {
        "order_timeline": [{"order_id": order.id, "at": now, "actor": actor.name, "channel": channel,
                            "from_status": before, "to_status": after,
                            "reason": reason if after != "created" else None, "data": data or {}}
                           for before, after in steps],
        "outbox_events": []}
    # The customer's timeline and the audit log get one entry for the move (the order's own timeline has
    # every step): a new order placed, inspected and confirmed in one request is one thing to the customer.
    first, final = steps[0][0], steps[-1][1]
    kind = "created" if first is None else final
    rows["customer_timeline"] = [timeline_row(
        order.customer_id, kind=f"order_{kind}", actor=actor, channel=channel,
        summary=move_summary(order, steps, reason, units), data={"order_id": order.id, "status": final}, at=now)]
    changes: dict[str, Any] = {"status": {"from": first, "to": final}}
    if len(steps) > 1:
        changes["via"] = [after for _, after in steps[:-1] if after != final]
    rows["audit_log"] = [audit.entry_row(actor, f"order.{kind}", "order", str(order.id), changes, note=reason,
                                         at=now)]
    for _, after in steps:
        if after in EVENTS:
            rows["outbox_events"].append(event_row(Event(
                EVENTS[after], "order", str(order.id),
                event_data(order, after, reason, created if after == "created" else None)), occurred_at=now))
    return rows


def record(session: Session, *, actor: Actor, order: Order, steps: list[tuple[str | None, str]], channel: str | None,
           reason: str | None = None, data: dict[str, Any] | None = None, units: int | None = None,
           created: dict[str, Any] | None = None) -> None:
    """Write the (from, to) steps the order just took; `created` is extra data of its `order.created` event."""
    rows = step_rows(actor=actor, order=order, steps=steps, channel=channel, reason=reason, data=data, units=units,
                     created=created)
    for table, table_rows in rows.items():
        if table_rows:
            session.execute(insert(Base.metadata.tables[table]), table_rows)
