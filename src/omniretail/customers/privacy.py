"""Consent per purpose and channel, export of everything held on a person, and erasure.

Erasure removes the person, not the business: loyalty ledger amounts, audit entries (which
hold ids, never personal data) and, as they land, orders and payments stay; names, contact
details, identities, addresses and consents go. Domains holding personal data of their own
register an eraser with `register_eraser`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from omniretail.channels.service import require_channel
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Invalid
from omniretail.core.models import ApiKey
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor, auth_cache
from omniretail.customers.models import (
    Address,
    BlockingKey,
    Consent,
    Identity,
    Merge,
    Profile,
    Suggestion,
    TimelineEntry,
)
from omniretail.customers.profiles import add_timeline, merged_in, require_active

PURPOSES = ("marketing", "personalisation", "analytics", "service")
ALL_CHANNELS = "all"
Eraser = Callable[[Session, list[int]], None]
ERASERS: list[Eraser] = []


def register_eraser(eraser: Eraser) -> None:
    """Let another domain scrub the personal data it holds on erased profiles."""
    if eraser not in ERASERS:
        ERASERS.append(eraser)


@dataclass(frozen=True)
class ConsentDecision:
    purpose: str
    channel: str
    granted: bool
    wording_version: str


def record_consents(session: Session, *, actor: Actor, profile: Profile, decisions: list[ConsentDecision],
                    source_channel: str) -> list[Consent]:
    """Record consent decisions (each one kept; the latest per purpose and channel is in force)."""
    require_active(profile)
    require_channel(session, source_channel, field="source_channel")
    rows, now = [], utcnow()
    for i, decision in enumerate(decisions):
        if decision.purpose not in PURPOSES:
            raise Invalid(f"Unknown purpose {decision.purpose!r}; one of {', '.join(PURPOSES)}",
                          field=f"consents.{i}.purpose", code="invalid_purpose")
        if decision.channel != ALL_CHANNELS:
            require_channel(session, decision.channel, field=f"consents.{i}.channel")
        rows.append(Consent(profile_id=profile.id, purpose=decision.purpose, channel=decision.channel,
                            granted=decision.granted, wording_version=decision.wording_version,
                            source_channel=source_channel, actor=actor.name, recorded_at=now))
    session.add_all(rows)
    session.flush()
    for row in rows:
        verb = "given" if row.granted else "withdrawn"
        add_timeline(session, profile.id, kind=f"consent_{verb}", actor=actor, channel=source_channel,
                     summary=f"Consent to {row.purpose} via {row.channel} {verb} (wording {row.wording_version})",
                     data={"consent_id": row.id, "purpose": row.purpose, "channel": row.channel})
    changes = [{"purpose": r.purpose, "channel": r.channel, "granted": r.granted} for r in rows]
    audit.record(session, actor, "customer.consent_recorded", "customer", str(profile.id), {"consents": changes})
    emit(session, Event("customer.consent_changed", "customer", str(profile.id), {"consents": changes}))
    return rows


def consent_history(session: Session, profile_id: int, *, purpose: str | None = None) -> list[Consent]:
    query = select(Consent).where(Consent.profile_id == profile_id)
    if purpose is not None:
        query = query.where(Consent.purpose == purpose)
    return list(session.scalars(query.order_by(Consent.id.desc())))


def current_consents(session: Session, profile_id: int) -> list[Consent]:
    """The decision in force for each purpose and channel the person ever answered."""
    latest: dict[tuple[str, str], Consent] = {}
    for row in consent_history(session, profile_id):
        latest.setdefault((row.purpose, row.channel), row)
    return sorted(latest.values(), key=lambda c: (c.purpose, c.channel))


def has_consent(session: Session, profile_id: int, *, purpose: str, channel: str) -> bool:
    """Whether the person allows `purpose` on `channel` (a channel's own answer beats one for all channels)."""
    answers = {c.channel: c.granted for c in current_consents(session, profile_id) if c.purpose == purpose}
    if channel in answers:
        return answers[channel]
    return answers.get(ALL_CHANNELS, False)


def _row(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out = {}
    for column in obj.__table__.columns:
        if column.key in skip:
            continue
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def export(session: Session, profile: Profile) -> dict[str, Any]:
    """Everything held on the person, as one JSON document."""
    from omniretail.loyalty.models import LoyaltyAccount, LoyaltyEntry

    pid = profile.id
    absorbed = list(session.scalars(select(Profile).where(Profile.id.in_(merged_in(session, pid)))
                                    .order_by(Profile.id)))

    def rows(model: Any, *where: Any, order: Any = None) -> list[dict[str, Any]]:
        query = select(model).where(*where).order_by(order if order is not None else model.id)
        return [_row(r) for r in session.scalars(query)]

    account = session.get(LoyaltyAccount, pid)
    return {
        "exported_at": utcnow().isoformat(),
        "profile": _row(profile, skip=("search_name",)),
        "merged_profiles": [_row(p, skip=("search_name",)) for p in absorbed],
        "identities": rows(Identity, Identity.profile_id == pid),
        "addresses": rows(Address, Address.profile_id == pid),
        "consents": rows(Consent, Consent.profile_id == pid),
        "loyalty": {"account": _row(account) if account else None,
                    "entries": rows(LoyaltyEntry, LoyaltyEntry.profile_id == pid)},
        "merges": rows(Merge, or_(Merge.survivor_id == pid, Merge.absorbed_id == pid)),
        "timeline": rows(TimelineEntry, TimelineEntry.profile_id == pid),
    }


def erase(session: Session, *, actor: Actor, profile: Profile, reason: str | None = None) -> bool:
    """Anonymise the person (and the profiles merged into them); orders, payments and ledgers keep their amounts.
    Returns False when the profile was already erased (erasing twice is harmless)."""
    if profile.status == "erased":
        return False
    ids = [profile.id, *merged_in(session, profile.id)]
    now = utcnow()
    session.execute(update(Profile).where(Profile.id.in_(ids)).values(
        given_name=None, family_name=None, date_of_birth=None, language=None, preferred_channel=None, email=None,
        phone=None, search_name=None, erased_at=now, updated_at=now))
    session.execute(update(Profile).where(Profile.id == profile.id).values(status="erased"))
    session.execute(update(Profile).where(Profile.id.in_(ids), Profile.status == "merged").values(status="erased"))
    for model in (Identity, Address, Consent, BlockingKey):
        session.execute(delete(model).where(model.profile_id.in_(ids)))
    session.execute(update(TimelineEntry).where(TimelineEntry.profile_id.in_(ids))
                    .values(summary="(erased)", data={}))
    session.execute(update(Merge).where(or_(Merge.survivor_id.in_(ids), Merge.absorbed_id.in_(ids)))
                    .values(moved={}))  # the record of moved rows held copies of identities
    session.execute(update(Suggestion).where(or_(Suggestion.a_id.in_(ids), Suggestion.b_id.in_(ids)),
                                             Suggestion.status == "pending")
                    .values(status="obsolete", decided_at=now, decided_by=actor.name))
    session.execute(update(ApiKey).where(ApiKey.customer_id.in_([str(i) for i in ids]), ApiKey.revoked_at.is_(None))
                    .values(revoked_at=now))
    auth_cache.clear()  # as revoking a key does: the person's keys stop working here at once
    for eraser in ERASERS:
        eraser(session, ids)
    session.expire_all()
    add_timeline(session, profile.id, kind="erased", summary="Personal data erased", actor=actor)
    audit.record(session, actor, "customer.erased", "customer", str(profile.id), {"profiles": ids}, note=reason)
    emit(session, Event("customer.erased", "customer", str(profile.id), {"profiles": ids}))
    return True
