"""Merge two profiles of one person, undo a merge, and the queue of suggested duplicates.

A merge moves every row the absorbed profile owns to the survivor and records the moved row
ids, so that an unmerge can put exactly those rows back. Domains that own rows per customer
(orders, carts, conversations) register their table with `register_owned`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from omniretail.core import audit
from omniretail.core.bulk import allocate_ids, among, insert_rows, update_from_rows
from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, NotFound
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.outbox import Event, emit, event_row
from omniretail.core.security import Actor
from omniretail.customers.matching import MatchResult
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
from omniretail.customers.profiles import (
    add_timeline,
    persons,
    refresh_keys,
    refresh_keys_many,
    resolve,
    search_name,
)

#: (table, column holding the profile id) of every row that follows its person through a merge.
OWNED: list[tuple[Table, str]] = [(Identity.__table__, "profile_id"), (Address.__table__, "profile_id"),
                                  (Consent.__table__, "profile_id"), (TimelineEntry.__table__, "profile_id")]
FILLABLE = ("given_name", "family_name", "date_of_birth", "language", "preferred_channel", "email", "phone")


def register_owned(table: Table, column: str) -> None:
    """Let merges carry another domain's rows (orders, carts, conversations) along with the person."""
    if (table, column) not in OWNED:
        OWNED.append((table, column))


def _lock_pair(session: Session, first_id: int, second_id: int) -> tuple[Profile, Profile]:
    locked = _lock(session, [first_id, second_id])
    return locked[first_id], locked[second_id]


def _lock(session: Session, ids: list[int]) -> dict[int, Profile]:
    """Lock profile rows in id order, so two merges never wait on each other in a circle."""
    found = session.scalars(select(Profile).where(among(session, Profile.id, sorted(set(ids)))).order_by(Profile.id)
                            .with_for_update().execution_options(populate_existing=True))
    return {p.id: p for p in found}


def _mergeable(survivor: Profile, absorbed: Profile) -> None:
    if survivor.id == absorbed.id:
        raise Conflict(f"Customer {absorbed.id} is already the same profile as {survivor.id}", code="same_profile")
    for profile in (survivor, absorbed):
        if profile.status == "erased":
            raise Conflict(f"Customer {profile.id} was erased and cannot take part in a merge",
                           code="profile_erased")


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _drop_double_identities(session: Session, plan: list[tuple[Profile, Profile]]) -> dict[int, list[dict]]:
    """A shared phone both profiles hold: keep the survivor's row, remember the other to restore it on unmerge."""
    ids = {p.id for pair_ in plan for p in pair_}
    held: dict[int, set[tuple[str, str]]] = {}
    rows: dict[int, list[Any]] = {}
    table = Identity.__table__
    # Only shared kinds can be held twice: the unique index keeps every other kind to one profile.
    for identity in session.execute(select(table).where(among(session, table.c.profile_id, ids),
                                                        ~table.c.exclusive)):
        held.setdefault(identity.profile_id, set()).add((identity.type, identity.value))
        rows.setdefault(identity.profile_id, []).append(identity)
    dropped: dict[int, list[dict]] = {}
    for survivor, absorbed in plan:
        mine = held.setdefault(survivor.id, set())
        doubles = [i for i in rows.get(absorbed.id, []) if (i.type, i.value) in mine]
        mine.update((i.type, i.value) for i in rows.get(absorbed.id, []))
        if doubles:
            dropped[absorbed.id] = [{key: _plain(value) for key, value in i._mapping.items()} for i in doubles]
    doomed = [row["id"] for rows_ in dropped.values() for row in rows_]
    if doomed:
        session.execute(delete(Identity.__table__).where(among(session, Identity.__table__.c.id, doomed)))
    return dropped


