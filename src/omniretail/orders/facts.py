"""What inspection needs to know about a new order, read from the database; and what staff verified."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from babel import Locale
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from omniretail.core.clock import as_utc
from omniretail.core.security import Actor
from omniretail.customers.addresses import NO_POSTCODE, same_place
from omniretail.customers.models import Address
from omniretail.orders import inspection
from omniretail.orders.models import Order, VerifiedDetail

COUNTRIES = frozenset(code for code in Locale("en").territories if len(code) == 2 and code.isalpha())
#: The customer's most recent orders inspection looks at (repeats, whether they are known).
EARLIER_ORDERS = 20


def address_of(fields: dict[str, Any] | None) -> inspection.Address | None:
    if not fields or fields.get("erased"):
        return None
    return inspection.Address(line1=fields.get("line1"), city=fields.get("city"), postcode=fields.get("postcode"),
                              country=fields.get("country"), phone=fields.get("phone"))


def gather(session: Session, *, customer_id: int, fulfilment: str, payment_status: str,
           lines: list[tuple[str, int]], total_minor: int, address: dict[str, Any] | None,
           now: datetime) -> inspection.OrderFacts:
    """The facts of a new order: the customer's recent orders, and for deliveries what staff verified and
    which of the customer's saved addresses saw failed deliveries."""
    earlier = session.execute(select(Order.id, Order.status, Order.lines_key, Order.created_at)
                              .where(Order.customer_id == customer_id)
                              .order_by(Order.id.desc()).limit(EARLIER_ORDERS)).all()
    verified: list[Any] = []
    failed: list[Any] = []
    if fulfilment == "delivery" and address_of(address) is not None:
        verified = session.execute(select(VerifiedDetail.fingerprint, VerifiedDetail.verified_at)
                                   .where(VerifiedDetail.customer_id == customer_id)).all()
        failed = list(session.scalars(select(Address).where(Address.profile_id == customer_id,
                                                            Address.failed_deliveries > 0)))
    return facts_of(fulfilment=fulfilment, payment_status=payment_status, lines=lines, total_minor=total_minor,
                    address=address, now=now, earlier=earlier, verified=verified, failed_addresses=failed)


def facts_of(*, fulfilment: str, payment_status: str, lines: list[tuple[str, int]], total_minor: int,
             address: dict[str, Any] | None, now: datetime, earlier: Iterable[Any], verified: Iterable[Any],
             failed_addresses: Iterable[Any]) -> inspection.OrderFacts:
    """The facts from what was read: the customer's latest orders (`id`, `status`, `lines_key`, `created_at`,
    newest first), the details staff verified (`fingerprint`, `verified_at`) and the saved addresses with failed
    deliveries (`line1`, `postcode`, `country`, `failed_deliveries`, `last_failed_at`)."""
    earlier_orders = tuple(
        inspection.EarlierOrder(id=row.id, status=row.status, lines_key=row.lines_key,
                                minutes_ago=(now - as_utc(row.created_at)).total_seconds() / 60)
        for row in earlier)
    place = address_of(address) if fulfilment == "delivery" else None
    seen: dict[str, datetime] = {}
    failed = 0
    if place is not None:
        for fingerprint, at in verified:
            seen[fingerprint] = max(as_utc(at), seen.get(fingerprint, as_utc(at)))
        confirmed_at = seen.get(inspection.address_fingerprint(place))
        fields = {"line1": place.line1, "postcode": place.postcode, "country": (place.country or "").upper()}
        for saved in failed_addresses:
            failed_at = as_utc(saved.last_failed_at) if saved.last_failed_at else None
            if same_place(saved, fields) and (confirmed_at is None or failed_at is None or confirmed_at < failed_at):
                failed += saved.failed_deliveries
    country = ((place.country if place else None) or "").strip().upper()
    return inspection.OrderFacts(
        fulfilment=fulfilment, payment_status=payment_status, lines=tuple(lines), total_minor=total_minor,
        address=place, postcode_required=country not in NO_POSTCODE, country_known=country in COUNTRIES,
        earlier_orders=earlier_orders, failed_deliveries=failed, verified=frozenset(seen))


def remember_verified(session: Session, *, actor: Actor, order: Order, now: datetime) -> list[str]:
    """Remember the order's delivery address and phone as confirmed by staff; returns the kinds remembered.
    Each confirmation is a new row, so one made after a failed delivery counts from then on."""
    place = address_of(order.delivery_address) if order.fulfilment_type == "delivery" else None
    if place is None:
        return []
    details = [("address", inspection.address_fingerprint(place))]
    phone = inspection.phone_fingerprint(place)
    if phone is not None:
        details.append(("phone", phone))
    session.execute(insert(VerifiedDetail.__table__), [
        {"customer_id": order.customer_id, "kind": kind, "fingerprint": fingerprint, "order_id": order.id,
         "actor": actor.name, "verified_at": now} for kind, fingerprint in details])
    return [kind for kind, _ in details]
