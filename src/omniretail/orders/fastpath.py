"""Placing an order in two round trips on PostgreSQL: one statement reads everything the decision needs, one
statement reserves every unit and writes the order with all its rows — or writes nothing. Both are shared with
the orders arriving at the same moment (`orders.reads`, `inventory.batching`: one statement for all of them),
each answered as if alone.

The decision itself is the service's (`service.decide`: prices, placement, inspection) and the rows are the ones
the transactional path writes (`history.step_rows`, the order's and its items' rows), so the two paths cannot
drift apart. The ids are drawn from the sequences by the reading statement, so every row, the answer and the
`Idempotency-Key` record are complete before the write. Whatever this path does not decide alone — an unknown
or merged customer, an unknown SKU, a gift with a minimum stock, a sale at the till, a line added by another
channel, a key used before, any refusal, a short line — it hands back (None) and the transactional path
(`service.place` in `run_idempotent`) decides it, answering exactly as it always does.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from omniretail.core.clock import utcnow
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.errors import DomainError
from omniretail.core.outbox import event_row
from omniretail.core.security import Actor, Role
from omniretail.inventory import batching
from omniretail.inventory.reservations import reservation_event
from omniretail.locations import capacity
from omniretail.orders import history, placement, reads, refusals, service
from omniretail.orders.errors import NetworkShort
from omniretail.orders.facts import EARLIER_ORDERS, facts_of
from omniretail.orders.models import Order
from omniretail.orders.schemas import OrderIn
from omniretail.orders.views import placed_out
from omniretail.sourcing import live

READ = f"""
SELECT nextval('orders_id_seq'),
       ARRAY(SELECT nextval('reservations_id_seq') FROM generate_series(1, %(reservations)s)),
       (SELECT active FROM channels WHERE code = %(channel)s),
       (SELECT json_build_array(status, merged_into_id) FROM customers WHERE id = %(customer_id)s),
       (SELECT json_agg(json_build_array(id, sku, name, price_minor, currency, active,
                                         is_gift AND gift_min_stock IS NOT NULL))
        FROM products WHERE sku = ANY(%(skus)s)),
       (SELECT json_agg(json_build_array(id, name, pickup, active)) FROM locations WHERE id = ANY(%(locations)s)),
       (SELECT json_agg(json_build_array(id, status, lines_key, created_at) ORDER BY id DESC)
        FROM (SELECT id, status, lines_key, created_at FROM orders WHERE customer_id = %(customer_id)s
              ORDER BY id DESC LIMIT {EARLIER_ORDERS}) AS latest),
       (SELECT true FROM idempotency_keys WHERE owner = %(owner)s AND key = %(key)s),
       CASE WHEN %(delivery)s THEN (
           SELECT json_agg(json_build_array(s.location_id, s.product_id, s.on_hand, s.reserved, s.expired,
                                            s.safety_stock, l.safety_stock, l.type, l.lat, l.lon, l.daily_capacity,
                                            l.timezone,
                                            (SELECT json_agg(json_build_array(d.day, d.units)) FROM location_loads d
                                             WHERE l.daily_capacity > 0 AND d.location_id = s.location_id
                                               AND d.day BETWEEN %(today)s::date - {capacity.DAYS_AROUND_UTC}
                                                             AND %(today)s::date + {capacity.DAYS_AROUND_UTC})))
           FROM stock_levels s JOIN locations l ON l.id = s.location_id JOIN products p ON p.id = s.product_id
           WHERE p.sku = ANY(%(skus)s) AND l.active AND s.on_hand > s.reserved + s.expired
             AND (l.type = 'warehouse' OR (l.type = 'store' AND l.ship_from_store))) END,
       CASE WHEN %(delivery)s THEN (
           SELECT json_agg(json_build_array(fingerprint, verified_at)) FROM order_verified_details
           WHERE customer_id = %(customer_id)s) END,
       CASE WHEN %(delivery)s THEN (
           SELECT json_agg(json_build_array(line1, postcode, country, failed_deliveries, last_failed_at))
           FROM customer_addresses WHERE profile_id = %(customer_id)s AND failed_deliveries > 0) END
