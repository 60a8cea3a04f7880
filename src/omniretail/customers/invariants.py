"""What must hold of stored customers and points (`omniretail check`)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from omniretail.customers.models import Address, BlockingKey, Consent, Identity, Profile
from omniretail.customers.profiles import MAX_MERGE_HOPS


def customer_violations(session: Session) -> list[str]:
    """Merges point at real profiles without loops; merged or erased profiles own nothing; erased ones hold no
    personal data."""
    problems: list[str] = []
    merged_into = dict(session.execute(select(Profile.id, Profile.merged_into_id).where(Profile.status == "merged")).all())
    status = dict(session.execute(select(Profile.id, Profile.status).where(
        Profile.id.in_(set(merged_into.values()) | set(merged_into)))).all())
    for pid, target in merged_into.items():
        hops, current = 0, target
        while current in merged_into and hops <= MAX_MERGE_HOPS:
            current, hops = merged_into[current], hops + 1
        if current is None or status.get(current) not in ("active", "erased"):
            problems.append(f"customer {pid} is merged into {target}, which leads nowhere")
    for model in (Identity, Address, Consent, BlockingKey):
        owners = session.scalar(select(func.count()).select_from(model).join(Profile, Profile.id == model.profile_id)
                                .where(Profile.status != "active"))
        if owners:
            problems.append(f"{owners} {model.__tablename__} row(s) belong to merged or erased profiles")
    leaked = session.scalar(select(func.count()).select_from(Profile).where(
        Profile.status == "erased", or_(Profile.given_name.is_not(None), Profile.family_name.is_not(None),
                                        Profile.email.is_not(None), Profile.phone.is_not(None),
                                        Profile.date_of_birth.is_not(None))))
    if leaked:
        problems.append(f"{leaked} erased profile(s) still hold personal data")
    return problems


def loyalty_violations(session: Session) -> list[str]:
    """Every balance is the sum of its ledger, never negative, and the last entry's balance."""
    from omniretail.loyalty.models import LoyaltyAccount, LoyaltyEntry

    problems: list[str] = []
    sums = dict(session.execute(select(LoyaltyEntry.profile_id, func.sum(LoyaltyEntry.points))
                                .group_by(LoyaltyEntry.profile_id)).all())
    last = dict(session.execute(select(LoyaltyEntry.profile_id, LoyaltyEntry.balance_after).where(
        LoyaltyEntry.id.in_(select(func.max(LoyaltyEntry.id)).group_by(LoyaltyEntry.profile_id)))).all())
    accounts = dict(session.execute(select(LoyaltyAccount.profile_id, LoyaltyAccount.balance)).all())
    for pid in sorted(set(sums) | set(accounts)):
        balance = accounts.get(pid, 0)
        if balance < 0:
            problems.append(f"customer {pid} has a negative balance {balance}")
        if (sums.get(pid) or 0) != balance:
            problems.append(f"customer {pid}: ledger sums to {sums.get(pid) or 0}, balance is {balance}")
        elif pid in last and last[pid] != balance:
            problems.append(f"customer {pid}: last entry says {last[pid]}, balance is {balance}")
    return problems
