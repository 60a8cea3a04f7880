"""A person's consents, saved addresses, data export and erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from omniretail.core.config import get_settings
from omniretail.core.deps import DB
from omniretail.core.schemas import PROBLEM_RESPONSES, RowId, problem
from omniretail.core.security import STAFF, Actor, Role, require
from omniretail.customers import addresses, privacy
from omniretail.customers.addresses import AddressInput
from omniretail.customers.profiles import get_profile
from omniretail.customers.schemas import (
    AddressIn,
    AddressList,
    AddressOut,
    ConsentList,
    ConsentOut,
    ConsentsIn,
    EraseOut,
    PrefillOut,
    ReasonIn,
)
from omniretail.customers.views import address_out

router = APIRouter(prefix="/api/v1/customers/{customer_id}", tags=["customers"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_customer` or `unknown_address`")})

StaffOrSelf = Annotated[Actor, Depends(require(*STAFF, Role.CUSTOMER))]
Eraser = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.CUSTOMER))]
Exporter = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.AGENT, Role.CUSTOMER))]


def _consent_out(c: Any) -> ConsentOut:
    return ConsentOut.model_validate(c, from_attributes=True)


@router.get("/consents", response_model=ConsentList)
def consents(customer_id: RowId, db: DB, actor: StaffOrSelf, history: bool = False) -> ConsentList:
    """Consents in force per purpose and channel; `history=true` lists every decision, newest first."""
    with db.read() as s:
        profile = get_profile(s, actor, customer_id)
        rows = (privacy.consent_history(s, profile.id) if history else privacy.current_consents(s, profile.id))
        return ConsentList(customer_id=profile.id, items=[_consent_out(c) for c in rows])


@router.post("/consents", response_model=ConsentList, status_code=201)
def record_consents(customer_id: RowId, body: ConsentsIn, db: DB, actor: StaffOrSelf) -> ConsentList:
    """Record the person's decisions (purpose, channel or `all`, granted, wording version) from a channel."""
    with db.write() as s:
        profile = get_profile(s, actor, customer_id)
        rows = privacy.record_consents(s, actor=actor, profile=profile, source_channel=body.source_channel,
                                       decisions=[privacy.ConsentDecision(c.purpose, c.channel, c.granted,
                                                                          c.wording_version) for c in body.consents])
        return ConsentList(customer_id=profile.id, items=[_consent_out(c) for c in rows])


@router.get("/export", responses={200: {"description": "Everything held on the person, as JSON", "content": {
    "application/json": {"schema": {"type": "object", "additionalProperties": True}}}}})
def export(customer_id: RowId, db: DB, actor: Exporter) -> JSONResponse:
    """Export everything held on the person (profile, merged profiles, identities, addresses, consents, loyalty,
    merges, timeline) as one JSON document."""
    with db.read() as s:
        document = privacy.export(s, get_profile(s, actor, customer_id))
    disposition = f'attachment; filename="customer-{customer_id}.json"'
    return JSONResponse(document, headers={"Content-Disposition": disposition})


@router.post("/erase", response_model=EraseOut)
def erase(customer_id: RowId, db: DB, actor: Eraser, body: ReasonIn | None = None) -> EraseOut:
    """Erase the person: names, contacts, identities, addresses and consents go; orders, payments and ledgers
    keep their amounts and items. Erasing twice is harmless."""
    with db.write() as s:
        profile = get_profile(s, actor, customer_id)
        erased_now = privacy.erase(s, actor=actor, profile=profile, reason=body.reason if body else None)
        return EraseOut(customer_id=profile.id, status="erased", erased_now=erased_now)


@router.get("/addresses", response_model=AddressList)
def list_addresses(customer_id: RowId, db: DB, actor: StaffOrSelf) -> AddressList:
    """Saved addresses, the default first."""
    from omniretail.customers.profiles import addresses_of

    with db.read() as s:
        profile = get_profile(s, actor, customer_id)
        return AddressList(items=[address_out(a) for a in addresses_of(s, [profile.id]).get(profile.id, [])])


@router.post("/addresses", response_model=AddressOut, status_code=201,
             responses={200: {"model": AddressOut, "description": "The profile already held this address"}})
def add_address(customer_id: RowId, body: AddressIn, db: DB, actor: StaffOrSelf,
                default: bool = False) -> JSONResponse:
    """Save a validated address (country code, postcode where the country has them, phone)."""
    from omniretail.core.schemas import json_response

    with db.write() as s:
        profile = get_profile(s, actor, customer_id)
        fields = addresses.validate(AddressInput(**body.model_dump()), field="address",
                                    default_region=get_settings().default_region)
        saved, created = addresses.save(s, actor=actor, profile=profile, fields=fields, make_default=default)
        return json_response(address_out(saved), 201 if created else 200)


@router.delete("/addresses/{address_id}", status_code=204)
def remove_address(customer_id: RowId, address_id: RowId, db: DB, actor: StaffOrSelf) -> None:
    """Delete a saved address."""
    with db.write() as s:
        addresses.remove(s, actor=actor, profile=get_profile(s, actor, customer_id), address_id=address_id)


@router.post("/addresses/{address_id}/delivery-failed", response_model=AddressOut)
def delivery_failed(customer_id: RowId, address_id: RowId, db: DB,
                    actor: Annotated[Actor, Depends(require(*STAFF))],
                    body: ReasonIn | None = None) -> AddressOut:
    """Flag that a delivery to this address failed; the next order to it is held for a check."""
    with db.write() as s:
        return address_out(addresses.flag_failed_delivery(s, actor=actor, profile=get_profile(s, actor, customer_id),
                                                          address_id=address_id,
                                                          reason=body.reason if body else None))


@router.get("/prefill", response_model=PrefillOut)
def prefill(customer_id: RowId, db: DB, actor: StaffOrSelf) -> PrefillOut:
    """What to pre-fill the next order with: names, e-mail, phone and the best saved address."""
    with db.read() as s:
        profile = get_profile(s, actor, customer_id)
        address = addresses.prefill_address(s, profile)
        return PrefillOut(customer_id=profile.id, given_name=profile.given_name, family_name=profile.family_name,
                          email=profile.email, phone=profile.phone, address=address_out(address) if address else None)