"""
# Requests read together: one row per request, in their order (`_reads`); every %(name)s of READ is the request's
# own. A location's day is its own (`locations.capacity`): the loads of the days around the request's UTC `today`
# are read, and the location's day at the request's instant is picked from them in Python (`_candidates`).
PER_REQUEST = {"reservations": "int", "channel": "text", "customer_id": "bigint", "skus": "text[]",
               "locations": "text[]", "owner": "text", "key": "text", "delivery": "boolean", "today": "date"}
READ_MANY = ("SELECT x.* FROM jsonb_to_recordset(%(requests)s::jsonb) AS r("
             + ", ".join(f"{name} {kind}" for name, kind in {**PER_REQUEST, "n": "int"}.items())
             + ") CROSS JOIN LATERAL ("
             + re.sub(r"%\((" + "|".join(PER_REQUEST) + r")\)s", r"r.\1", READ) + ") AS x ORDER BY r.n")
CANDIDATE = ("location_id", "product_id", "on_hand", "reserved", "expired", "safety_stock", "default_safety", "type",
             "lat", "lon", "daily_capacity", "timezone")


class _Undecided(Exception):
    """Something only the transactional path decides."""


def _undecided(*_: object) -> Any:
    raise _Undecided


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


async def place(db: Database, *, actor: Actor, body: OrderIn, settings: Settings,
                idempotency: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Place the order of `body` as `service.place` would and return the API's answer (with the
    `Idempotency-Key` record — `owner`, `key`, `method`, `path`, `fingerprint` — written alongside), or None
    for the transactional path to decide; raises the refusal when it is certainly the transactional path's
    (`orders.refusals`). Runs on the event loop: two statements, no thread."""
    if db.dialect != "postgresql" or body.fulfilment.type == "in_store" or not body.lines \
            or len(body.lines) > service.MAX_LINES:
        return None
    if actor.role is Role.CUSTOMER and actor.customer_id != str(body.customer_id):
        return None
    lines = [service.OrderLine(line.sku, line.quantity) for line in body.lines]
    places = [x for x in (body.fulfilment.location_id, body.origin_location_id) if x is not None]
    if body.origin_location_id is None and actor.role is Role.ASSOCIATE and len(actor.location_ids) == 1:
        places += list(actor.location_ids)
    skus = sorted({line.sku for line in lines})
    now = utcnow()  # the order's instant: its rows are stamped with it, its units count on each location's day then
    params = {"reservations": len(skus), "channel": body.channel, "customer_id": body.customer_id, "skus": skus,
              "locations": places, "owner": (idempotency or {}).get("owner"), "key": (idempotency or {}).get("key"),
              "delivery": body.fulfilment.type == "delivery", "today": now.date()}
    try:
        read = await reads.batcher(db, READ_MANY).read(params)
        prices = await live.current_async(db, settings) if body.fulfilment.type != "pickup" or \
            body.fulfilment.allow_transfer else None
        rows, response, plan, loads = _decide(actor, body, lines, settings, read, idempotency, now, prices)
    except NetworkShort as short:  # the network as read cannot fill the delivery
        await refusals.refuse(db, short, idempotency)
        return None
    except (_Undecided, DomainError):
        return None
    outcome = await batching.batcher(db).write(plan, rows, loads)
    if outcome == batching.WRITTEN:
        return response
    if outcome == batching.REFUSED and body.fulfilment.type == "pickup" and not body.fulfilment.allow_transfer:
        short = await refusals.short_pickup(db, plan, {pid: sku for sku, pid in _product_ids(rows).items()})
        if short is not None:
            await refusals.refuse(db, short, idempotency)
    return None  # a key written at the same time, a lock cycle, a race the transactional path decides


def _candidates(rows: list[Any] | None, now: datetime) -> list[SimpleNamespace]:
    """The candidate levels as read, each with the `load` counted on its location's `day` at `now`."""
    found = []
    for *level, counted in rows or []:
        candidate = SimpleNamespace(**dict(zip(CANDIDATE, level, strict=True)))
        candidate.day = capacity.day_at(candidate.timezone, now)
        candidate.load = next((units for day, units in counted or [] if date.fromisoformat(day) == candidate.day), 0)
        found.append(candidate)
    return found


