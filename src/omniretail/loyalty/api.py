from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from omniretail.core.deps import DB
from omniretail.core.errors import Forbidden, Invalid
from omniretail.core.idempotency import run_idempotent
from omniretail.core.money import check_currency, to_minor
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import PROBLEM_RESPONSES, RowId, problem
from omniretail.core.security import EVERYONE, Actor, Role, require
from omniretail.customers.profiles import get_profile
from omniretail.loyalty import service, tiers
from omniretail.loyalty.models import LoyaltyEntry
from omniretail.loyalty.schemas import (
    AccountOut,
    EntryIn,
    EntryList,
    EntryOut,
    EntryResult,
    NextTierOut,
    RedemptionIn,
    RedemptionOut,
    RewardIn,
    RewardList,
    RewardOut,
)

router = APIRouter(prefix="/api/v1", tags=["loyalty"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_customer` or `unknown_reward`")})

Anyone = Annotated[Actor, Depends(require(*EVERYONE))]
Operations = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS))]
#: Who may book each kind of entry; a customer key only on its own profile (`not_your_profile`).
ENTRY_ROLES = {
    "earn": frozenset({Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.INTEGRATION}),
    "spend": frozenset({Role.ADMIN, Role.OPERATIONS, Role.AGENT, Role.INTEGRATION, Role.CUSTOMER}),
    "adjust": frozenset({Role.ADMIN, Role.OPERATIONS}),
    "reverse": frozenset({Role.ADMIN, Role.OPERATIONS, Role.INTEGRATION}),
}
CONFLICTS = {409: problem("`insufficient_points` (with the `balance`), `duplicate_cause`, `nothing_to_reverse`, "
                          "`reward_unavailable`, `points_limit`, `profile_erased`")}


def _programme(request: Request) -> tiers.Rules:
    return service.rules(request.app.state.settings)


def _account(summary: service.Summary) -> AccountOut:
    upcoming = summary.next_tier
    return AccountOut(customer_id=summary.customer_id, balance=summary.balance,
                      lifetime_earned=summary.lifetime_earned, tier=summary.tier,
                      next_tier=NextTierOut(name=upcoming[0], points_needed=upcoming[1]) if upcoming else None)


@router.get("/customers/{customer_id}/loyalty", response_model=AccountOut)
def loyalty(customer_id: RowId, request: Request, db: DB, actor: Anyone) -> AccountOut:
    """Points balance, lifetime points and tier; a merged customer id answers for the surviving profile."""
    with db.read() as s:
        profile = get_profile(s, actor, customer_id)
        return _account(service.summary(s, profile.id, _programme(request)))


@router.get("/customers/{customer_id}/loyalty/entries", response_model=EntryList)
def entries(customer_id: RowId, db: DB, actor: Anyone, limit: Limit = 50, cursor: Cursor = None) -> EntryList:
    """The points ledger of a customer, newest first; every entry names its cause."""
    before = cursor_int(decode_cursor(cursor), "before") or None
    with db.read() as s:
        profile = get_profile(s, actor, customer_id)
        found = service.history(s, profile.id, limit=limit + 1, before_id=before)
        more = len(found) > limit
        return EntryList(items=[EntryOut.of(e) for e in found[:limit]],
                         next_cursor=encode_cursor({"before": found[limit - 1].id}) if more else None)


def _entry(s: Session, actor: Actor, customer_id: int, body: EntryIn, programme: tiers.Rules,
           default_currency: str) -> LoyaltyEntry:
    cause = {"cause_type": body.cause.type, "cause_id": body.cause.id}
    if body.amount is not None and body.kind != "earn":
        raise Invalid("Only earning takes a purchase amount", field="amount", code="amount_not_allowed")
    if body.points is None and body.kind in ("spend", "adjust"):
        raise Invalid(f"Say how many points to {body.kind}", field="points", code="points_required")
    if body.kind == "earn":
        amount_minor = currency = None
        if body.amount is not None:
            currency = check_currency(body.amount.currency or default_currency, field="amount.currency")
            amount_minor = to_minor(body.amount.amount, currency, field="amount.amount")
        return service.earn(s, actor=actor, profile_id=customer_id, points=body.points, amount_minor=amount_minor,
                            currency=currency, channel=body.channel, reason=body.reason, programme=programme,
                            **cause)
    if body.kind == "spend":
        return service.spend(s, actor=actor, profile_id=customer_id, points=body.points or 0, channel=body.channel,
                             reason=body.reason, **cause)
    if body.kind == "adjust":
        return service.adjust(s, actor=actor, profile_id=customer_id, points=body.points or 0,
                              reason=body.reason or "", channel=body.channel, **cause)
    return service.reverse(s, actor=actor, profile_id=customer_id, points=body.points, reason=body.reason or "",
                           channel=body.channel, programme=programme, **cause)


@router.post("/customers/{customer_id}/loyalty/entries", response_model=EntryResult, status_code=201,
             responses=CONFLICTS)
def book(customer_id: RowId, body: EntryIn, request: Request, db: DB, actor: Anyone) -> Response:
    """Earn points (given, or for a purchase `amount`) once per cause, spend them, adjust them (admin and
    operations, with a reason) or take back what a cause earned (`reverse`). Accepts `Idempotency-Key`."""
    if actor.role not in ENTRY_ROLES[body.kind]:
        raise Forbidden(f"The {actor.role.value} role may not {body.kind} points", code="role_forbidden")
    programme = _programme(request)

    def use_case(s: Session) -> EntryResult:
        entry = _entry(s, actor, customer_id, body, programme, request.app.state.settings.default_currency)
        return EntryResult(customer_id=entry.profile_id, entry=EntryOut.of(entry), balance=entry.balance_after,
                           tier=service.summary(s, entry.profile_id, programme).tier)

    return run_idempotent(request, db, actor, body, 201, use_case)


@router.post("/customers/{customer_id}/loyalty/redemptions", response_model=RedemptionOut, status_code=201,
             responses=CONFLICTS)
def redeem(customer_id: RowId, body: RedemptionIn, request: Request, db: DB, actor: Anyone) -> Response:
    """Redeem a reward for its points; a gift reward also hands out one unit at `location_id` (required for
    gifts), or neither happens (409 `reward_unavailable`). Accepts `Idempotency-Key`."""
    def use_case(s: Session) -> RedemptionOut:
        done = service.redeem(s, actor=actor, profile_id=customer_id, reward_code=body.reward,
                              location_id=body.location_id, channel=body.channel)
        return RedemptionOut(id=done.id, customer_id=done.entry.profile_id, reward=done.reward.code,
                             points=done.reward.points, balance=done.entry.balance_after,
                             location_id=done.location_id, sku=done.sku, entry=EntryOut.of(done.entry))

    return run_idempotent(request, db, actor, body, 201, use_case)


@router.get("/loyalty/rewards", response_model=RewardList)
def rewards(db: DB, _: Anyone, limit: Limit = 50, cursor: Cursor = None) -> RewardList:
    """Rewards on offer, oldest first."""
    with db.read() as s:
        found = service.list_rewards(s, limit=limit + 1, after_id=cursor_int(decode_cursor(cursor), "after"))
        more = len(found) > limit
        return RewardList(items=[RewardOut.of(r, service.reward_sku(s, r)) for r in found[:limit]],
                          next_cursor=encode_cursor({"after": found[limit - 1].id}) if more else None)


@router.post("/loyalty/rewards", response_model=RewardOut, status_code=201,
             responses={409: problem("`duplicate_reward`")})
def create_reward(body: RewardIn, request: Request, db: DB, actor: Operations) -> Response:
    """Offer a reward for points; with a `sku` (a gift product) it hands out one unit. Accepts `Idempotency-Key`."""
    def use_case(s: Session) -> RewardOut:
        reward = service.create_reward(s, actor=actor, code=body.code, name=body.name, points=body.points,
                                       sku=body.sku)
        return RewardOut.of(reward, body.sku)

    return run_idempotent(request, db, actor, body, 201, use_case)
