"""What must hold of stored points (`omniretail check`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniretail.loyalty.models import LoyaltyAccount, LoyaltyEntry


def ledger_violations(session: Session) -> list[str]:
    """List every way the accounts disagree with their ledger or an entry lacks its cause (empty when sound)."""
    sums = {pid: int(total) for pid, total in session.execute(
        select(LoyaltyEntry.profile_id, func.sum(LoyaltyEntry.points)).group_by(LoyaltyEntry.profile_id))}
    latest = select(func.max(LoyaltyEntry.id)).group_by(LoyaltyEntry.profile_id)
    last = {pid: balance for pid, balance in session.execute(
        select(LoyaltyEntry.profile_id, LoyaltyEntry.balance_after).where(LoyaltyEntry.id.in_(latest)))}
    problems = []
    for pid, balance in session.execute(select(LoyaltyAccount.profile_id, LoyaltyAccount.balance)):
        total = sums.pop(pid, 0)
        if total != balance or last.get(pid, 0) != balance:
            problems.append(f"customer {pid}: balance {balance}, ledger sums to {total}, "
                            f"last entry says {last.get(pid, 0)}")
    problems += [f"customer {pid}: ledger entries without an account" for pid in sorted(sums)]
    uncaused = session.scalar(select(func.count()).select_from(LoyaltyEntry).where(
        (LoyaltyEntry.cause_type.is_(None)) | (LoyaltyEntry.cause_id.is_(None)) | (LoyaltyEntry.balance_after < 0)))
    if uncaused:
        problems.append(f"{uncaused} ledger entries without a cause or with a negative balance")
    return problems
