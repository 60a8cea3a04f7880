from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

IdentityType = Literal["email", "phone", "loyalty_card", "pos_customer_id", "device_id", "messenger", "social"]
LANGUAGE_TAG = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
Purpose = Literal["marketing", "personalisation", "analytics", "service"]


def _birth_date(value: date | None) -> date | None:
    if value is not None and not date(1900, 1, 1) <= value <= date.today():
        raise ValueError("a date of birth between 1900-01-01 and today")
    return value


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: IdentityType
    value: str = Field(min_length=1, max_length=320)
    country: str | None = Field(default=None, min_length=2, max_length=2,
                                description="Region hint for phone numbers written without a country code")


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    region: str | None = Field(default=None, max_length=100)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    phone: str | None = Field(default=None, max_length=40, description="Contact phone for deliveries")


class AttributesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    date_of_birth: date | None = None
    language: str | None = Field(default=None, min_length=2, max_length=20, pattern=LANGUAGE_TAG)
    preferred_channel: str | None = Field(default=None, max_length=50)
    address: AddressIn | None = None

    _dob = field_validator("date_of_birth")(_birth_date)


class IdentifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(max_length=50, description="The channel that saw the person (web, pos, call_centre, ...)")
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)
    attributes: AttributesIn = Field(default_factory=AttributesIn)


class ProfilePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    date_of_birth: date | None = None
    language: str | None = Field(default=None, min_length=2, max_length=20, pattern=LANGUAGE_TAG)
    preferred_channel: str | None = Field(default=None, max_length=50)

    _dob = field_validator("date_of_birth")(_birth_date)


class IdentityOut(BaseModel):
    type: str
    value: str
    channel: str | None
    created_at: datetime
    last_seen_at: datetime


class AddressOut(BaseModel):
    id: int
    line1: str
    line2: str | None
    city: str
    postcode: str | None
    region: str | None
    country: str
    phone: str | None
    is_default: bool
    failed_deliveries: int
    last_failed_at: datetime | None


class LoyaltySummary(BaseModel):
    balance: int
    tier: str


class ResolutionOut(BaseModel):
    matched_by: str = Field(description="email, phone, loyalty_card, …, fuzzy, or new")
    linked: list[str] = Field(description="Identity types newly linked to the profile")
    suggestions: list[int] = Field(description="Duplicate suggestions queued for staff review")
    merged: list[int] = Field(description="Profiles merged into this one by this request")


class ProfileOut(BaseModel):
    id: int
    status: Literal["active", "merged", "erased"]
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    language: str | None
    preferred_channel: str | None
    email: str | None
    phone: str | None
    created_channel: str | None
    created_at: datetime
    updated_at: datetime
    identities: list[IdentityOut]
    addresses: list[AddressOut]
    loyalty: LoyaltySummary
    merged_from: list[int] = Field(description="Profiles merged into this one (their ids still resolve here)")
    requested_id: int | None = Field(default=None, description="The id asked for, when it was merged into this one")
    resolution: ResolutionOut | None = None


class ProfileList(BaseModel):
    items: list[ProfileOut]
    next_cursor: str | None = None


class TimelineEntryOut(BaseModel):
    id: int
    at: datetime
    kind: str
    channel: str | None
    actor: str
    summary: str
    data: dict[str, Any]


class TimelineOut(BaseModel):
    customer_id: int
    items: list[TimelineEntryOut]
    next_cursor: str | None


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survivor_id: int = Field(ge=1, le=2**31 - 1, description="The profile that stays")
    absorbed_id: int = Field(ge=1, le=2**31 - 1, description="The profile merged into it; its id keeps resolving")
    reason: str | None = Field(default=None, max_length=500)


class MergeOut(BaseModel):
    id: int
    survivor_id: int
    absorbed_id: int
    source: str
    probability: float | None
    reason: str | None
    moved: dict[str, int] = Field(description="How many rows of each kind moved, and loyalty points")
    actor: str
    merged_at: datetime
    undone_at: datetime | None
    undone_by: str | None


class MergeList(BaseModel):
    items: list[MergeOut]


class ReasonIn(BaseModel):
    """Why staff (or the person) did it: undoing a merge, rejecting a pair, a failed delivery, an erasure."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class ProfileBrief(BaseModel):
    """What a reviewer compares at a glance."""

    id: int
    status: str
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    email: str | None
    phone: str | None
    postcode: str | None
    city: str | None


class SuggestionOut(BaseModel):
    id: int
    a_id: int
    b_id: int
    probability: float
    reasons: list[str]
    source: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    profiles: list[ProfileBrief] = Field(default_factory=list, description="The two profiles as they are now")


class SuggestionList(BaseModel):
    items: list[SuggestionOut]
    next_cursor: str | None


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survivor_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    channel: str = Field(max_length=50, description="A channel code, or `all`")
    granted: bool
    wording_version: str = Field(min_length=1, max_length=50, description="Version of the text the person agreed to")


class ConsentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_channel: str = Field(max_length=50, description="Where the person answered")
    consents: list[ConsentIn] = Field(min_length=1, max_length=50)


class ConsentOut(BaseModel):
    id: int
    purpose: str
    channel: str
    granted: bool
    wording_version: str
    source_channel: str | None
    actor: str
    recorded_at: datetime


class ConsentList(BaseModel):
    customer_id: int
    items: list[ConsentOut]


class AddressList(BaseModel):
    items: list[AddressOut]


class PrefillOut(BaseModel):
    customer_id: int
    given_name: str | None
    family_name: str | None
    email: str | None
    phone: str | None
    address: AddressOut | None


class EraseOut(BaseModel):
    customer_id: int
    status: str
    erased_now: bool = Field(description="False when the profile had been erased before")
