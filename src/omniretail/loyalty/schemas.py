from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from omniretail.core.schemas import MoneyIn
from omniretail.loyalty.models import LoyaltyEntry, Reward

MAX_POINTS = 1_000_000_000
REWARD_CODE = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,49}$"
EntryKind = Literal["earn", "spend", "adjust", "reverse"]


class CauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=20, examples=["order"],
                      description="What caused the movement: order, pos_sale, return, manual, ...")
    id: str = Field(min_length=1, max_length=100, examples=["1042"])


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: EntryKind
    points: int | None = Field(default=None, ge=-MAX_POINTS, le=MAX_POINTS,
                               description="earn, spend: > 0; adjust: signed, not 0; reverse: > 0, left out: "
                                           "all the cause earned that is not taken back yet")
    amount: MoneyIn | None = Field(default=None, description="earn only, instead of points: the purchase amount")
    channel: str = Field(min_length=1, max_length=50, examples=["pos"])
    cause: CauseIn
    reason: str | None = Field(default=None, max_length=500, description="Required for adjustments and reversals")


class CauseOut(BaseModel):
    type: str | None
    id: str | None


class EntryOut(BaseModel):
    id: int
    customer_id: int
    kind: str = Field(description="earn, spend, redeem, adjust, reverse, transfer_in, transfer_out")
    points: int = Field(description="Signed")
    balance_after: int
    reason: str | None
    cause: CauseOut
    channel: str | None
    actor: str
    at: datetime

    @classmethod
    def of(cls, entry: LoyaltyEntry) -> EntryOut:
        return cls(id=entry.id, customer_id=entry.profile_id, kind=entry.kind, points=entry.points,
                   balance_after=entry.balance_after, reason=entry.reason,
                   cause=CauseOut(type=entry.cause_type, id=entry.cause_id), channel=entry.channel,
                   actor=entry.actor, at=entry.at)


class EntryResult(BaseModel):
    customer_id: int
    entry: EntryOut
    balance: int
    tier: str


class EntryList(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None = None


class NextTierOut(BaseModel):
    name: str
    points_needed: int = Field(description="Lifetime points still to earn")


class AccountOut(BaseModel):
    customer_id: int = Field(description="The surviving profile when a merged id was asked for")
    balance: int
    lifetime_earned: int
    tier: str
    next_tier: NextTierOut | None


class RedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reward: str = Field(pattern=REWARD_CODE, description="The reward's code")
    location_id: str | None = Field(default=None, max_length=64,
                                    description="Where a gift reward is handed out (required for gifts)")
    channel: str = Field(min_length=1, max_length=50)


class RedemptionOut(BaseModel):
    id: str
    customer_id: int
    reward: str
    points: int
    balance: int
    location_id: str | None
    sku: str | None = Field(description="The gift handed out, if the reward is a gift")
    entry: EntryOut


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=REWARD_CODE, examples=["GIFT-MUG"])
    name: str = Field(min_length=1, max_length=200)
    points: int = Field(ge=-MAX_POINTS, le=MAX_POINTS, description="> 0")
    sku: str | None = Field(default=None, max_length=64, description="A gift product: the reward hands out one unit")


class RewardOut(BaseModel):
    code: str
    name: str
    points: int
    sku: str | None
    gift: bool
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, reward: Reward, sku: str | None) -> RewardOut:
        return cls(code=reward.code, name=reward.name, points=reward.points, sku=sku, gift=sku is not None,
                   active=reward.active, created_at=reward.created_at)


class RewardList(BaseModel):
    items: list[RewardOut]
    next_cursor: str | None = None
