"""Sourcing over HTTP: the decision behind a delivery order — locations chosen, cost breakdown, alternatives — and
the live bid prices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from omniretail.core.deps import DB
from omniretail.core.schemas import PROBLEM_RESPONSES, RowId, json_response, problem
from omniretail.core.security import Actor, Role, require
from omniretail.orders import service as orders
from omniretail.sourcing import service

router = APIRouter(tags=["sourcing"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_order`, `no_sourcing_decision`")})
Staff = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.AGENT, Role.INTEGRATION))]


class SourcingOut(BaseModel):
    order_id: int
    policy: str = Field(description="default, greedy, most_lines or optimal")
    total_cost: float = Field(description="In the cost model's units (currency-like)")
    packages: int
    split: bool = Field(description="Sent in more than one parcel")
    decision: dict[str, Any] = Field(description="Shipments (location, distance, units, picks), cost breakdown "
                                                 "(packages, items, distance, transfer, unfilled), alternatives "
                                                 "considered with their costs, notes")


@router.get("/api/v1/orders/{order_id}/sourcing", response_model=SourcingOut)
def sourcing_decision(order_id: RowId, db: DB, actor: Staff) -> Response:
    """Why the order's units come from where they come from: the sourcing engine's decision at placement."""
    with db.read() as s:
        order = orders.get_order(s, actor=actor, order_id=order_id)
        found = service.decision_of(s, order.id)
        return json_response(SourcingOut(order_id=order.id, policy=found.policy, total_cost=found.total_cost,
                                         packages=found.packages, split=found.split, decision=found.decision))


class BidPriceOut(BaseModel):
    location_id: str
    resource: str = Field(description="stock (a unit of the SKU there) or capacity (a unit of today's picking)")
    sku: str | None = Field(description="The SKU, for stock")
    price: float = Field(description="What the unit is worth to the demand expected, in the cost model's units")


class BidPricesOut(BaseModel):
    run: dict[str, Any] | None = Field(description="The last run: when, its status, the history it priced, "
                                                   "how many prices it found (null: never run)")
    prices: list[BidPriceOut] = Field(description="Dearest first")
    enabled: bool = Field(description="Whether live deliveries choose with them (OMNIRETAIL_BID_PRICES)")


Operations = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS))]


@router.get("/api/v1/sourcing/bid-prices", response_model=BidPricesOut)
def bid_prices(db: DB, actor: Operations, location_id: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """The bid prices the default policy of live deliveries chooses with, as the worker last computed them."""
    from omniretail.core.config import get_settings
    from omniretail.sourcing import live

    with db.read() as s:
        run, rows = live.listing(s, location_id=location_id, limit=limit)
    return json_response(BidPricesOut(
        run=run, enabled=get_settings().bid_prices,
        prices=[BidPriceOut(location_id=r.location_id, resource=r.resource, sku=r.sku or None, price=r.price)
                for r in rows]))