def _move_rows(session: Session, plan: list[tuple[Profile, Profile]]) -> dict[int, dict[str, Any]]:
    """Move every owned row of each absorbed profile to its survivor; the moved ids per absorbed profile."""
    moved: dict[int, dict[str, Any]] = {absorbed.id: {} for _, absorbed in plan}
    for absorbed_id, rows in _drop_double_identities(session, plan).items():
        moved[absorbed_id]["dropped_identities"] = rows
    survivors = {absorbed.id: survivor.id for survivor, absorbed in plan}
    with_default = set(session.scalars(select(Address.profile_id).where(
        among(session, Address.profile_id, set(survivors.values())), Address.is_default)))
    for absorbed_id, address_id in session.execute(select(Address.profile_id, Address.id).where(
            among(session, Address.profile_id, survivors), Address.is_default)):
        if survivors[absorbed_id] in with_default:
            moved[absorbed_id].setdefault("default_addresses", []).append(address_id)
        with_default.add(survivors[absorbed_id])
    demoted = [i for m in moved.values() for i in m.get("default_addresses", [])]
    if demoted:
        addresses = Address.__table__
        session.execute(update(addresses).where(among(session, addresses.c.id, demoted)).values(is_default=False))
    for table, owner_column in OWNED:
        rows = session.execute(select(table.c.id, table.c[owner_column])
                               .where(among(session, table.c[owner_column], survivors))).all()
        for row_id, owner in rows:
            moved[owner].setdefault(table.name, []).append(row_id)
        if rows:
            owners = [(a, s) for a, s in survivors.items() if moved[a].get(table.name)]
            update_from_rows(session, table.name, f"{table.name}.{owner_column} = m.a", {owner_column: "b"},
                           {"a": ("integer", [a for a, _ in owners]), "b": ("integer", [b for _, b in owners])})
    return moved


def merge(session: Session, *, actor: Actor, survivor_id: int, absorbed_id: int, source: str = "staff",
          probability: float | None = None, reason: str | None = None) -> Merge:
    """Merge the absorbed profile into the survivor: its identities, addresses, consents, history and points."""
    survivor, absorbed = resolve(session, survivor_id), resolve(session, absorbed_id)
    _mergeable(survivor, absorbed)
    return merge_many(session, actor=actor, pairs=[(survivor.id, absorbed.id, probability)], source=source,
                      reason=reason)[0]


def merge_many(session: Session, *, actor: Actor, pairs: list[tuple[int, int, float | None]], source: str,
               reason: str | None = None) -> list[Merge]:
    """Merge many (survivor, absorbed, probability) pairs of active profiles in one pass (the batch dedupe)."""
    from omniretail.loyalty import service as loyalty

    absorbed_ids = [a_id for _, a_id, _ in pairs]
    if len(set(absorbed_ids)) != len(absorbed_ids) or set(absorbed_ids) & {s_id for s_id, _, _ in pairs}:
        raise ValueError("each profile may be absorbed once, and not also survive, in one merge_many call")
    session.flush()
    locked = _lock(session, [pid for s_id, a_id, _ in pairs for pid in (s_id, a_id)])
    plan = []
    for s_id, a_id, _ in pairs:
        if s_id not in locked or a_id not in locked:
            raise NotFound(f"No customer {a_id if s_id in locked else s_id}", code="unknown_customer")
        survivor, absorbed = locked[s_id], locked[a_id]
        _mergeable(survivor, absorbed)
        if survivor.status != "active" or absorbed.status != "active":
            raise Conflict(f"Customer {absorbed.id if absorbed.status != 'active' else survivor.id} was merged "
                           "already", code="profile_merged")
        plan.append((survivor, absorbed))
    moved = _move_rows(session, plan)
    now = utcnow()
    ids = allocate_ids(session, Merge.__table__, len(plan))
    changed: dict[int, dict[str, Any]] = {}
    for survivor, absorbed in plan:
        values_ = changed.setdefault(survivor.id, {name: getattr(survivor, name) for name in FILLABLE})
        filled = [name for name in FILLABLE if values_[name] is None and getattr(absorbed, name) is not None]
        for name in filled:
            values_[name] = getattr(absorbed, name)
        moved[absorbed.id]["filled"] = filled
    with_points = loyalty.holders(session, [a.id for _, a in plan])
    for (survivor, absorbed), merge_id in zip(plan, ids, strict=True):
        if absorbed.id in with_points:
            points = loyalty.move_points(session, actor=actor, from_profile_id=absorbed.id,
                                         to_profile_id=survivor.id, points=None, cause_type="merge",
                                         cause_id=str(merge_id))
            if points:
                moved[absorbed.id]["loyalty_points"] = points
    insert_rows(session, Merge.__table__, [
        {"id": merge_id, "survivor_id": survivor.id, "absorbed_id": absorbed.id, "source": source, "reason": reason,
         "probability": probability, "moved": moved[absorbed.id], "actor": actor.name, "channel": actor.channel,
         "merged_at": now, "undone_at": None, "undone_by": None}
        for (survivor, absorbed), merge_id, (_, _, probability) in zip(plan, ids, pairs, strict=True)])
    _mark_merged(session, plan, changed, now)
    records = list(session.scalars(select(Merge).where(among(session, Merge.id, ids)).order_by(Merge.id)))
    _settle_suggestions(session, actor, [(r.survivor_id, r.absorbed_id) for r in records], "merged")
    _after_merge(session, actor, records, {p.id: p for pair_ in plan for p in pair_})
    session.flush()
    session.expire_all()  # rows moved by bulk statements: reload what the session holds
    return records


