"""Sourcing over HTTP: the decision behind a delivery order — locations chosen, cost breakdown, alternatives."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
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
