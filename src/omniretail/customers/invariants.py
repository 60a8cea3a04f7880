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
    merged_into = dict(session.execute(select(Profile.id, Profile.merged_into_id)
                                       .where(Profile.status == "merged")).all())
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