def _mark_merged(session: Session, plan: list[tuple[Profile, Profile]], survivors: dict[int, dict[str, Any]],
                 now: Any) -> None:
    """Absorbed profiles point at their survivor; survivors take the blanks filled from them (set-based)."""
    update_from_rows(session, "customers", "customers.id = m.a", {"merged_into_id": "b"},
                   {"a": ("integer", [a.id for _, a in plan]), "b": ("integer", [s.id for s, _ in plan])},
                   {"status": "merged", "updated_at": now})
    by_id = {s.id: s for s, _ in plan}
    names = (*FILLABLE, "search_name")
    rows = []
    for pid, fields in survivors.items():
        fields["search_name"] = search_name(fields["given_name"], fields["family_name"])
        for name, value in fields.items():
            set_committed_value(by_id[pid], name, value)  # what the keys are computed from below
        rows.append((pid, *(fields[name] for name in names)))
    kinds = {name: "date" if name == "date_of_birth" else "text" for name in names}
    update_from_rows(session, "customers", "customers.id = m.id", {name: name for name in names},
                   {"id": ("integer", [r[0] for r in rows])}
                   | {name: (kinds[name], [r[i + 1] for r in rows]) for i, name in enumerate(names)},
                   {"updated_at": now})


def _after_merge(session: Session, actor: Actor, records: list[Merge], profiles: dict[int, Profile]) -> None:
    absorbed_ids = [r.absorbed_id for r in records]
    keys = BlockingKey.__table__
    session.execute(delete(keys).where(among(session, keys.c.profile_id, absorbed_ids)))
    survivors = [profiles[pid] for pid in dict.fromkeys(r.survivor_id for r in records)]
    refresh_keys_many(session, persons(session, survivors))
    now = utcnow()
    timeline, audits, events = [], [], []
    for r in records:
        timeline.append({"profile_id": r.survivor_id, "at": now, "kind": "merged", "channel": actor.channel,
                         "actor": actor.name, "summary": f"Profile {r.absorbed_id} merged into this one ({r.source})",
                         "data": {"merge_id": r.id, "absorbed_id": r.absorbed_id}})
        audits.append(audit.entry_row(actor, "customer.merged", "customer", str(r.survivor_id),
                                      {"merge_id": r.id, "absorbed_id": r.absorbed_id, "source": r.source,
                                       "probability": r.probability}, note=r.reason, at=now))
        events.append(event_row(Event("customer.merged", "customer", str(r.survivor_id),
                                      {"merge_id": r.id, "survivor_id": r.survivor_id, "absorbed_id": r.absorbed_id,
                                       "source": r.source}), occurred_at=now))
    for table, rows in ((TimelineEntry.__table__, timeline), (AuditEntry.__table__, audits),
                        (OutboxEvent.__table__, events)):
        insert_rows(session, table, rows)


def get_merge(session: Session, merge_id: int) -> Merge:
    record = session.get(Merge, merge_id)
    if record is None:
        raise NotFound(f"No merge {merge_id}", code="unknown_merge")
    return record