def _decide(actor: Actor, body: OrderIn, lines: list[service.OrderLine], settings: Settings, read: Any,
            idempotency: dict[str, Any] | None, now: datetime, prices: Any = None
            ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any], list[tuple[str, int, int]],
                       dict[tuple[str, date], int]]:
    (order_id, reservation_ids, channel_active, customer, products, places, earlier, replay, read_levels, verified,
     failed) = read
    if not channel_active or replay or customer is None or customer[0] != "active":
        raise _Undecided
    service.check_channel_scope(actor, body.channel)
    found = {row[1]: SimpleNamespace(id=row[0], sku=row[1], name=row[2], price_minor=row[3], currency=row[4],
                                     active=row[5], watched_gift=row[6]) for row in products or []}
    items = service.line_items(lines, body.channel, found, _undecided)
    if any(product.watched_gift for _, product in items):
        raise _Undecided
    locations = {row[0]: SimpleNamespace(id=row[0], name=row[1], pickup=row[2], active=row[3]) for row in places or []}
    how = placement.fulfilment_of(lambda location_id, _field: locations.get(location_id) or _undecided(), actor,
                                  body.fulfilment, body.payment, body.origin_location_id)
    candidates = _candidates(read_levels, now)
    latest = [SimpleNamespace(id=r[0], status=r[1], lines_key=r[2], created_at=_at(r[3])) for r in earlier or []]
    saved = [SimpleNamespace(line1=r[0], postcode=r[1], country=r[2], failed_deliveries=r[3],
                             last_failed_at=_at(r[4])) for r in failed or []]
    draft = service.decide(
        actor=actor, channel=body.channel, customer_id=body.customer_id, items=items, how=how, payment=body.payment,
        candidates=candidates, cart_id=None, settings=settings, now=now,
        facts=lambda **known: facts_of(**known, now=now, earlier=latest, failed_addresses=saved,
                                       verified=[(r[0], _at(r[1])) for r in verified or []]),
        bid_prices=prices)
    if len(draft.plan) > len(reservation_ids):
        raise _Undecided
    order = draft.order
    order.id = order_id
    order_row = {column.key: getattr(order, column.key) for column in Order.__table__.columns}
    item_rows = draft.item_rows(order.id)
    rows = {"orders": [order_row], "order_lines": item_rows, "sourcing_decisions": draft.decision_rows(order.id, now),
            **history.step_rows(actor=actor, order=order, steps=draft.steps, channel=body.channel,
                                units=draft.units, created=draft.created, now=now)}
    product_ids = {product.sku: product.id for _, product in items}
    stock_actor = service.stock_actor(actor)
    made = [{"id": reservation_id, "location_id": line.location_id, "product_id": product_ids[line.sku],
             "quantity": line.quantity, "status": "active", "owner_type": "order", "owner_id": str(order.id),
             "reason": f"order {order.id}", "expires_at": None, "created_at": now, "updated_at": now,
             "actor": stock_actor.name} for reservation_id, line in zip(reservation_ids, draft.plan, strict=False)]
    rows["reservations"] = made
    rows["outbox_events"] += [event_row(reservation_event("stock.reserved", SimpleNamespace(**r), line.sku),
                                        occurred_at=now) for r, line in zip(made, draft.plan, strict=True)]
    response = placed_out(service.Placed(order, item_rows, [(line.location_id, line.sku, line.quantity, "active")
                                                            for line in draft.plan])).model_dump(mode="json")
    if idempotency is not None:
        rows["idempotency_keys"] = [{**idempotency, "status_code": 201, "response": response, "created_at": now}]
    loads: dict[tuple[str, date], int] = {}  # units sent out per location on its day (`locations.capacity`)
    if body.fulfilment.type == "delivery":
        days = {candidate.location_id: candidate.day for candidate in candidates}
        for line in draft.plan:
            key = (line.location_id, days[line.location_id])
            loads[key] = loads.get(key, 0) + line.quantity
    return rows, response, [(r["location_id"], r["product_id"], r["quantity"]) for r in made], loads


def _product_ids(rows: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    return {line["sku"]: line["product_id"] for line in rows["order_lines"]}
