from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omniretail.integration.rules import MAX_SECRET_LENGTH, MAX_URL_LENGTH

DeliveryStatus = Literal["pending", "retrying", "delivered", "dead", "cancelled"]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=MAX_URL_LENGTH * 2, examples=["https://erp.example.com/omniretail/events"],
                     description="http:// or https:// address the events are POSTed to")
    events: list[str] = Field(max_length=1000, examples=[["order.created", "order.*"], ["*"]],
                              description='event types ("order.created"), every event of a kind ("order.*"), '
                                          'or ["*"] for all')
    secret: str = Field(repr=False, max_length=MAX_SECRET_LENGTH * 2,
                        description="at least 16 characters; signs every delivery and is never shown again")
    description: str = Field(default="", max_length=200)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    events: list[str]
    description: str
    status: str
    created_at: datetime
    created_by: str
    deleted_at: datetime | None = None
    deliveries: dict[str, int] | None = Field(default=None, description="deliveries per state (one subscription)")


class WebhookList(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None = None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    outcome: str = Field(description="delivered, failed, or interrupted (the worker stopped mid-way)")
    started_at: datetime
    finished_at: datetime
    status_code: int | None
    error: str | None
    worker: str


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscription_id: int | None
    event_id: str
    event_type: str
    object_key: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="when it is tried next, while pending or retrying")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    replay_of_id: int | None
    attempt_log: list[AttemptOut] = Field(default_factory=list)
    event: dict[str, Any] | None = Field(default=None, description="the envelope sent (one delivery)")


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = None