def unmerge(session: Session, *, actor: Actor, merge_id: int, reason: str | None = None) -> Merge:
    """Undo a merge: the absorbed profile comes back with exactly the rows and points it brought."""
    from omniretail.loyalty import service as loyalty

    record = session.get(Merge, merge_id, with_for_update=True)
    if record is None:
        raise NotFound(f"No merge {merge_id}", code="unknown_merge")
    if record.undone_at is not None:
        raise Conflict(f"Merge {merge_id} was already undone", code="merge_already_undone")
    survivor, absorbed = _lock_pair(session, record.survivor_id, record.absorbed_id)
    if survivor.status != "active" or absorbed.merged_into_id != survivor.id:
        raise Conflict(f"Profile {survivor.id} has changed since (merged on or erased); undo the later merge first",
                       code="merge_not_latest")
    moved = record.moved or {}
    for table, owner_column in OWNED:
        ids = moved.get(table.name) or []
        if ids:
            session.execute(update(table).where(table.c.id.in_(ids), table.c[owner_column] == survivor.id)
                            .values({owner_column: absorbed.id}))
    for row in moved.get("dropped_identities", []):
        session.execute(insert(Identity.__table__).values(_identity_row(row, absorbed.id)))
    if moved.get("default_addresses"):
        session.execute(update(Address).where(Address.id.in_(moved["default_addresses"]),
                                              Address.profile_id == absorbed.id).values(is_default=True))
    for name in moved.get("filled", []):
        if getattr(survivor, name) == getattr(absorbed, name):  # unless staff changed it since
            setattr(survivor, name, None)
    survivor.search_name = search_name(survivor.given_name, survivor.family_name)
    _repair_primary(session, survivor)
    now = utcnow()
    absorbed.status, absorbed.merged_into_id, absorbed.updated_at = "active", None, now
    survivor.updated_at = now
    record.undone_at, record.undone_by = now, actor.name
    # Lifetime points follow even when no spendable points came along.
    loyalty.move_points(session, actor=actor, from_profile_id=survivor.id, to_profile_id=absorbed.id,
                        points=int(moved.get("loyalty_points") or 0), cause_type="unmerge", cause_id=str(record.id))
    _settle_suggestion(session, actor, survivor.id, absorbed.id, "rejected", create=True)
    session.flush()
    both = persons(session, [survivor, absorbed])
    for profile in (survivor, absorbed):
        refresh_keys(session, profile.id, both[profile.id])
        add_timeline(session, profile.id, kind="unmerged", actor=actor, summary=f"Merge of {absorbed.id} into "
                     f"{survivor.id} undone" + (f": {reason}" if reason else ""), data={"merge_id": record.id})
    audit.record(session, actor, "customer.unmerged", "customer", str(survivor.id),
                 {"merge_id": record.id, "absorbed_id": absorbed.id}, note=reason)
    emit(session, Event("customer.unmerged", "customer", str(survivor.id),
                        {"merge_id": record.id, "survivor_id": survivor.id, "absorbed_id": absorbed.id}))
    return record


def _identity_row(row: dict[str, Any], profile_id: int) -> dict[str, Any]:
    from datetime import datetime

    values = {k: v for k, v in row.items() if k != "id"}
    for key in ("created_at", "last_seen_at"):
        if isinstance(values.get(key), str):
            values[key] = datetime.fromisoformat(values[key])
    return {**values, "profile_id": profile_id}


def _repair_primary(session: Session, profile: Profile) -> None:
    """After rows went back, the primary e-mail and phone must be ones the profile still holds."""
    held = {(t, v) for t, v in session.execute(select(Identity.type, Identity.value)
                                               .where(Identity.profile_id == profile.id))}
    for kind in ("email", "phone"):
        current = getattr(profile, kind)
        if current is not None and (kind, current) not in held:
            setattr(profile, kind, next((v for t, v in sorted(held) if t == kind), None))


def pair(a_id: int, b_id: int) -> tuple[int, int]:
    return (a_id, b_id) if a_id < b_id else (b_id, a_id)


def _settle_suggestions(session: Session, actor: Actor, pairs: list[tuple[int, int]], status: str) -> None:
    if not pairs:
        return
    ordered = [pair(x, y) for x, y in pairs]
    update_from_rows(session, "customer_suggestions",
                   "customer_suggestions.a_id = m.a AND customer_suggestions.b_id = m.b", {},
                   {"a": ("integer", [a for a, _ in ordered]), "b": ("integer", [b for _, b in ordered])},
                   {"status": status, "decided_at": utcnow(), "decided_by": actor.name})


def _settle_suggestion(session: Session, actor: Actor, x: int, y: int, status: str, *, create: bool = False) -> None:
    a_id, b_id = pair(x, y)
    suggestion = session.scalar(select(Suggestion).where(Suggestion.a_id == a_id, Suggestion.b_id == b_id))
    if suggestion is None and create:
        suggestion = Suggestion(a_id=a_id, b_id=b_id, probability=0.0, reasons=["unmerged"], source="staff")
        session.add(suggestion)
    if suggestion is not None:
        suggestion.status, suggestion.decided_at, suggestion.decided_by = status, utcnow(), actor.name


