"""POS sync: a till that worked offline uploads the sales, returns and counts it made meanwhile.

Each entry carries the till's own id, so a batch sent again (or an entry sent in two batches) is applied once:
`pos_entries` keeps every processed (till, entry) with its first result, which every replay answers. Entries are
applied in the order they happened at the till (`at`), each in its own transaction: one that the services refuse
writes nothing and is answered `refused` with the problem's code, and the others still apply.

Every entry goes through the domain's own use case: a sale is `orders.service.place_order` (fulfilment
`in_store`, payment captured: a completed order, stock taken at the store), a return
`fulfilment.returns.create_return`, a count `inventory.service.count`. Units the till sold (or counted missing)
that were promised online meanwhile make room first (`pos_stock`): the sale is recorded, the promises are
re-sourced elsewhere, and what no location holds is reported (`conflict`, event `pos.conflict`), never dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniretail.catalog.service import products_by_skus
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.errors import DomainError, Forbidden, Invalid
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor, Role
from omniretail.customers.identify import Attributes, IdentityInput, identify
from omniretail.fulfilment import returns
from omniretail.integration import pos_stock
from omniretail.integration.pos_models import PosEntry
from omniretail.integration.pos_schemas import CountIn, EntryResultOut, PosSyncIn, PosSyncOut, ReturnIn, SaleIn
from omniretail.inventory import service as inventory
from omniretail.locations.service import get_location
from omniretail.orders import service as orders
from omniretail.orders.schemas import FulfilmentIn, PaymentIn

CHANNEL = "pos"
SYNCERS = frozenset({Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.INTEGRATION})
#: Refusals that mean the store's stock record cannot cover what the till did: reported as `pos.conflict` too.
STOCK_REFUSALS = frozenset({"insufficient_stock", "insufficient_sellable_stock", "stock_reserved",
                            "not_enough_on_hand"})
UNFILLED = "online_orders_unfilled"


@dataclass
class Outcome:
    """What applying an entry wrote."""

    order_id: int | None = None
    customer_id: int | None = None
    return_id: int | None = None
    count_id: int | None = None
    room: pos_stock.Room = field(default_factory=pos_stock.Room)


def walk_in_identity(location_id: str) -> IdentityInput:
    """The `pos_customer_id` of a store's walk-in profile, which sales without a known customer are booked to
    (location ids have no dots, so the hyphens a customer id loses may become dots)."""
    return IdentityInput("pos_customer_id", "WALKIN:" + location_id.replace("-", "."))


def check_batch(session: Session, actor: Actor, batch: PosSyncIn) -> str:
    """Refuse a batch nobody may send or whose entries cannot be told apart; return the store's id."""
    if actor.role not in SYNCERS:
        raise Forbidden(f"The {actor.role.value} role does not sync tills", code="role_forbidden")
    if actor.role is Role.INTEGRATION and actor.channel != CHANNEL:
        raise Forbidden(f"This key speaks for channel {actor.channel!r}; tills sync with a {CHANNEL!r} key",
                        code="channel_out_of_scope")
    location = get_location(session, batch.location_id, field="location_id")
    actor.require_location(location.id)
    seen: set[str] = set()
    for i, entry in enumerate(batch.entries):
        if entry.entry_id in seen:
            raise Invalid(f"Entry id {entry.entry_id!r} appears twice in the batch", field=f"entries.{i}.entry_id",
                          code="duplicate_entry_id")
        seen.add(entry.entry_id)
    return location.id


def sync(db: Database, *, actor: Actor, batch: PosSyncIn, settings: Settings) -> PosSyncOut:
    """Apply a till's offline batch: every entry once, in the order they happened, each on its own."""
    with db.read() as s:
        location_id = check_batch(s, actor, batch)
    ordered = sorted(batch.entries, key=lambda entry: entry.at)  # stable: entries of one moment keep their order
    results = [EntryResultOut.model_validate(process(db, actor=actor, till_id=batch.till_id, location_id=location_id,
                                                     entry=entry, settings=settings)) for entry in ordered]
    tally = {status: sum(r.status == status for r in results) for status in ("applied", "replayed", "conflict",
                                                                             "refused")}
    data = {"till_id": batch.till_id, "location_id": location_id, "entries": len(results), **tally}
    with db.write() as s:
        audit.record(s, actor, "pos.synced", "pos_till", batch.till_id, data)
        emit(s, Event("pos.synced", "pos_till", batch.till_id, data))
    return PosSyncOut(till_id=batch.till_id, location_id=location_id, applied=tally["applied"],
                      replayed=tally["replayed"], conflicts=tally["conflict"], refused=tally["refused"],
                      entries=results)


