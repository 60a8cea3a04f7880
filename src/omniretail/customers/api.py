"""Customer profiles: identify, look up, edit, timeline, merge and unmerge, duplicate review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniretail.core.deps import DB
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import MAX_ID, PROBLEM_RESPONSES, RowId, json_response, problem
from omniretail.core.security import STAFF, Actor, Role, require
from omniretail.customers import identify as identification
from omniretail.customers import merging, service
from omniretail.customers.addresses import AddressInput
from omniretail.customers.profiles import get_profile, resolve
from omniretail.customers.schemas import (
    AcceptIn,
    IdentifyIn,
    MergeIn,
    MergeList,
    MergeOut,
    ProfileList,
    ProfileOut,
    ProfilePatch,
    ReasonIn,
    SuggestionList,
    SuggestionOut,
    TimelineEntryOut,
    TimelineOut,
)
from omniretail.customers.views import merge_out, profile_out, suggestion_out

router = APIRouter(prefix="/api/v1/customers", tags=["customers"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_customer`, `unknown_merge` or `unknown_suggestion`")})

Staff = Annotated[Actor, Depends(require(*STAFF))]
StaffOrSelf = Annotated[Actor, Depends(require(*STAFF, Role.CUSTOMER))]
Editor = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.AGENT, Role.ASSOCIATE, Role.CUSTOMER))]
Resolver = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.AGENT))]
MERGE_CONFLICTS = {409: problem("`same_profile`, `profile_erased`, `merge_already_undone`, `merge_not_latest`, "
                                "`suggestion_decided`")}
IDENTIFY_RETRIES = 3


@router.post("/identify", response_model=ProfileOut, status_code=201,
             responses={200: {"model": ProfileOut, "description": "An existing profile (perhaps extended)"}})
def identify(body: IdentifyIn, db: DB, actor: Staff) -> Response:
    """Return the one profile of the person a channel has seen: existing (200), or new (201).
    Identities bound to another profile are never moved; the pair is merged when certain, else queued for review."""
    attributes = body.attributes
    address = AddressInput(**attributes.address.model_dump()) if attributes.address else None
    for attempt in range(IDENTIFY_RETRIES):
        try:
            with db.write() as s:
                resolution = identification.identify(
                    s, actor=actor, channel=body.channel,
                    identities=[identification.IdentityInput(i.type, i.value, i.country) for i in body.identities],
                    attributes=identification.Attributes(
                        given_name=attributes.given_name, family_name=attributes.family_name,
                        date_of_birth=attributes.date_of_birth, language=attributes.language,
                        preferred_channel=attributes.preferred_channel, address=address))
                out = profile_out(s, resolution.profile, resolution=resolution)
                return json_response(out, 201 if resolution.created else 200)
        except IntegrityError:
            # Someone bound the same identity a moment ago; the next attempt finds their profile.
            if attempt == IDENTIFY_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@router.get("", response_model=ProfileList)
def find_customers(db: DB, _: Staff, q: Annotated[str, Query(min_length=1, max_length=200)],
                   limit: Limit = 20) -> ProfileList:
    """Look a customer up by e-mail, phone, card number or the start of the name ("Müller An")."""
    with db.read() as s:
        return ProfileList(items=[profile_out(s, p) for p in service.find(s, q=q, limit=limit)])


@router.get("/suggestions", response_model=SuggestionList, tags=["customers"])
def suggestions(db: DB, _: Resolver, status: Annotated[str | None, Query(
        pattern="^(pending|merged|rejected|obsolete)$")] = "pending",
        customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        limit: Limit = 50, cursor: Cursor = None) -> SuggestionList:
    """The review queue: pairs of profiles that may be one person, with score and reasons."""
    after = cursor_int(decode_cursor(cursor), "after")
    with db.read() as s:
        found = merging.list_suggestions(s, status=status, limit=limit + 1, after_id=after, customer_id=customer_id)
        more = len(found) > limit
        return SuggestionList(items=[suggestion_out(s, x) for x in found[:limit]],
                              next_cursor=encode_cursor({"after": found[limit - 1].id}) if more else None)


@router.post("/suggestions/{suggestion_id}/accept", response_model=MergeOut, responses=MERGE_CONFLICTS)
def accept_suggestion(suggestion_id: RowId, db: DB, actor: Resolver, body: AcceptIn | None = None) -> MergeOut:
    """Merge a suggested pair (the older profile survives unless `survivor_id` says otherwise)."""
    with db.write() as s:
        return merge_out(merging.accept(s, actor=actor, suggestion_id=suggestion_id,
                                        survivor_id=body.survivor_id if body else None))


@router.post("/suggestions/{suggestion_id}/reject", response_model=SuggestionOut, responses=MERGE_CONFLICTS)
def reject_suggestion(suggestion_id: RowId, db: DB, actor: Resolver, body: ReasonIn | None = None) -> SuggestionOut:
    """Record that a suggested pair are two people; the pair is not suggested or merged automatically again."""
    with db.write() as s:
        found = merging.reject(s, actor=actor, suggestion_id=suggestion_id, reason=body.reason if body else None)
        return suggestion_out(s, found)


@router.post("/merge", response_model=MergeOut, responses=MERGE_CONFLICTS)
def merge(body: MergeIn, db: DB, actor: Resolver) -> MergeOut:
    """Merge `absorbed_id` into `survivor_id`: identities, addresses, consents, timeline and points move;
    the absorbed id keeps resolving to the survivor. Undo with `POST /customers/merges/{id}/undo`."""
    with db.write() as s:
        return merge_out(merging.merge(s, actor=actor, survivor_id=body.survivor_id, absorbed_id=body.absorbed_id,
                                       reason=body.reason))


@router.get("/merges/{merge_id}", response_model=MergeOut)
def get_merge(merge_id: RowId, db: DB, _: Resolver) -> MergeOut:
    """One merge: who, when, why, what moved, and whether it was undone."""
    with db.read() as s:
        return merge_out(merging.get_merge(s, merge_id))


@router.post("/merges/{merge_id}/undo", response_model=MergeOut, responses=MERGE_CONFLICTS)
def undo_merge(merge_id: RowId, db: DB, actor: Resolver, body: ReasonIn | None = None) -> MergeOut:
    """Unmerge: both profiles come back as they were, with the rows and points each brought."""
    with db.write() as s:
        return merge_out(merging.unmerge(s, actor=actor, merge_id=merge_id, reason=body.reason if body else None))


@router.get("/{customer_id}", response_model=ProfileOut)
def get_customer(customer_id: RowId, db: DB, actor: StaffOrSelf) -> ProfileOut:
    """One profile; an id that was merged answers with the surviving profile (`requested_id` says so)."""
    with db.read() as s:
        return profile_out(s, get_profile(s, actor, customer_id), requested_id=customer_id)


@router.patch("/{customer_id}", response_model=ProfileOut, responses={409: problem("`profile_erased`")})
def update_customer(customer_id: RowId, body: ProfilePatch, db: DB, actor: Editor) -> ProfileOut:
    """Change names, date of birth, language or preferred channel (fields left out stay as they are)."""
    with db.write() as s:
        profile = get_profile(s, actor, customer_id)
        service.update_profile(s, actor=actor, profile=profile, changes=body.model_dump(exclude_unset=True))
        return profile_out(s, profile, requested_id=customer_id)


@router.get("/{customer_id}/merges", response_model=MergeList)
def customer_merges(customer_id: RowId, db: DB, _: Resolver) -> MergeList:
    """Merges this profile took part in, newest first."""
    with db.read() as s:
        return MergeList(items=[merge_out(m) for m in merging.merges_of(s, resolve(s, customer_id).id)])


@router.get("/{customer_id}/timeline", response_model=TimelineOut)
def timeline(customer_id: RowId, db: DB, actor: StaffOrSelf, limit: Limit = 50, cursor: Cursor = None) -> TimelineOut:
    """Everything that happened to the person, across channels, newest first."""
    before = decode_cursor(cursor).get("before")
    before_id = cursor_int({"before": before}, "before") if before is not None else None
    with db.read() as s:
        profile = get_profile(s, actor, customer_id)
        return _timeline(s, profile.id, limit, before_id, actor)


def _timeline(s: Session, profile_id: int, limit: int, before_id: int | None, viewer: Actor) -> TimelineOut:
    found = service.timeline(s, profile_id, limit=limit + 1, before_id=before_id)
    more = len(found) > limit
    items = [TimelineEntryOut.model_validate(e, from_attributes=True) for e in found[:limit]]
    if viewer.role is Role.CUSTOMER:
        # A customer sees what happened and where, not which member of staff or which key did it.
        items = [item.model_copy(update={"actor": "you" if item.actor == viewer.name else "staff"})
                 for item in items]
    return TimelineOut(customer_id=profile_id, items=items,
                       next_cursor=encode_cursor({"before": found[limit - 1].id}) if more else None)
