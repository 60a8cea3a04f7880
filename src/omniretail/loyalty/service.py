"""Loyalty points: one account per person, an append-only ledger, earned and spent in every channel; rewards.

Each movement locks the person's account row (opened on first use), changes the balance in one guarded
UPDATE that can never take it below 0, and appends one ledger entry naming its cause, with an audit record,
a timeline entry on the profile and an outbox event, all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.catalog.service import get_product
from omniretail.channels.service import require_channel
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.config import Settings, get_settings
from omniretail.core.db import insert_ignore
from omniretail.core.errors import Conflict, Invalid, NotFound, register_unique_constraint
from omniretail.core.money import check_currency
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor, Role
from omniretail.customers.models import Profile
from omniretail.customers.profiles import MAX_MERGE_HOPS, add_timeline, get_profile
from omniretail.inventory import service as inventory
from omniretail.locations.service import get_location
from omniretail.loyalty import tiers
from omniretail.loyalty.models import LoyaltyAccount, LoyaltyEntry, Reward

#: The most points one movement carries, and the most an account holds (a 32-bit column).
MAX_POINTS = 1_000_000_000
MAX_BALANCE = 2**31 - 1
ACCOUNTS = LoyaltyAccount.__table__

register_unique_constraint("uq_loyalty_rewards_code", "loyalty_rewards.code", code="duplicate_reward",
                           detail="A reward with this code already exists")


@dataclass(frozen=True)
class Summary:
    customer_id: int
    balance: int
    lifetime_earned: int
    tier: str
    next_tier: tuple[str, int] | None  # name, lifetime points still needed


@dataclass(frozen=True)
class Redemption:
    id: str
    reward: Reward
    entry: LoyaltyEntry
    location_id: str | None
    sku: str | None


def rules(settings: Settings | None = None) -> tiers.Rules:
    """Read the programme's rules (points per currency unit, tiers) from the settings."""
    settings = settings or get_settings()
    return _parsed(settings.loyalty_points_per_unit, settings.loyalty_tiers)


@lru_cache(maxsize=8)
def _parsed(points_per_unit: int, tier_text: str) -> tiers.Rules:
    return tiers.parse_rules(points_per_unit=points_per_unit, tiers=tier_text)


def points_for_purchase(amount_minor: int, currency: str, programme: tiers.Rules | None = None) -> int:
    """Count the points a purchase of `amount_minor` (minor units of `currency`) earns."""
    exponent = get_currency_precision(check_currency(currency, field="amount.currency"))
    if amount_minor < 0:
        raise Invalid("A purchase amount is not negative", field="amount.amount", code="invalid_amount")
    return tiers.points_for(amount_minor, exponent=exponent,
                            points_per_unit=(programme or rules()).points_per_unit)


def account(session: Session, profile_id: int) -> LoyaltyAccount:
    """Return the profile's points account, opened on first use and locked until the transaction ends."""
    insert_ignore(session, ACCOUNTS, [{"profile_id": profile_id, "balance": 0, "lifetime_earned": 0,
                                       "tier": tiers.BASE_TIER, "updated_at": utcnow()}], conflict=["profile_id"])
    found = _lock(session, profile_id)
    assert found is not None  # just inserted or already there
    return found