def _fingerprint(location_id: str, entry: SaleIn | ReturnIn | CountIn) -> str:
    return hashlib.sha256(f"{location_id}\n{entry.model_dump_json()}".encode()).hexdigest()


def _answer(entry: SaleIn | ReturnIn | CountIn, status: str, processed_at: datetime, outcome: Outcome | None = None,
            refusal: DomainError | None = None) -> dict[str, Any]:
    outcome = outcome or Outcome()
    answer: dict[str, Any] = {
        "entry_id": entry.entry_id, "kind": entry.kind, "at": entry.at, "status": status, "code": None,
        "detail": None, "problem": None, "order_id": outcome.order_id, "customer_id": outcome.customer_id,
        "return_id": outcome.return_id, "count_id": outcome.count_id, "resourced": outcome.room.resourced,
        "unfilled": outcome.room.unfilled, "released_holds": outcome.room.released_holds,
        "processed_at": processed_at}
    if refusal is not None:
        answer.update(code=refusal.code, detail=refusal.detail, problem=refusal.problem())
    elif status == "conflict":
        units = ", ".join(f"{u['quantity']} × {u['sku']} of order {u['order_id']}" for u in outcome.room.unfilled)
        answer.update(code=UNFILLED, detail=f"Recorded; units promised online are found nowhere else: {units}")
    return EntryResultOut.model_validate(answer).model_dump(mode="json")


def _conflict_event(session: Session, till_id: str, location_id: str, entry: SaleIn | ReturnIn | CountIn,
                    answer: dict[str, Any]) -> None:
    emit(session, Event("pos.conflict", "pos_till", till_id, {
        "till_id": till_id, "location_id": location_id, "entry_id": entry.entry_id, "kind": entry.kind,
        "at": entry.at.isoformat(), "code": answer["code"], "detail": answer["detail"],
        "recorded": answer["status"] != "refused", "order_id": answer["order_id"], "unfilled": answer["unfilled"],
        "short": (answer["problem"] or {}).get("short")}))


def process(db: Database, *, actor: Actor, till_id: str, location_id: str, entry: SaleIn | ReturnIn | CountIn,
            settings: Settings) -> dict[str, Any]:
    """Apply one entry in a transaction of its own, or answer its first result if it was processed before."""
    fingerprint = _fingerprint(location_id, entry)
    with db.read() as s:
        known = s.get(PosEntry, (till_id, entry.entry_id))
    if known is not None:
        return _replay(known, fingerprint, entry)

    def record(session: Session, status: str, answer: dict[str, Any], processed_at: datetime) -> PosEntry:
        row = PosEntry(till_id=till_id, entry_id=entry.entry_id, location_id=location_id, kind=entry.kind,
                       occurred_at=entry.at, status=status, code=answer["code"], fingerprint=fingerprint,
                       result=answer, actor=actor.name, processed_at=processed_at)
        session.add(row)
        session.flush()  # two syncs of one entry meet here: the second waits for the first, then fails
        return row

    try:
        try:
            with db.write() as s:
                row = record(s, "applied", {"code": None}, utcnow())
                outcome = APPLY[entry.kind](s, actor=actor, location_id=location_id, till_id=till_id, entry=entry,
                                            settings=settings)
                status = "conflict" if outcome.room.unfilled else "applied"
                answer = _answer(entry, status, row.processed_at, outcome)
                row.status, row.code, row.result = status, answer["code"], answer
                row.order_id, row.return_id, row.count_id = outcome.order_id, outcome.return_id, outcome.count_id
                if status == "conflict":
                    _conflict_event(s, till_id, location_id, entry, answer)
            return answer
        except DomainError as refusal:
            with db.write() as s:  # the entry wrote nothing: remember the refusal
                now = utcnow()
                answer = _answer(entry, "refused", now, refusal=refusal)
                record(s, "refused", answer, now)
                if refusal.code in STOCK_REFUSALS:
                    _conflict_event(s, till_id, location_id, entry, answer)
            return answer
    except IntegrityError as exc:
        if "pos_entries" not in str(exc.orig) and "pk_pos_entries" not in str(exc.orig):
            raise
        with db.read() as s:
            known = s.get(PosEntry, (till_id, entry.entry_id))
        if known is None:
            raise
        return _replay(known, fingerprint, entry)


