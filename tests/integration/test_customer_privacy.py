"""Consents, export, erasure and saved addresses on both databases."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from omniretail.core.errors import DomainError
from omniretail.core.models import ApiKey, AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM, Role
from omniretail.customers import addresses, merging, privacy
from omniretail.customers import identify as identification
from omniretail.customers.addresses import AddressInput
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
from omniretail.customers.privacy import ConsentDecision
from omniretail.loyalty import service as loyalty
from omniretail.loyalty.models import LoyaltyAccount, LoyaltyEntry
from tests.conftest import make_key

KASSEL = AddressInput(line1="Lindenstraße 5", city="Kassel", postcode="34117", country="DE", phone="0561 123456")
BERLIN = AddressInput(line1="Torstraße 1", city="Berlin", postcode="10119", country="DE")
PERSONAL = ("given_name", "family_name", "date_of_birth", "language", "preferred_channel", "email", "phone",
            "search_name")


def identify(db, *identities: tuple[str, ...], address: AddressInput | None = None, **attributes: Any) -> int:
    with db.write() as s:
        return identification.identify(s, actor=SYSTEM, channel="web",
                                       identities=[identification.IdentityInput(*i) for i in identities],
                                       attributes=identification.Attributes(address=address, **attributes)).profile.id


def decide(db, profile_id: int, *decisions: tuple[str, str, bool], source: str = "web", wording: str = "v1") -> None:
    with db.write() as s:
        privacy.record_consents(s, actor=SYSTEM, profile=s.get(Profile, profile_id), source_channel=source,
                                decisions=[ConsentDecision(p, c, g, wording) for p, c, g in decisions])


def refusal(db, use_case) -> DomainError:
    with pytest.raises(DomainError) as info, db.write() as s:
        use_case(s)
    return info.value


def count(db, model, *where) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def erase(db, profile_id: int) -> bool:
    with db.write() as s:
        return privacy.erase(s, actor=SYSTEM, profile=s.get(Profile, profile_id), reason="GDPR art. 17")


@pytest.fixture
def ada(db) -> int:
    return identify(db, ("email", "ada@example.com"), ("phone", "+49 151 12345678"), ("loyalty_card", "C1"),
                    given_name="Ada", family_name="Lovelace", date_of_birth=date(1990, 5, 17), language="en",
                    preferred_channel="email", address=KASSEL)


# --- consents ------------------------------------------------------------------------------------------


def test_the_latest_decision_per_purpose_and_channel_is_in_force_and_every_decision_is_kept(db, ada):
    decide(db, ada, ("marketing", "email", True), ("analytics", "all", True))
    decide(db, ada, ("marketing", "email", False), source="call_centre", wording="v2")
    with db.read() as s:
        current = [(c.purpose, c.channel, c.granted, c.wording_version, c.source_channel)
                   for c in privacy.current_consents(s, ada)]
        history = [(c.purpose, c.channel, c.granted) for c in privacy.consent_history(s, ada)]
        marketing = [c.granted for c in privacy.consent_history(s, ada, purpose="marketing")]
    assert current == [("analytics", "all", True, "v1", "web"), ("marketing", "email", False, "v2", "call_centre")]
    assert history == [("marketing", "email", False), ("analytics", "all", True), ("marketing", "email", True)]
    assert marketing == [False, True]


def test_a_channels_own_answer_beats_the_answer_for_all_channels(db, ada):
    decide(db, ada, ("marketing", "all", True), ("marketing", "sms", False), ("service", "sms", True))
    with db.read() as s:
        answers = {(purpose, channel): privacy.has_consent(s, ada, purpose=purpose, channel=channel) for purpose,
                   channel in (("marketing", "sms"), ("marketing", "email"), ("service", "sms"),
                               ("service", "email"), ("analytics", "web"))}
    assert answers == {("marketing", "sms"): False, ("marketing", "email"): True, ("service", "sms"): True,
                       ("service", "email"): False, ("analytics", "web"): False}


def test_withdrawing_for_all_channels_leaves_a_channels_own_yes_in_force(db, ada):
    decide(db, ada, ("marketing", "email", True))
    decide(db, ada, ("marketing", "all", False))
    with db.read() as s:
        assert privacy.has_consent(s, ada, purpose="marketing", channel="email") is True
        assert privacy.has_consent(s, ada, purpose="marketing", channel="sms") is False


def test_consents_are_on_the_timeline_in_the_audit_log_and_in_the_outbox(db, ada):
    decide(db, ada, ("marketing", "email", True), ("analytics", "all", False))
    with db.read() as s:
        lines = [(e.kind, e.summary, e.channel) for e in s.scalars(
            select(TimelineEntry).where(TimelineEntry.kind.like("consent_%")).order_by(TimelineEntry.id))]
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "customer.consent_changed")).one()
    assert lines == [("consent_given", "Consent to marketing via email given (wording v1)", "web"),
                     ("consent_withdrawn", "Consent to analytics via all withdrawn (wording v1)", "web")]
    assert event.data == {"consents": [{"purpose": "marketing", "channel": "email", "granted": True},
                                       {"purpose": "analytics", "channel": "all", "granted": False}]}
    assert count(db, AuditEntry, AuditEntry.action == "customer.consent_recorded") == 1


@pytest.mark.parametrize(("decision", "source", "field", "code"), [
    (("spam", "email", True), "web", "consents.1.purpose", "invalid_purpose"),
    (("marketing", "fax", True), "web", "consents.1.channel", "unknown_channel"),
    (("marketing", "email", True), "pigeon", "source_channel", "unknown_channel"),
])
def test_an_unknown_purpose_or_channel_is_refused_naming_its_field_and_nothing_is_recorded(db, ada, decision,
                                                                                           source, field, code):
    error = refusal(db, lambda s: privacy.record_consents(
        s, actor=SYSTEM, profile=s.get(Profile, ada), source_channel=source,
        decisions=[ConsentDecision("service", "all", True, "v1"), ConsentDecision(*decision, "v1")]))
    assert (error.status, error.code, [e["field"] for e in error.extra["errors"]]) == (422, code, [field])
    assert count(db, Consent) == 0


# --- export --------------------------------------------------------------------------------------------


def test_the_export_holds_everything_on_the_person_as_json(db, ada):
    decide(db, ada, ("marketing", "email", True))
    with db.write() as s:
        loyalty.earn(s, actor=SYSTEM, profile_id=ada, points=120, channel="pos", cause_type="order",
                     cause_id="o-1")
    old = identify(db, ("email", "ada@old.example"), given_name="Ada", family_name="Byron")
    with db.write() as s:
        merge_id = merging.merge(s, actor=SYSTEM, survivor_id=ada, absorbed_id=old).id
    with db.read() as s:
        document = privacy.export(s, s.get(Profile, ada))
    assert json.loads(json.dumps(document)) == document  # plain JSON all the way down
    assert {k: document["profile"][k] for k in ("id", "status", "given_name", "family_name", "date_of_birth",
                                                "email", "phone", "language")} == {
        "id": ada, "status": "active", "given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1990-05-17",
        "email": "ada@example.com", "phone": "+4915112345678", "language": "en"}
    assert [(p["id"], p["family_name"]) for p in document["merged_profiles"]] == [(old, "Byron")]
    assert sorted((i["type"], i["value"]) for i in document["identities"]) == [
        ("email", "ada@example.com"), ("email", "ada@old.example"), ("loyalty_card", "C1"),
        ("phone", "+4915112345678")]
    assert [(a["line1"], a["postcode"], a["phone"]) for a in document["addresses"]] == [
        ("Lindenstraße 5", "34117", "+49561123456")]
    assert [(c["purpose"], c["channel"], c["granted"], c["wording_version"]) for c in document["consents"]] == [
        ("marketing", "email", True, "v1")]
    assert document["loyalty"]["account"]["balance"] == 120
    assert [(e["kind"], e["points"]) for e in document["loyalty"]["entries"]] == [("earn", 120)]
    assert [m["id"] for m in document["merges"]] == [merge_id]
    kinds = [e["kind"] for e in document["timeline"]]
    assert kinds[0] == "profile_created" and {"identity_linked", "consent_given", "loyalty_earn", "merged",
                                              "address_added"} <= set(kinds)


def test_the_export_lists_profiles_merged_in_through_a_chain_of_merges(db, ada):
    oldest = identify(db, ("email", "ada@oldest.example"), given_name="Augusta", family_name="Byron")
    old = identify(db, ("email", "ada@old.example"), given_name="Ada", family_name="King")
    with db.write() as s:
        merging.merge(s, actor=SYSTEM, survivor_id=old, absorbed_id=oldest)
    with db.write() as s:
        merging.merge(s, actor=SYSTEM, survivor_id=ada, absorbed_id=old)
    with db.read() as s:
        document = privacy.export(s, s.get(Profile, ada))
    assert sorted((p["id"], p["family_name"]) for p in document["merged_profiles"]) == [(oldest, "Byron"),
                                                                                        (old, "King")]


def test_consents_are_not_recorded_for_an_erased_profile(db, ada):
    erase(db, ada)
    error = refusal(db, lambda s: privacy.record_consents(
        s, actor=SYSTEM, profile=s.get(Profile, ada), source_channel="web",
        decisions=[ConsentDecision("marketing", "all", True, "v1")]))
    assert (error.status, error.code) == (409, "profile_erased")
    assert count(db, Consent) == 0


# --- erasure -------------------------------------------------------------------------------------------


def test_erasure_removes_the_person_and_keeps_the_loyalty_amounts(db, ada):
    decide(db, ada, ("marketing", "all", True))
    with db.write() as s:
        loyalty.earn(s, actor=SYSTEM, profile_id=ada, points=300, channel="pos", cause_type="order", cause_id="o-1")
        loyalty.spend(s, actor=SYSTEM, profile_id=ada, points=100, channel="web", cause_type="order",
                      cause_id="o-2")
    key = make_key(db, Role.CUSTOMER, customer_id=str(ada))
    ledger = count(db, LoyaltyEntry, LoyaltyEntry.profile_id == ada)
    assert erase(db, ada) is True
    with db.read() as s:
        p = s.get(Profile, ada)
        assert (p.status, p.erased_at is not None) == ("erased", True)
        assert {name: getattr(p, name) for name in PERSONAL} == dict.fromkeys(PERSONAL)
        assert [(e.kind, e.points, e.balance_after) for e in s.scalars(
            select(LoyaltyEntry).where(LoyaltyEntry.profile_id == ada).order_by(LoyaltyEntry.id))][:2] == [
            ("earn", 300, 300), ("spend", -100, 200)]
        assert s.get(LoyaltyAccount, ada).balance == 200
        assert s.scalars(select(ApiKey.revoked_at).where(ApiKey.customer_id == str(ada))).one() is not None
        summaries = [e.summary for e in s.scalars(select(TimelineEntry).where(TimelineEntry.profile_id == ada)
                                                 .order_by(TimelineEntry.id))]
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "customer.erased")).one()
    assert key.startswith("omr_")
    assert count(db, LoyaltyEntry, LoyaltyEntry.profile_id == ada) == ledger
    for model in (Identity, Address, Consent, BlockingKey):
        assert count(db, model, model.profile_id == ada) == 0, model.__tablename__
    assert summaries[:-1] == ["(erased)"] * (len(summaries) - 1) and summaries[-1] == "Personal data erased"
    assert (event.object_id, event.data) == (str(ada), {"profiles": [ada]})


def test_erasure_takes_the_profiles_merged_into_the_person_along(db, ada):
    old = identify(db, ("email", "ada@old.example"), given_name="Ada", family_name="Byron")
    with db.write() as s:
        merging.merge(s, actor=SYSTEM, survivor_id=ada, absorbed_id=old)
    assert erase(db, ada) is True
    with db.read() as s:
        p = s.get(Profile, old)
        assert (p.status, p.given_name, p.family_name, p.email) == ("erased", None, None, None)
        assert s.scalars(select(Merge.moved)).one() == {}


def test_erasure_takes_along_profiles_merged_in_through_a_chain_of_merges(db, ada):
    oldest = identify(db, ("email", "ada@oldest.example"), given_name="Augusta", family_name="Byron")
    old = identify(db, ("email", "ada@old.example"), given_name="Ada", family_name="King")
    with db.write() as s:
        merging.merge(s, actor=SYSTEM, survivor_id=old, absorbed_id=oldest)
    with db.write() as s:
        merging.merge(s, actor=SYSTEM, survivor_id=ada, absorbed_id=old)
    assert erase(db, ada) is True
    with db.read() as s:
        found = [(p.id, p.status, p.given_name, p.family_name, p.email) for p in s.scalars(
            select(Profile).where(Profile.id.in_([oldest, old])).order_by(Profile.id))]
    assert found == [(pid, "erased", None, None, None) for pid in sorted((oldest, old))]


def test_erasure_makes_pending_suggestions_obsolete(db, ada):
    other = identify(db, ("loyalty_card", "C2"), given_name="Bob", family_name="Brown")
    identify(db, ("email", "ada@example.com"), ("loyalty_card", "C2"))
    assert count(db, Suggestion, Suggestion.status == "pending") == 1
    erase(db, other)
    with db.read() as s:
        assert [(x.status, x.decided_by) for x in s.scalars(select(Suggestion))] == [("obsolete", "system")]


def test_erasing_twice_returns_false_and_changes_nothing(db, ada):
    assert erase(db, ada) is True
    before = (count(db, TimelineEntry), count(db, AuditEntry), count(db, OutboxEvent))
    with db.read() as s:
        erased_at = s.get(Profile, ada).erased_at
    assert erase(db, ada) is False
    assert (count(db, TimelineEntry), count(db, AuditEntry), count(db, OutboxEvent)) == before
    with db.read() as s:
        assert s.get(Profile, ada).erased_at == erased_at


def test_an_erased_persons_email_seen_again_makes_a_new_profile(db, ada):
    erase(db, ada)
    again = identify(db, ("email", "ada@example.com"), given_name="Ada", family_name="Lovelace",
                     date_of_birth=date(1990, 5, 17), address=KASSEL)
    assert again != ada
    with db.read() as s:
        assert s.get(Profile, again).status == "active"


def test_an_erased_profile_cannot_earn_points(db, ada):
    erase(db, ada)
    error = refusal(db, lambda s: loyalty.earn(s, actor=SYSTEM, profile_id=ada, points=5, channel="web",
                                               cause_type="order", cause_id="o-9"))
    assert (error.status, error.code) == (409, "profile_erased")


# --- addresses -----------------------------------------------------------------------------------------


def validate(address: AddressInput) -> dict[str, str | None]:
    return addresses.validate(address, field="address", default_region="DE")


def save(db, profile_id: int, address: AddressInput, *, default: bool = False) -> tuple[int, bool]:
    with db.write() as s:
        saved, created = addresses.save(s, actor=SYSTEM, profile=s.get(Profile, profile_id),
                                        fields=validate(address), make_default=default)
        return saved.id, created


@pytest.mark.parametrize(("address", "field", "code"), [
    (AddressInput(line1="Main St 1", city="Nowhere", country="XX", postcode="1"), "address.country",
     "invalid_country"),
    (AddressInput(line1="Lindenstraße 5", city="Kassel", country="DE"), "address.postcode", "missing_postcode"),
    (AddressInput(line1="Lindenstraße 5", city="Kassel", country="DE", postcode="34117!"), "address.postcode",
     "invalid_postcode"),
    (AddressInput(line1="   ", city="Kassel", country="DE", postcode="34117"), "address.line1", "incomplete_address"),
    (AddressInput(line1="Lindenstraße 5", city="", country="DE", postcode="34117"), "address.city",
     "incomplete_address"),
    (AddressInput(line1="Lindenstraße 5", city="Kassel", country="DE", postcode="34117", phone="12"),
     "address.phone", "invalid_phone"),
])
def test_an_invalid_address_is_refused_naming_its_field(address, field, code):
    with pytest.raises(DomainError) as info:
        validate(address)
    assert (info.value.code, [e["field"] for e in info.value.extra["errors"]]) == (code, [field])


def test_an_address_in_hong_kong_needs_no_postcode_and_fields_are_tidied():
    assert validate(AddressInput(line1=" 1  Queen's Road ", city="Hong Kong", country="hk", phone="2123 4567")) == {
        "line1": "1 Queen's Road", "line2": None, "city": "Hong Kong", "postcode": None, "region": None,
        "country": "HK", "phone": "+85221234567"}


def test_the_same_address_saved_twice_is_kept_once(db, ada):
    first, created = save(db, ada, BERLIN)
    again, created_again = save(db, ada, AddressInput(line1=" torstrasse  1", city="Berlin", postcode="10119",
                                                      country="de"))
    assert (created, again, created_again) == (True, first, False)
    assert count(db, Address, Address.profile_id == ada) == 2


def test_a_new_default_address_takes_the_flag_from_the_old_one(db, ada):
    berlin, _ = save(db, ada, BERLIN, default=True)
    with db.read() as s:
        assert [(a.id == berlin, a.is_default) for a in s.scalars(
            select(Address).where(Address.profile_id == ada).order_by(Address.id))] == [(False, False), (True, True)]


def test_a_failed_delivery_is_counted_and_prefill_skips_that_address(db, ada):
    with db.read() as s:
        kassel = s.scalars(select(Address.id).where(Address.profile_id == ada)).one()
    berlin, _ = save(db, ada, BERLIN)
    with db.write() as s:
        flagged = addresses.flag_failed_delivery(s, actor=SYSTEM, profile=s.get(Profile, ada), address_id=kassel,
                                                 reason="nobody home")
        assert (flagged.failed_deliveries, flagged.last_failed_at is not None, flagged.is_default) == (1, True, True)
    with db.read() as s:
        assert addresses.prefill_address(s, s.get(Profile, ada)).id == berlin
        line = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "delivery_failed")).one()
        assert line.summary == "Delivery to the address in Kassel failed: nobody home"


def test_prefill_offers_a_failed_address_when_it_is_the_only_one_and_nothing_without_addresses(db, ada):
    with db.read() as s:
        kassel = s.scalars(select(Address.id).where(Address.profile_id == ada)).one()
    with db.write() as s:
        addresses.flag_failed_delivery(s, actor=SYSTEM, profile=s.get(Profile, ada), address_id=kassel)
    bare = identify(db, ("email", "bare@example.com"))
    with db.read() as s:
        assert addresses.prefill_address(s, s.get(Profile, ada)).id == kassel
        assert addresses.prefill_address(s, s.get(Profile, bare)) is None


def test_flagging_another_profiles_address_is_not_found(db, ada):
    other = identify(db, ("email", "other@example.com"), address=BERLIN)
    with db.read() as s:
        berlin = s.scalars(select(Address.id).where(Address.profile_id == other)).one()
    error = refusal(db, lambda s: addresses.flag_failed_delivery(s, actor=SYSTEM, profile=s.get(Profile, ada),
                                                                 address_id=berlin))
    assert (error.status, error.code) == (404, "unknown_address")


def test_removing_the_default_address_makes_the_newest_other_one_the_default(db, ada):
    berlin, _ = save(db, ada, BERLIN)
    with db.read() as s:
        kassel = s.scalars(select(Address.id).where(Address.profile_id == ada, Address.is_default)).one()
    with db.write() as s:
        addresses.remove(s, actor=SYSTEM, profile=s.get(Profile, ada), address_id=kassel)
    with db.read() as s:
        assert [(a.id, a.is_default) for a in s.scalars(select(Address).where(Address.profile_id == ada))] == [
            (berlin, True)]
