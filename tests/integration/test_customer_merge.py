"""Merge and unmerge on both databases: everything a person owns follows them, and an undo puts it all back."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from omniretail.core.errors import DomainError
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM
from omniretail.customers import addresses, merging, privacy, service
from omniretail.customers import identify as identification
from omniretail.customers.addresses import AddressInput
from omniretail.customers.batch import dedupe
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
from omniretail.customers.profiles import resolve
from omniretail.loyalty import service as loyalty
from omniretail.loyalty.models import LoyaltyAccount

KASSEL = AddressInput(line1="Lindenstraße 5", city="Kassel", postcode="34117", country="DE")
BERLIN = AddressInput(line1="Torstraße 1", city="Berlin", postcode="10119", country="DE")
HAMBURG = AddressInput(line1="Elbchaussee 9", city="Hamburg", postcode="22763", country="DE")
LANDLINE = ("phone", "+49 561 123456")


def identify(db, *identities: tuple[str, ...], address: AddressInput | None = None, **attributes: Any) -> int:
    with db.write() as s:
        return identification.identify(s, actor=SYSTEM, channel="web",
                                       identities=[identification.IdentityInput(*i) for i in identities],
                                       attributes=identification.Attributes(address=address, **attributes)).profile.id


def add_address(db, profile_id: int, address: AddressInput, *, default: bool = False) -> int:
    with db.write() as s:
        fields = addresses.validate(address, field="address", default_region="DE")
        return addresses.save(s, actor=SYSTEM, profile=s.get(Profile, profile_id), fields=fields,
                              make_default=default)[0].id


def consent(db, profile_id: int, purpose: str, channel: str, granted: bool) -> None:
    with db.write() as s:
        privacy.record_consents(s, actor=SYSTEM, profile=s.get(Profile, profile_id), source_channel="web",
                                decisions=[privacy.ConsentDecision(purpose, channel, granted, "v1")])


def earn(db, profile_id: int, points: int, cause_id: str) -> None:
    with db.write() as s:
        loyalty.earn(s, actor=SYSTEM, profile_id=profile_id, points=points, channel="pos", cause_type="order",
                     cause_id=cause_id)


def spend(db, profile_id: int, points: int, cause_id: str) -> None:
    with db.write() as s:
        loyalty.spend(s, actor=SYSTEM, profile_id=profile_id, points=points, channel="pos", cause_type="order",
                      cause_id=cause_id)


def merge(db, survivor_id: int, absorbed_id: int) -> int:
    with db.write() as s:
        return merging.merge(s, actor=SYSTEM, survivor_id=survivor_id, absorbed_id=absorbed_id).id


def unmerge(db, merge_id: int) -> None:
    with db.write() as s:
        merging.unmerge(s, actor=SYSTEM, merge_id=merge_id, reason="two people")


def refusal(db, use_case) -> DomainError:
    with pytest.raises(DomainError) as info, db.write() as s:
        use_case(s)
    return info.value


def count(db, model, *where) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def timeline_ids(db, profile_id: int) -> set[int]:
    with db.read() as s:
        return set(s.scalars(select(TimelineEntry.id).where(TimelineEntry.profile_id == profile_id)))


def snapshot(db, profile_id: int) -> dict[str, Any]:
    """Everything an unmerge must restore, as plain values."""
    with db.read() as s:
        p = s.get(Profile, profile_id)
        account = s.get(LoyaltyAccount, profile_id)
        return {
            "profile": (p.status, p.merged_into_id, p.given_name, p.family_name, p.date_of_birth, p.language,
                        p.preferred_channel, p.email, p.phone, p.search_name),
            "identities": sorted((i.type, i.value, i.exclusive) for i in s.scalars(
                select(Identity).where(Identity.profile_id == profile_id))),
            "addresses": sorted((a.id, a.line1, a.is_default, a.failed_deliveries) for a in s.scalars(
                select(Address).where(Address.profile_id == profile_id))),
            "consents": sorted((c.id, c.purpose, c.channel, c.granted) for c in s.scalars(
                select(Consent).where(Consent.profile_id == profile_id))),
            "loyalty": (account.balance, account.lifetime_earned, account.tier) if account else None,
            "keys": sorted(s.scalars(select(BlockingKey.key).where(BlockingKey.profile_id == profile_id))),
        }


@pytest.fixture
def pair(db) -> tuple[int, int]:
    """Ada known to the web shop by e-mail, and Ada Lovelace known to the stores, with cards, points and consents."""
    survivor = identify(db, ("email", "ada@example.com"), given_name="Ada", address=KASSEL)
    consent(db, survivor, "marketing", "all", True)
    earn(db, survivor, 100, "web-1")
    absorbed = identify(db, ("email", "ada.lovelace@work.example"), ("loyalty_card", "C1"), LANDLINE,
                        given_name="Ada", family_name="Lovelace", date_of_birth=date(1990, 5, 17), language="en",
                        address=BERLIN)
    add_address(db, absorbed, HAMBURG)
    consent(db, absorbed, "analytics", "email", False)
    earn(db, absorbed, 950, "pos-1")
    return survivor, absorbed


# --- merge ---------------------------------------------------------------------------------------------


def test_a_merge_moves_identities_addresses_consents_timeline_and_points_to_the_survivor(db, pair):
    survivor, absorbed = pair
    history = timeline_ids(db, absorbed)
    merge_id = merge(db, survivor, absorbed)
    after = snapshot(db, survivor)
    assert after["identities"] == [("email", "ada.lovelace@work.example", True), ("email", "ada@example.com", True),
                                   ("loyalty_card", "C1", True), ("phone", "+49561123456", False)]
    assert [(line1, default) for _, line1, default, _ in after["addresses"]] == [
        ("Lindenstraße 5", True), ("Torstraße 1", False), ("Elbchaussee 9", False)]
    assert [(purpose, channel, granted) for _, purpose, channel, granted in after["consents"]] == [
        ("marketing", "all", True), ("analytics", "email", False)]
    assert after["loyalty"] == (1050, 1050, "silver")
    assert after["profile"] == ("active", None, "Ada", "Lovelace", date(1990, 5, 17), "en", None,
                                "ada@example.com", "+49561123456", "lovelace ada")
    assert history <= timeline_ids(db, survivor)
    gone = snapshot(db, absorbed)
    assert (gone["profile"][:2], gone["identities"], gone["addresses"], gone["consents"], gone["keys"]) == (
        ("merged", survivor), [], [], [], [])
    assert gone["loyalty"] == (0, 950, "member")
    with db.read() as s:
        record = s.get(Merge, merge_id)
        assert (record.survivor_id, record.absorbed_id, record.source, record.actor) == (survivor, absorbed, "staff",
                                                                                         "system")
        assert record.moved["loyalty_points"] == 950
        assert record.moved["filled"] == ["family_name", "date_of_birth", "language", "phone"]
        assert len(record.moved["customer_identities"]) == 3
        assert len(record.moved["default_addresses"]) == 1


def test_the_absorbed_id_resolves_to_the_survivor(db, pair):
    survivor, absorbed = pair
    merge(db, survivor, absorbed)
    with db.read() as s:
        assert resolve(s, absorbed).id == survivor
        assert resolve(s, survivor).id == survivor


def test_a_chain_of_merges_resolves_to_the_last_survivor(db, pair):
    survivor, absorbed = pair
    third = identify(db, ("email", "third@example.com"))
    merge(db, survivor, absorbed)
    merge(db, third, survivor)
    with db.read() as s:
        assert resolve(s, absorbed).id == third


def test_a_merge_writes_the_customer_merged_event_an_audit_entry_and_a_timeline_entry(db, pair):
    survivor, absorbed = pair
    merge_id = merge(db, survivor, absorbed)
    with db.read() as s:
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "customer.merged")).one()
        assert (event.object_type, event.object_id, event.data) == ("customer", str(survivor), {
            "merge_id": merge_id, "survivor_id": survivor, "absorbed_id": absorbed, "source": "staff"})
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.merged")).one()
        assert (entry.object_id, entry.changes) == (str(survivor), {
            "merge_id": merge_id, "absorbed_id": absorbed, "source": "staff", "probability": None})
        line = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "merged")).one()
        assert (line.profile_id, line.summary, line.data) == (
            survivor, f"Profile {absorbed} merged into this one (staff)", {"merge_id": merge_id,
                                                                           "absorbed_id": absorbed})


def test_the_absorbed_profiles_name_is_found_on_the_survivor_after_a_merge(db, pair):
    survivor, absorbed = pair
    merge(db, survivor, absorbed)
    with db.read() as s:
        assert [p.id for p in service.find(s, q="Lovelace", limit=10)] == [survivor]
        assert [p.id for p in service.find(s, q="ada.lovelace@work.example", limit=10)] == [survivor]


def test_merging_a_profile_into_itself_is_a_conflict(db, pair):
    survivor, absorbed = pair
    error = refusal(db, lambda s: merging.merge(s, actor=SYSTEM, survivor_id=survivor, absorbed_id=survivor))
    assert (error.status, error.code) == (409, "same_profile")
    merge(db, survivor, absorbed)
    error = refusal(db, lambda s: merging.merge(s, actor=SYSTEM, survivor_id=survivor, absorbed_id=absorbed))
    assert (error.status, error.code) == (409, "same_profile")
    assert count(db, Merge) == 1


def test_merging_into_or_from_an_erased_profile_is_a_conflict(db, pair):
    survivor, absorbed = pair
    with db.write() as s:
        privacy.erase(s, actor=SYSTEM, profile=s.get(Profile, absorbed))
    for survivor_id, absorbed_id in ((absorbed, survivor), (survivor, absorbed)):
        error = refusal(db, lambda s, x=survivor_id, y=absorbed_id: merging.merge(s, actor=SYSTEM, survivor_id=x,
                                                                                    absorbed_id=y))
        assert (error.status, error.code) == (409, "profile_erased")
    assert count(db, Merge) == 0


def test_merging_an_unknown_profile_is_not_found(db, pair):
    survivor, _ = pair
    error = refusal(db, lambda s: merging.merge(s, actor=SYSTEM, survivor_id=survivor, absorbed_id=999_999))
    assert (error.status, error.code) == (404, "unknown_customer")


def test_merge_many_merges_several_profiles_into_one_survivor(db, pair):
    survivor, absorbed = pair
    other = identify(db, ("email", "ada@home.example"), given_name="Ada", family_name="Lovelace", address=HAMBURG)
    earn(db, other, 40, "app-1")
    with db.write() as s:
        records = merging.merge_many(s, actor=SYSTEM, pairs=[(survivor, absorbed, 0.995), (survivor, other, None)],
                                     source="dedupe")
        found = [(r.survivor_id, r.absorbed_id, r.source, r.probability) for r in records]
    assert found == [(survivor, absorbed, "dedupe", 0.995), (survivor, other, "dedupe", None)]
    after = snapshot(db, survivor)
    assert [v for _, v, _ in after["identities"]] == ["ada.lovelace@work.example", "ada@example.com",
                                                      "ada@home.example", "C1", "+49561123456"]
    assert [(line1, default) for _, line1, default, _ in after["addresses"]] == [
        ("Lindenstraße 5", True), ("Torstraße 1", False), ("Elbchaussee 9", False), ("Elbchaussee 9", False)]
    assert after["loyalty"] == (1090, 1090, "silver")
    with db.read() as s:
        assert [(p.id, p.status, p.merged_into_id) for p in s.scalars(
            select(Profile).where(Profile.id.in_([absorbed, other])).order_by(Profile.id))] == [
            (absorbed, "merged", survivor), (other, "merged", survivor)]
    assert count(db, OutboxEvent, OutboxEvent.type == "customer.merged") == 2


def test_merge_many_refuses_a_profile_merged_already(db, pair):
    survivor, absorbed = pair
    other = identify(db, ("email", "other@example.com"))
    merge(db, survivor, absorbed)
    error = refusal(db, lambda s: merging.merge_many(s, actor=SYSTEM, pairs=[(other, absorbed, None)],
                                                     source="dedupe"))
    assert (error.status, error.code) == (409, "profile_merged")


# --- unmerge -------------------------------------------------------------------------------------------


def test_unmerge_restores_both_profiles_exactly(db, pair):
    survivor, absorbed = pair
    before = (snapshot(db, survivor), snapshot(db, absorbed))
    histories = (timeline_ids(db, survivor), timeline_ids(db, absorbed))
    unmerge(db, merge(db, survivor, absorbed))
    assert (snapshot(db, survivor), snapshot(db, absorbed)) == before
    assert histories[0] <= timeline_ids(db, survivor) and not histories[1] & timeline_ids(db, survivor)
    assert histories[1] <= timeline_ids(db, absorbed)


def test_unmerge_leaves_no_trace_of_the_absorbed_name_in_the_survivors_search(db, pair):
    survivor, absorbed = pair
    unmerge(db, merge(db, survivor, absorbed))
    with db.read() as s:
        assert [p.id for p in service.find(s, q="Lovelace", limit=10)] == [absorbed]
        assert [p.id for p in service.find(s, q="Ada", limit=10)] == [survivor]


def test_unmerge_gives_back_the_lifetime_points_a_merge_brought_even_when_they_were_spent(db):
    survivor = identify(db, ("email", "a@example.com"))
    absorbed = identify(db, ("email", "b@example.com"))
    earn(db, survivor, 100, "o-1")
    earn(db, absorbed, 1500, "o-2")
    spend(db, absorbed, 1500, "s-1")
    before = (snapshot(db, survivor)["loyalty"], snapshot(db, absorbed)["loyalty"])
    assert before == ((100, 100, "member"), (0, 1500, "silver"))
    merge_id = merge(db, survivor, absorbed)
    assert snapshot(db, survivor)["loyalty"] == (100, 1600, "silver")
    unmerge(db, merge_id)
    assert (snapshot(db, survivor)["loyalty"], snapshot(db, absorbed)["loyalty"]) == before


def test_unmerge_gives_back_only_the_points_the_survivor_still_has(db, pair):
    survivor, absorbed = pair
    merge_id = merge(db, survivor, absorbed)
    spend(db, survivor, 1000, "s-1")
    unmerge(db, merge_id)
    assert (snapshot(db, survivor)["loyalty"][0], snapshot(db, absorbed)["loyalty"][0]) == (0, 50)


def test_rows_added_to_the_survivor_after_the_merge_stay_with_it_on_unmerge(db, pair):
    survivor, absorbed = pair
    merge_id = merge(db, survivor, absorbed)
    identify(db, ("email", "ada@example.com"), ("device_id", "dev-42"))
    consent(db, survivor, "service", "sms", True)
    unmerge(db, merge_id)
    assert ("device_id", "dev-42", True) in snapshot(db, survivor)["identities"]
    assert [(p, c) for _, p, c, _ in snapshot(db, survivor)["consents"]] == [("marketing", "all"), ("service", "sms")]


def test_unmerge_marks_the_pair_rejected_so_batch_dedupe_does_not_merge_it_again(db):
    twins = {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": date(1990, 5, 17), "address": KASSEL}
    first = identify(db, ("email", "ada@example.com"), **twins)
    with db.write() as s:  # a second profile of the same facts, as an import of old data would leave it
        second = Profile(status="active", given_name="Ada", family_name="Lovelace", date_of_birth=date(1990, 5, 17))
        s.add(second)
        s.flush()
        second_id = second.id
    add_address(db, second_id, KASSEL)
    merge_id = merge(db, first, second_id)
    unmerge(db, merge_id)
    with db.read() as s:
        suggestion = s.scalars(select(Suggestion)).one()
        assert (suggestion.a_id, suggestion.b_id, suggestion.status, suggestion.source, suggestion.decided_by) == (
            first, second_id, "rejected", "staff", "system")
    report = dedupe(db, actor=SYSTEM, workers=1)
    assert (report.auto_pairs, report.merged, report.already_decided) == (0, 0, 1)
    assert count(db, Merge) == 1
    assert count(db, Profile, Profile.status == "active") == 2


def test_undoing_a_merge_twice_is_a_conflict(db, pair):
    merge_id = merge(db, *pair)
    unmerge(db, merge_id)
    error = refusal(db, lambda s: merging.unmerge(s, actor=SYSTEM, merge_id=merge_id))
    assert (error.status, error.code) == (409, "merge_already_undone")


def test_undoing_a_merge_whose_survivor_was_merged_on_is_a_conflict_until_the_later_merge_is_undone(db, pair):
    survivor, absorbed = pair
    third = identify(db, ("email", "third@example.com"))
    first = merge(db, survivor, absorbed)
    later = merge(db, third, survivor)
    error = refusal(db, lambda s: merging.unmerge(s, actor=SYSTEM, merge_id=first))
    assert (error.status, error.code) == (409, "merge_not_latest")
    unmerge(db, later)
    unmerge(db, first)
    with db.read() as s:
        assert [(p.status, p.merged_into_id) for p in (s.get(Profile, survivor), s.get(Profile, absorbed),
                                                       s.get(Profile, third))] == [("active", None)] * 3


def test_undoing_an_unknown_merge_is_not_found(db):
    error = refusal(db, lambda s: merging.unmerge(s, actor=SYSTEM, merge_id=424242))
    assert (error.status, error.code) == (404, "unknown_merge")


def test_a_phone_both_profiles_hold_survives_merge_and_unmerge(db):
    anna = identify(db, LANDLINE, given_name="Anna", family_name="Schmidt", date_of_birth=date(1970, 1, 2))
    paul = identify(db, LANDLINE, given_name="Paul", family_name="Schmidt", date_of_birth=date(1968, 3, 4))
    assert anna != paul
    merge_id = merge(db, anna, paul)
    assert snapshot(db, anna)["identities"] == [("phone", "+49561123456", False)]
    assert snapshot(db, paul)["identities"] == []
    unmerge(db, merge_id)
    assert snapshot(db, anna)["identities"] == [("phone", "+49561123456", False)]
    assert snapshot(db, paul)["identities"] == [("phone", "+49561123456", False)]
    assert (snapshot(db, anna)["profile"][8], snapshot(db, paul)["profile"][8]) == ("+49561123456", "+49561123456")


def test_unmerge_writes_the_customer_unmerged_event_and_a_timeline_entry_on_both(db, pair):
    survivor, absorbed = pair
    merge_id = merge(db, survivor, absorbed)
    unmerge(db, merge_id)
    with db.read() as s:
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "customer.unmerged")).one()
        assert event.data == {"merge_id": merge_id, "survivor_id": survivor, "absorbed_id": absorbed}
        lines = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "unmerged")
                          .order_by(TimelineEntry.profile_id)).all()
        assert [(e.profile_id, e.summary) for e in lines] == [
            (p, f"Merge of {absorbed} into {survivor} undone: two people") for p in sorted((survivor, absorbed))]
        record = s.get(Merge, merge_id)
        assert (record.undone_by, record.undone_at is not None) == ("system", True)


# --- the review queue ----------------------------------------------------------------------------------


def test_accepting_a_suggestion_merges_into_the_older_profile_unless_staff_choose(db, pair):
    survivor, absorbed = pair
    with db.write() as s:
        suggestion = merging.suggest(s, actor=SYSTEM, a_id=absorbed, b_id=survivor,
                                     result=MatchResult(0.8, ("same_given_name",)), source="dedupe")
        assert (suggestion.a_id, suggestion.b_id) == (survivor, absorbed)
        record = merging.accept(s, actor=SYSTEM, suggestion_id=suggestion.id, survivor_id=absorbed)
        assert (record.survivor_id, record.absorbed_id, record.source, record.probability) == (absorbed, survivor,
                                                                                               "suggestion", 0.8)
        assert s.get(Suggestion, suggestion.id).status == "merged"
    error = refusal(db, lambda s: merging.accept(s, actor=SYSTEM, suggestion_id=suggestion.id))
    assert (error.status, error.code) == (409, "suggestion_decided")


def test_a_survivor_outside_the_suggestion_is_refused(db, pair):
    survivor, absorbed = pair
    other = identify(db, ("email", "other@example.com"))
    with db.write() as s:
        suggestion_id = merging.suggest(s, actor=SYSTEM, a_id=survivor, b_id=absorbed,
                                        result=MatchResult(0.8, ()), source="dedupe").id
    error = refusal(db, lambda s: merging.accept(s, actor=SYSTEM, suggestion_id=suggestion_id, survivor_id=other))
    assert (error.status, error.code) == (409, "not_in_suggestion")


def test_a_rejected_suggestion_stays_rejected_when_suggested_again(db, pair):
    survivor, absorbed = pair
    with db.write() as s:
        suggestion_id = merging.suggest(s, actor=SYSTEM, a_id=survivor, b_id=absorbed,
                                        result=MatchResult(0.6, ()), source="dedupe").id
    with db.write() as s:
        merging.reject(s, actor=SYSTEM, suggestion_id=suggestion_id, reason="sisters")
    with db.write() as s:
        again = merging.suggest(s, actor=SYSTEM, a_id=survivor, b_id=absorbed, result=MatchResult(0.9, ()),
                                source="identify")
        assert (again.id, again.status, again.probability) == (suggestion_id, "rejected", 0.6)
    error = refusal(db, lambda s: merging.reject(s, actor=SYSTEM, suggestion_id=suggestion_id))
    assert (error.status, error.code) == (409, "suggestion_decided")


def test_unmerge_keeps_a_filled_field_that_staff_changed_after_the_merge(db, pair):
    survivor, absorbed = pair
    merge_id = merge(db, survivor, absorbed)
    with db.write() as s:
        service.update_profile(s, actor=SYSTEM, profile=resolve(s, survivor), changes={"language": "de"})

    unmerge(db, merge_id)

    with db.read() as s:
        kept = resolve(s, survivor)
        assert (kept.language, kept.family_name, kept.date_of_birth) == ("de", None, None)
        assert resolve(s, absorbed).language == "en"