def _lock(session: Session, profile_id: int) -> LoyaltyAccount | None:
    query = select(LoyaltyAccount).where(LoyaltyAccount.profile_id == profile_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one_or_none()


def summary(session: Session, profile_id: int, programme: tiers.Rules | None = None) -> Summary:
    """Return a profile's balance, lifetime points and tier (zero before its first movement)."""
    programme = programme or rules()
    found = session.get(LoyaltyAccount, profile_id)
    balance, lifetime = (found.balance, found.lifetime_earned) if found else (0, 0)
    return Summary(profile_id, balance, lifetime, tiers.tier_for(lifetime, programme.tiers),
                   tiers.next_tier(lifetime, programme.tiers))


def history(session: Session, profile_id: int, *, limit: int, before_id: int | None = None) -> list[LoyaltyEntry]:
    """List a profile's ledger entries, newest first."""
    query = select(LoyaltyEntry).where(LoyaltyEntry.profile_id == profile_id)
    if before_id is not None:
        query = query.where(LoyaltyEntry.id < before_id)
    return list(session.scalars(query.order_by(LoyaltyEntry.id.desc()).limit(limit)))


# --- movements ------------------------------------------------------------------------------------


def earn(session: Session, *, actor: Actor, profile_id: int, points: int | None = None,
         amount_minor: int | None = None, currency: str | None = None, channel: str, cause_type: str,
         cause_id: str, reason: str | None = None, programme: tiers.Rules | None = None) -> LoyaltyEntry:
    """Credit points, given or for a purchase amount, once per cause; they count toward the tier."""
    programme = programme or rules()
    profile = _profile(session, actor, profile_id)
    _check_cause(cause_type, cause_id)
    channel = require_channel(session, channel).code
    if (points is None) == (amount_minor is None):
        raise Invalid("Give either points or a purchase amount", field="points", code="points_or_amount")
    if points is None:
        points = points_for_purchase(amount_minor or 0, currency or get_settings().default_currency, programme)
        if points == 0:
            raise Invalid("The amount earns no points", field="amount.amount", code="nothing_to_earn")
    _check_points(points)
    before = account(session, profile.id)
    _refuse_repeated_cause(session, profile.id, "earn", cause_type, cause_id)
    balance, lifetime = _change(session, profile.id, points=points, lifetime=points)
    entry = _book(session, actor, profile.id, "earn", points, balance, channel, cause_type, cause_id, reason,
                  f"Earned {points} points ({cause_type} {cause_id})")
    _sync_tier(session, actor, profile.id, before.tier, lifetime, programme, channel)
    return entry


def spend(session: Session, *, actor: Actor, profile_id: int, points: int, channel: str, cause_type: str,
          cause_id: str, reason: str | None = None) -> LoyaltyEntry:
    """Take points off the balance once per cause; never below 0 (409 `insufficient_points`)."""
    profile = _profile(session, actor, profile_id)
    _check_cause(cause_type, cause_id)
    channel = require_channel(session, channel).code
    _check_points(points)
    account(session, profile.id)
    _refuse_repeated_cause(session, profile.id, "spend", cause_type, cause_id)
    balance = _debit(session, profile.id, points)
    return _book(session, actor, profile.id, "spend", -points, balance, channel, cause_type, cause_id, reason,
                 f"Spent {points} points ({cause_type} {cause_id})")


def adjust(session: Session, *, actor: Actor, profile_id: int, points: int, reason: str, channel: str | None = None,
           cause_type: str = "manual", cause_id: str | None = None) -> LoyaltyEntry:
    """Correct a balance by signed points with a reason; never below 0. Lifetime points and tier stay."""
    profile = _profile(session, actor, profile_id)
    if not (reason or "").strip():
        raise Invalid("An adjustment says why", field="reason", code="reason_required")
    if points == 0 or abs(points) > MAX_POINTS:
        raise Invalid(f"An adjustment moves 1 to {MAX_POINTS} points, up or down", field="points",
                      code="invalid_points")
    cause_id = cause_id or uuid.uuid4().hex[:16]
    _check_cause(cause_type, cause_id)
    channel = require_channel(session, channel).code if channel is not None else actor.channel
    account(session, profile.id)
    balance = _debit(session, profile.id, -points) if points < 0 else _change(session, profile.id, points=points)[0]
    return _book(session, actor, profile.id, "adjust", points, balance, channel, cause_type, cause_id, reason,
                 f"Points adjusted by {points:+d}: {reason}")


def reverse(session: Session, *, actor: Actor, profile_id: int, cause_type: str, cause_id: str, reason: str,
            points: int | None = None, channel: str | None = None,
            programme: tiers.Rules | None = None) -> LoyaltyEntry:
    """Take back points a cause earned (a returned order): all that is left of them, or `points` of them.

    A cause gives back at most what it earned minus what its earlier reversals took; `points` above that
    is capped. If the balance no longer covers it (the points were spent), the balance goes to 0 and the
    rest is not recovered now: the entry's reason says how many points were short, and a later reversal of
    the same cause may still take them. With nothing left to take: 409 `nothing_to_reverse`; with a balance
    of 0: 409 `insufficient_points`. Lifetime points, and so the tier, drop by what was taken.
    """
    programme = programme or rules()
    profile = _profile(session, actor, profile_id)
    if not (reason or "").strip():
        raise Invalid("A reversal says why", field="reason", code="reason_required")
    _check_cause(cause_type, cause_id)
    if points is not None:
        _check_points(points)
    channel = require_channel(session, channel).code if channel is not None else actor.channel
    locked = account(session, profile.id)
    earned = _sum_for_cause(session, profile.id, "earn", cause_type, cause_id)
    left = earned + _sum_for_cause(session, profile.id, "reverse", cause_type, cause_id)
    wanted = left if points is None else min(points, left)
    if wanted <= 0:
        raise Conflict(f"{cause_type} {cause_id} has no earned points left to take back", code="nothing_to_reverse",
                       earned=earned, reversed=earned - left)
    if locked.balance == 0:
        raise _insufficient(wanted, 0)
    taken = min(wanted, locked.balance)
    shortfall = wanted - taken
    note = reason if not shortfall else f"{reason} ({shortfall} of {wanted} points not recovered: balance too low)"
    balance, lifetime = _change(session, profile.id, points=-taken, lifetime=-min(taken, locked.lifetime_earned))
    entry = _book(session, actor, profile.id, "reverse", -taken, balance, channel, cause_type, cause_id, note,
                  f"{taken} points taken back ({cause_type} {cause_id})", {"wanted": wanted, "shortfall": shortfall})
    _sync_tier(session, actor, profile.id, locked.tier, lifetime, programme, channel)
    return entry


def points_earned(session: Session, profile_id: int, *, cause_type: str, cause_id: str) -> int:
    """Points a cause earned the person (through any profile merged into theirs)."""
    return _sum_for_cause(session, profile_id, "earn", cause_type, cause_id)


def holders(session: Session, profile_ids: list[int]) -> set[int]:
    """Which of these profiles have a loyalty account at all (the rest have nothing to move)."""
    if not profile_ids:
        return set()
    return set(session.scalars(select(LoyaltyAccount.profile_id).where(LoyaltyAccount.profile_id.in_(profile_ids))))


def move_points(session: Session, *, actor: Actor, from_profile_id: int, to_profile_id: int, points: int | None,
                cause_type: str, cause_id: str, lifetime: bool = True,
                programme: tiers.Rules | None = None) -> int:
    """Move points between two profiles (a merge, an unmerge); returns the points moved.

    `points` None moves the whole balance; more than the balance moves the balance. With `lifetime`,
    lifetime points follow: cause "merge" adds the absorbed (from) profile's lifetime points to the
    survivor's and leaves them on the absorbed account as the record of what it brought; cause "unmerge"
    takes that many back off the survivor (from) again (at most what it has); any other cause moves as many
    lifetime points as points. Both account rows are locked in profile id order. The ids are used as given
    (merged profiles are not followed).
    """
    programme = programme or rules()
    if from_profile_id == to_profile_id:
        raise Invalid("Points move between two different profiles", field="to_profile_id", code="same_profile")
    if points is not None and not 0 <= points <= MAX_POINTS:
        raise Invalid(f"Move 0 to {MAX_POINTS} points", field="points", code="invalid_points")
    _check_cause(cause_type, cause_id)
    locked = {pid: _lock(session, pid) for pid in sorted((from_profile_id, to_profile_id))}
    source, target = locked[from_profile_id], locked[to_profile_id]
    if source is None:
        return 0
    moved = source.balance if points is None else min(points, source.balance)
    lifetime_in = lifetime_out = 0
    if lifetime and cause_type == "merge":
        lifetime_in = source.lifetime_earned
    elif lifetime and cause_type == "unmerge":
        lifetime_out = min(source.lifetime_earned, target.lifetime_earned if target else 0)
    elif lifetime:
        lifetime_in = lifetime_out = min(moved, source.lifetime_earned)
    if not (moved or lifetime_in or lifetime_out):
        return 0
    target = target or account(session, to_profile_id)
    out_balance, out_lifetime = _change(session, from_profile_id, points=-moved, lifetime=-lifetime_out)
    in_balance, in_lifetime = _change(session, to_profile_id, points=moved, lifetime=lifetime_in)
    data = {"from_customer_id": from_profile_id, "to_customer_id": to_profile_id,
            "lifetime_out": lifetime_out, "lifetime_in": lifetime_in}
    channel = actor.channel
    _book(session, actor, from_profile_id, "transfer_out", -moved, out_balance, channel, cause_type, cause_id,
          None, f"{moved} points moved to customer {to_profile_id} ({cause_type})", data)
    _book(session, actor, to_profile_id, "transfer_in", moved, in_balance, channel, cause_type, cause_id,
          None, f"{moved} points moved from customer {from_profile_id} ({cause_type})", data)
    _sync_tier(session, actor, from_profile_id, source.tier, out_lifetime, programme, channel)
    _sync_tier(session, actor, to_profile_id, target.tier, in_lifetime, programme, channel)
    return moved


# --- rewards --------------------------------------------------------------------------------------


def create_reward(session: Session, *, actor: Actor, code: str, name: str, points: int,
                  sku: str | None = None) -> Reward:
    """Offer a reward for points; a gift reward (a SKU of a gift product) hands out one unit."""
    _check_points(points)
    product = None
    if sku is not None:
        product = get_product(session, sku, field="sku")
        if not product.is_gift:
            raise Invalid(f"{sku} is not a gift product", field="sku", code="not_a_gift")
    if session.scalar(select(Reward.id).where(Reward.code == code)) is not None:
        raise Conflict(f"A reward {code!r} already exists", code="duplicate_reward")
    reward = Reward(code=code, name=name, points=points, product_id=product.id if product else None, active=True,
                    created_at=utcnow())
    session.add(reward)
    session.flush()
    data = {"code": code, "name": name, "points": points, "sku": sku}
    audit.record(session, actor, "loyalty.reward_created", "loyalty_reward", code, data)
    emit(session, Event("loyalty.reward_created", "loyalty_reward", code, data))
    return reward


def list_rewards(session: Session, *, limit: int, after_id: int = 0, active: bool | None = True) -> list[Reward]:
    """List rewards in the order they were created."""
    query = select(Reward).where(Reward.id > after_id)
    if active is not None:
        query = query.where(Reward.active.is_(active))
    return list(session.scalars(query.order_by(Reward.id).limit(limit)))


def get_reward(session: Session, code: str) -> Reward:
    """Return the reward with this code or raise `unknown_reward`."""
    reward = session.scalar(select(Reward).where(Reward.code == code))
    if reward is None:
        raise NotFound(f"No reward {code!r}", code="unknown_reward")
    return reward


def reward_sku(session: Session, reward: Reward) -> str | None:
    return session.scalar(select(Product.sku).where(Product.id == reward.product_id)) if reward.product_id else None


def redeem(session: Session, *, actor: Actor, profile_id: int, reward_code: str, location_id: str | None = None,
           channel: str) -> Redemption:
    """Spend a reward's points; a gift reward also hands out one unit at `location_id`, or nothing happens.

    A gift running out at the location under the `hide` policy, or none there: 409 `reward_unavailable`.
    """
    profile = _profile(session, actor, profile_id)
    channel = require_channel(session, channel).code
    reward = get_reward(session, reward_code)
    if not reward.active:
        raise Conflict(f"Reward {reward.code!r} is no longer offered", code="reward_unavailable", why="inactive")
    sku = reward_sku(session, reward)
    if sku is not None:
        if location_id is None:
            raise Invalid("A gift reward is handed out at a location", field="location_id", code="location_required")
        location_id = get_location(session, location_id, field="location_id").id
        if actor.role is not Role.CUSTOMER:
            actor.require_location(location_id)
    redemption_id = uuid.uuid4().hex[:16]
    cause_id = f"{reward.code}:{redemption_id}"
    # Every refusal comes before the first change, so a caller that catches one has nothing to undo.
    balance = account(session, profile.id).balance
    if balance < reward.points:
        raise _insufficient(reward.points, balance)
    if sku is not None:
        try:
            inventory.hand_out(session, actor=actor, location_id=location_id or "", sku=sku,
                               cause=inventory.Cause("reward", cause_id))
        except Conflict as refusal:
            if refusal.code != "gift_unavailable":
                raise
            raise Conflict(f"Reward {reward.code!r} cannot be handed out at {location_id} now: {refusal.detail}",
                           code="reward_unavailable", **refusal.extra) from None
    balance = _debit(session, profile.id, reward.points)
    entry = _book(session, actor, profile.id, "redeem", -reward.points, balance, channel, "reward", cause_id,
                  reward.name, f"Redeemed {reward.name} for {reward.points} points",
                  {"reward": reward.code, "redemption_id": redemption_id, "location_id": location_id, "sku": sku},
                  event="loyalty.redeemed")
    return Redemption(redemption_id, reward, entry, location_id if sku else None, sku)


# --- the parts every movement shares --------------------------------------------------------------


def _profile(session: Session, actor: Actor, profile_id: int) -> Profile:
    """The active profile `profile_id` is now, if `actor` may act on it."""
    profile = get_profile(session, actor, profile_id)
    if profile.status != "active":
        raise Conflict(f"Customer {profile.id} was erased", code="profile_erased")
    return profile


def _check_points(points: int) -> None:
    if not 0 < points <= MAX_POINTS:
        raise Invalid(f"Points are a whole number from 1 to {MAX_POINTS}", field="points", code="invalid_points")


def _check_cause(cause_type: str, cause_id: str | None) -> None:
    if not (cause_type or "").strip() or len(cause_type) > 20:
        raise Invalid("A cause type is 1 to 20 characters", field="cause.type", code="invalid_cause")
    if not (cause_id or "").strip() or len(cause_id or "") > 100:
        raise Invalid("A cause id is 1 to 100 characters", field="cause.id", code="invalid_cause")


def _family(session: Session, profile_id: int) -> list[int]:
    """The profile and every profile merged into it, directly or through others."""
    ids, frontier = [profile_id], [profile_id]
    for _ in range(MAX_MERGE_HOPS):
        frontier = list(session.scalars(select(Profile.id).where(Profile.merged_into_id.in_(frontier))))
        if not frontier:
            break
        ids += frontier
    return ids


def _sum_for_cause(session: Session, profile_id: int, kind: str, cause_type: str, cause_id: str) -> int:
    """Points of one kind booked for a cause on the profile and the profiles merged into it."""
    total = session.scalar(select(func.sum(LoyaltyEntry.points)).where(
        LoyaltyEntry.cause_type == cause_type, LoyaltyEntry.cause_id == cause_id, LoyaltyEntry.kind == kind,
        LoyaltyEntry.profile_id.in_(_family(session, profile_id))))
    return int(total or 0)


def _refuse_repeated_cause(session: Session, profile_id: int, kind: str, cause_type: str, cause_id: str) -> None:
    found = session.scalar(select(LoyaltyEntry.id).where(
        LoyaltyEntry.cause_type == cause_type, LoyaltyEntry.cause_id == cause_id, LoyaltyEntry.kind == kind,
        LoyaltyEntry.profile_id.in_(_family(session, profile_id))).limit(1))
    if found is not None:
        raise Conflict(f"Points were already {'earned' if kind == 'earn' else 'spent'} for {cause_type} {cause_id}",
                       code="duplicate_cause", entry_id=found)


def _debit(session: Session, profile_id: int, points: int) -> int:
    """Take points off in one guarded statement; the new balance, or 409 `insufficient_points`."""
    found = session.execute(update(ACCOUNTS).where(ACCOUNTS.c.profile_id == profile_id, ACCOUNTS.c.balance >= points)
                            .values(balance=ACCOUNTS.c.balance - points, updated_at=utcnow())
                            .returning(ACCOUNTS.c.balance)).one_or_none()
    if found is None:
        raise _insufficient(points, session.scalar(select(ACCOUNTS.c.balance)
                                                   .where(ACCOUNTS.c.profile_id == profile_id)) or 0)
    return int(found.balance)


def _insufficient(points: int, balance: int) -> Conflict:
    return Conflict(f"{points} points asked for, {balance} there", code="insufficient_points", balance=balance,
                    requested=points)


def _change(session: Session, profile_id: int, *, points: int, lifetime: int = 0) -> tuple[int, int]:
    """Add signed points and lifetime points in one guarded statement (both stay within 0..MAX_BALANCE)."""
    c = ACCOUNTS.c
    # Bounds computed here, not in SQL: `balance + points` could overflow a 32-bit integer on PostgreSQL.
    guard = [c.balance <= MAX_BALANCE - points if points >= 0 else c.balance >= -points,
             c.lifetime_earned <= MAX_BALANCE - lifetime if lifetime >= 0 else c.lifetime_earned >= -lifetime]
    found = session.execute(update(ACCOUNTS).where(c.profile_id == profile_id, *guard)
                            .values(balance=c.balance + points, lifetime_earned=c.lifetime_earned + lifetime,
                                    updated_at=utcnow())
                            .returning(c.balance, c.lifetime_earned)).one_or_none()
    if found is None:
        raise Conflict(f"An account holds 0 to {MAX_BALANCE} points", code="points_limit")
    return int(found.balance), int(found.lifetime_earned)


def _book(session: Session, actor: Actor, profile_id: int, kind: str, points: int, balance: int,
          channel: str | None, cause_type: str, cause_id: str, reason: str | None, summary: str,
          extra: dict[str, Any] | None = None, *, event: str | None = None) -> LoyaltyEntry:
    """Append the ledger entry of a movement, with its audit record, timeline entry and event."""
    entry = LoyaltyEntry(profile_id=profile_id, points=points, balance_after=balance, kind=kind, reason=reason,
                         cause_type=cause_type, cause_id=cause_id, channel=channel, actor=actor.name, at=utcnow())
    session.add(entry)
    session.flush()
    event = event or EVENTS[kind]
    data = {"customer_id": profile_id, "entry_id": entry.id, "kind": kind, "points": points, "balance": balance,
            "cause": {"type": cause_type, "id": cause_id}, "channel": channel, **(extra or {})}
    audit.record(session, actor, event, "loyalty_account", str(profile_id), data, note=reason)
    add_timeline(session, profile_id, kind=f"loyalty_{kind}", summary=summary, actor=actor, channel=channel,
                 data=data)
    emit(session, Event(event, "loyalty_account", str(profile_id), data))
    return entry


EVENTS = {"earn": "loyalty.earned", "spend": "loyalty.spent", "adjust": "loyalty.adjusted",
          "reverse": "loyalty.reversed", "redeem": "loyalty.redeemed", "transfer_out": "loyalty.transferred",
          "transfer_in": "loyalty.transferred"}


def _sync_tier(session: Session, actor: Actor, profile_id: int, before: str, lifetime: int,
               programme: tiers.Rules, channel: str | None) -> None:
    """Store the tier the lifetime points now reach; a change goes on the timeline."""
    tier = tiers.tier_for(lifetime, programme.tiers)
    if tier == before:
        return
    session.execute(update(ACCOUNTS).where(ACCOUNTS.c.profile_id == profile_id).values(tier=tier))
    data = {"customer_id": profile_id, "from": before, "to": tier, "lifetime_earned": lifetime}
    audit.record(session, actor, "loyalty.tier_changed", "loyalty_account", str(profile_id), {"tier": data})
    add_timeline(session, profile_id, kind="tier_changed", summary=f"Loyalty tier {before} → {tier}", actor=actor,
                 channel=channel, data=data)
    emit(session, Event("loyalty.tier_changed", "loyalty_account", str(profile_id), data))
