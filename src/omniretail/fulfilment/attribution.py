"""Store attribution (C22): every online sale is credited to one store — the pickup store, else the store
nearest the delivery address — when it is released to fulfilment; a return debits the store the sale was
credited to. Loyalty points are earned when an order completes and taken back when it is returned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, Invalid
from omniretail.core.security import Actor
from omniretail.fulfilment.models import Return, SalesCredit
from omniretail.locations.geo import haversine_km
from omniretail.locations.models import Location
from omniretail.locations.places import city_coordinates
from omniretail.loyalty import service as loyalty
from omniretail.orders.models import Order


def _where(address: dict[str, Any]) -> tuple[float, float] | None:
    lat, lon = address.get("lat"), address.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return float(lat), float(lon)
    city = address.get("city")
    return city_coordinates(city, address.get("country")) if isinstance(city, str) else None


def credited_store(session: Session, order: Order) -> tuple[str, str] | None:
    """(store id, rule) the sale is credited to; None for a till sale (the store's own) or an address
    nobody can place on a map."""
    if order.fulfilment_type == "in_store":
        return None
    if order.fulfilment_type == "pickup" and order.location_id:
        return order.location_id, "pickup_store"
    point = _where(order.delivery_address or {})
    if point is None:
        return None
    stores = session.execute(select(Location.id, Location.lat, Location.lon)
                             .where(Location.type == "store", Location.active)).all()
    if not stores:
        return None
    nearest = min(stores, key=lambda s: (haversine_km(point[0], point[1], s.lat, s.lon), s.id))
    return nearest.id, "nearest_store"


def credit_sale(session: Session, order: Order) -> SalesCredit | None:
    """Credit the order's sale to its store (once)."""
    if session.scalar(select(SalesCredit.id).where(SalesCredit.order_id == order.id, SalesCredit.kind == "sale")):
        return None
    found = credited_store(session, order)
    if found is None:
        return None
    credit = SalesCredit(location_id=found[0], order_id=order.id, kind="sale", rule=found[1],
                         amount_minor=order.total_minor, currency=order.currency, at=utcnow())
    session.add(credit)
    return credit


def debit_return(session: Session, order: Order, returned: Return) -> SalesCredit | None:
    """Debit a return's refund from the store the sale was credited to."""
    sale = session.scalar(select(SalesCredit).where(SalesCredit.order_id == order.id, SalesCredit.kind == "sale"))
    if sale is None:
        return None
    debit = SalesCredit(location_id=sale.location_id, order_id=order.id, return_id=returned.id, kind="return",
                        rule=sale.rule, amount_minor=-returned.refund_minor, currency=returned.currency, at=utcnow())
    session.add(debit)
    return debit


def report(session: Session, *, start: datetime, end: datetime, location_id: str | None = None
           ) -> list[dict[str, Any]]:
    """Per store and currency, from `start` to before `end`: online sales credited, returns debited, net."""
    if end <= start:
        raise Invalid("The period ends after it starts", field="to", code="invalid_period")
    query = (select(SalesCredit.location_id, Location.name, SalesCredit.currency, SalesCredit.kind,
                    func.count(SalesCredit.id), func.sum(SalesCredit.amount_minor))
             .join(Location, Location.id == SalesCredit.location_id)
             .where(SalesCredit.at >= start, SalesCredit.at < end)
             .group_by(SalesCredit.location_id, Location.name, SalesCredit.currency, SalesCredit.kind))
    if location_id is not None:
        query = query.where(SalesCredit.location_id == location_id)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for store, name, currency, kind, count, amount in session.execute(query):
        row = rows.setdefault((store, currency), {"location_id": store, "name": name, "currency": currency,
                                                  "sales": 0, "sales_minor": 0, "returns": 0, "returns_minor": 0})
        if kind == "sale":
            row["sales"], row["sales_minor"] = count, int(amount)
        else:
            row["returns"], row["returns_minor"] = count, -int(amount)
    for row in rows.values():
        row["net_minor"] = row["sales_minor"] - row["returns_minor"]
    return sorted(rows.values(), key=lambda r: (-r["net_minor"], r["location_id"]))


def earn_points(session: Session, actor: Actor, order: Order) -> None:
    """A completed order earns its customer points, if they are a loyalty member."""
    if order.customer_id not in loyalty.holders(session, [order.customer_id]):
        return
    try:
        loyalty.earn(session, actor=actor, profile_id=order.customer_id, amount_minor=order.total_minor,
                     currency=order.currency, channel=order.channel, cause_type="order", cause_id=str(order.id),
                     reason="order completed")
    except (Invalid, Conflict):
        return  # too small to earn anything, or earned already


def reverse_points(session: Session, actor: Actor, order: Order, refund_minor: int, channel: str) -> int:
    """Take back the share of the order's points the refund stands for; returns the points taken."""
    if order.total_minor <= 0:
        return 0
    earned = loyalty.points_earned(session, order.customer_id, cause_type="order", cause_id=str(order.id))
    if earned <= 0:
        return 0
    share = max(1, round(earned * refund_minor / order.total_minor))
    try:
        entry = loyalty.reverse(session, actor=actor, profile_id=order.customer_id, cause_type="order",
                                cause_id=str(order.id), reason="order returned", points=share, channel=channel)
    except Conflict:
        return 0
    return -entry.points