def _replay(row: PosEntry, fingerprint: str, entry: SaleIn | ReturnIn | CountIn) -> dict[str, Any]:
    if row.fingerprint != fingerprint:
        return _answer(entry, "refused", utcnow(), refusal=Invalid(
            f"Entry {entry.entry_id} of this till was processed before with other contents; give a new entry its "
            "own id", field="entry_id", code="entry_id_reused"))
    return {**row.result, "status": "replayed", "first_status": row.result["status"]}


# --- the entries ----------------------------------------------------------------------------------------------


def _customer(session: Session, actor: Actor, location_id: str, entry: SaleIn) -> int:
    """The profile a sale is booked to: the one named, the one the identities find (or make), else the store's
    walk-in profile."""
    if entry.customer_id is not None:
        if entry.identities:
            raise Invalid("Name the customer by customer_id or by identities, not both", field="identities",
                          code="ambiguous_customer")
        return entry.customer_id
    identities = [IdentityInput(x.type, x.value, x.country) for x in entry.identities] or \
        [walk_in_identity(location_id)]
    return identify(session, actor=actor, channel=CHANNEL, identities=identities, attributes=Attributes()).profile.id


def _sale(session: Session, *, actor: Actor, location_id: str, till_id: str, entry: SaleIn,
          settings: Settings) -> Outcome:
    lines = [orders.OrderLine(line.sku, line.quantity) for line in entry.lines]
    products = products_by_skus(session, sorted({line.sku for line in lines}))
    items = orders.line_items(lines, CHANNEL, products, lambda code, name: None)  # the checks place_order makes
    customer_id = _customer(session, actor, location_id, entry)
    demand: dict[int, int] = {}
    for line, product in items:
        demand[product.id] = demand.get(product.id, 0) + line.quantity
    pos_stock.tidy(session, actor=actor, location_id=location_id)
    room = pos_stock.room_for_sale(session, actor=actor, location_id=location_id, demand=demand,
                                   skus={product.id: product.sku for _, product in items})
    order = orders.place_order(session, actor=actor, channel=CHANNEL, customer_id=customer_id, lines=lines,
                               fulfilment=FulfilmentIn(type="in_store", location_id=location_id),
                               payment=PaymentIn(status="captured", method=entry.payment_method), settings=settings)
    return Outcome(order_id=order.id, customer_id=order.customer_id, room=room)


def _returner(actor: Actor, location_id: str) -> Actor:
    """A till's own key takes returns as the staff of its store do."""
    if actor.role is Role.INTEGRATION:
        return Actor(name=actor.name, role=Role.ASSOCIATE, key_id=actor.key_id, channel=actor.channel,
                     location_ids=frozenset({location_id}))
    return actor


def _return(session: Session, *, actor: Actor, location_id: str, till_id: str, entry: ReturnIn,
            settings: Settings) -> Outcome:
    if (entry.order_id is None) == (entry.sale_entry_id is None):
        raise Invalid("A return names its order: order_id, or sale_entry_id for a sale this till synced",
                      field="order_id", code="order_required")
    order_id = entry.order_id
    if order_id is None:
        sale = session.get(PosEntry, (till_id, entry.sale_entry_id))
        if sale is None or sale.kind != "sale" or sale.order_id is None:
            raise Invalid(f"This till synced no recorded sale {entry.sale_entry_id!r}", field="sale_entry_id",
                          code="unknown_sale_entry")
        order_id = sale.order_id
    returned = returns.create_return(
        session, actor=_returner(actor, location_id), order_id=order_id, location_id=location_id, channel=CHANNEL,
        lines=[returns.ReturnLineIn(x.sku, x.quantity, x.disposition, x.reason) for x in entry.lines],
        reason=entry.reason)
    return Outcome(order_id=order_id, return_id=returned.id)


def _count(session: Session, *, actor: Actor, location_id: str, till_id: str, entry: CountIn,
           settings: Settings) -> Outcome:
    products = products_by_skus(session, sorted({line.sku for line in entry.lines}))
    whole = {products[line.sku].id: line.counted for line in entry.lines
             if line.lot is None and line.sku in products and line.counted >= 0}
    pos_stock.tidy(session, actor=actor, location_id=location_id)
    room = pos_stock.room_for_count(session, actor=actor, location_id=location_id, counted=whole,
                                    skus={p.id: p.sku for p in products.values() if p.id in whole}) \
        if whole else pos_stock.Room()
    record, _ = inventory.count(session, actor=actor, location_id=location_id,
                                lines=[(line.sku, line.counted, line.lot) for line in entry.lines])
    return Outcome(count_id=record.id, room=room)


APPLY: dict[str, Any] = {"sale": _sale, "return": _return, "count": _count}