def rejected(session: Session, x: int, y: int) -> bool:
    """Whether staff said the two profiles are different people (a rejected suggestion or an undone merge)."""
    a_id, b_id = pair(x, y)
    status = session.scalar(select(Suggestion.status).where(Suggestion.a_id == a_id, Suggestion.b_id == b_id))
    return status == "rejected"


def suggest(session: Session, *, actor: Actor, a_id: int, b_id: int, result: MatchResult, source: str) -> Suggestion:
    """Queue a pair for staff review (a pair staff already rejected stays rejected)."""
    a_id, b_id = pair(a_id, b_id)
    suggestion = session.scalar(select(Suggestion).where(Suggestion.a_id == a_id, Suggestion.b_id == b_id))
    if suggestion is not None:
        if suggestion.status == "pending" and result.probability > suggestion.probability:
            suggestion.probability, suggestion.reasons = result.probability, list(result.reasons)
        return suggestion
    suggestion = Suggestion(a_id=a_id, b_id=b_id, probability=result.probability, reasons=list(result.reasons),
                            source=source, status="pending", created_at=utcnow())
    session.add(suggestion)
    session.flush()
    audit.record(session, actor, "customer.duplicate_suggested", "customer", str(a_id),
                 {"suggestion_id": suggestion.id, "other_id": b_id, "probability": result.probability,
                  "source": source})
    return suggestion


def get_suggestion(session: Session, suggestion_id: int) -> Suggestion:
    suggestion = session.get(Suggestion, suggestion_id, with_for_update=True)
    if suggestion is None:
        raise NotFound(f"No duplicate suggestion {suggestion_id}", code="unknown_suggestion")
    return suggestion


def accept(session: Session, *, actor: Actor, suggestion_id: int, survivor_id: int | None = None) -> Merge:
    """Merge a suggested pair (the older profile survives unless staff choose)."""
    suggestion = get_suggestion(session, suggestion_id)
    if suggestion.status != "pending":
        raise Conflict(f"Suggestion {suggestion_id} is already {suggestion.status}", code="suggestion_decided")
    a, b = resolve(session, suggestion.a_id), resolve(session, suggestion.b_id)
    if survivor_id is not None and resolve(session, survivor_id).id not in (a.id, b.id):
        raise Conflict(f"Customer {survivor_id} is not part of suggestion {suggestion_id}", code="not_in_suggestion")
    survivor = resolve(session, survivor_id).id if survivor_id is not None else min(a.id, b.id)
    absorbed = b.id if survivor == a.id else a.id
    record = merge(session, actor=actor, survivor_id=survivor, absorbed_id=absorbed, source="suggestion",
                   probability=suggestion.probability)
    suggestion.status, suggestion.decided_at, suggestion.decided_by = "merged", utcnow(), actor.name
    return record


def reject(session: Session, *, actor: Actor, suggestion_id: int, reason: str | None = None) -> Suggestion:
    """Mark a suggested pair as two different people; it is not suggested again."""
    suggestion = get_suggestion(session, suggestion_id)
    if suggestion.status != "pending":
        raise Conflict(f"Suggestion {suggestion_id} is already {suggestion.status}", code="suggestion_decided")
    suggestion.status, suggestion.decided_at, suggestion.decided_by = "rejected", utcnow(), actor.name
    audit.record(session, actor, "customer.duplicate_rejected", "customer", str(suggestion.a_id),
                 {"suggestion_id": suggestion.id, "other_id": suggestion.b_id}, note=reason)
    return suggestion


def list_suggestions(session: Session, *, status: str | None, limit: int, after_id: int = 0,
                     customer_id: int | None = None) -> list[Suggestion]:
    query = select(Suggestion).where(Suggestion.id > after_id)
    if status is not None:
        query = query.where(Suggestion.status == status)
    if customer_id is not None:
        query = query.where(or_(Suggestion.a_id == customer_id, Suggestion.b_id == customer_id))
    return list(session.scalars(query.order_by(Suggestion.id).limit(limit)))


def merges_of(session: Session, profile_id: int) -> list[Merge]:
    """Merges the profile took part in, newest first."""
    query = select(Merge).where(or_(Merge.survivor_id == profile_id, Merge.absorbed_id == profile_id))
    return list(session.scalars(query.order_by(Merge.id.desc())))



