"""Identify on both databases: one person is one profile whichever channel saw them and however they typed it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from omniretail.core.errors import DomainError
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM
from omniretail.customers import identify as identification
from omniretail.customers import merging
from omniretail.customers.addresses import AddressInput
from omniretail.customers.models import Address, Identity, Merge, Profile, Suggestion, TimelineEntry
from omniretail.customers.profiles import resolve
from omniretail.customers.thresholds import thresholds

LINDENSTRASSE = AddressInput(line1="Lindenstraße 5", city="Kassel", postcode="34117", country="DE")
ADA = {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": date(1990, 5, 17)}
THREADS = 8


@dataclass(frozen=True)
class Seen:
    """What one identify call answered, read before its session closed."""

    id: int
    created: bool
    matched_by: str
    linked: list[str]
    suggestions: list[int]
    merged: list[int]


def identify(db, *identities: tuple[str, ...], channel: str = "web", **attributes) -> Seen:
    with db.write() as s:
        found = identification.identify(s, actor=SYSTEM, channel=channel,
                                        identities=[identification.IdentityInput(*i) for i in identities],
                                        attributes=identification.Attributes(**attributes))
        return Seen(found.profile.id, found.created, found.matched_by, found.linked, found.suggestions,
                    found.merged)


def refusal(db, *identities: tuple[str, ...], channel: str = "web", **attributes) -> DomainError:
    with pytest.raises(DomainError) as info:
        identify(db, *identities, channel=channel, **attributes)
    return info.value


def held(db, profile_id: int) -> list[tuple[str, str]]:
    with db.read() as s:
        return [(i.type, i.value) for i in s.scalars(select(Identity).where(Identity.profile_id == profile_id)
                                                     .order_by(Identity.type, Identity.value))]


def owners(db, kind: str, value: str) -> list[int]:
    with db.read() as s:
        return sorted(s.scalars(select(Identity.profile_id).where(Identity.type == kind, Identity.value == value)))


def profile(db, profile_id: int) -> Profile:
    with db.read() as s:
        return s.get(Profile, profile_id)


def count(db, model, *where) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def suggestions(db) -> list[tuple[int, int, str, str]]:
    with db.read() as s:
        return [(x.a_id, x.b_id, x.source, x.status) for x in s.scalars(select(Suggestion).order_by(Suggestion.id))]


# --- exact identities ----------------------------------------------------------------------------------


def test_an_unknown_email_creates_a_profile_holding_it_and_the_attributes(db):
    seen = identify(db, ("email", "Ada.Lovelace@Example.COM"), language="en", address=LINDENSTRASSE, **ADA)
    assert (seen.created, seen.matched_by, seen.linked, seen.suggestions, seen.merged) == (True, "new", ["email"],
                                                                                           [], [])
    created = profile(db, seen.id)
    assert (created.status, created.given_name, created.family_name, created.date_of_birth, created.language,
            created.email, created.created_channel, created.search_name) == (
        "active", "Ada", "Lovelace", date(1990, 5, 17), "en", "ada.lovelace@example.com", "web", "lovelace ada")
    assert held(db, seen.id) == [("email", "ada.lovelace@example.com")]
    with db.read() as s:
        address = s.scalars(select(Address).where(Address.profile_id == seen.id)).one()
        assert (address.line1, address.postcode, address.city, address.country, address.is_default) == (
            "Lindenstraße 5", "34117", "Kassel", "DE", True)


def test_the_same_email_typed_with_other_case_and_spaces_finds_the_same_profile(db):
    first = identify(db, ("email", "ada@example.com"))
    again = identify(db, ("email", "  ADA@Example.Com "), channel="pos")
    assert (again.id, again.created, again.matched_by, again.linked) == (first.id, False, "email", [])
    assert owners(db, "email", "ada@example.com") == [first.id]
    assert count(db, Profile) == 1


def test_one_email_given_twice_in_one_request_is_linked_once(db):
    seen = identify(db, ("email", "ada@example.com"), ("email", "ADA@example.com "))
    assert seen.linked == ["email"]
    assert held(db, seen.id) == [("email", "ada@example.com")]


def test_a_phone_in_national_and_international_format_finds_the_same_profile(db):
    first = identify(db, ("phone", "0561 123456", "DE"), given_name="Anna")
    for spelling in (("phone", "+49 561 123456"), ("phone", "0049 (561) 12 34 56", "DE"), ("phone", "0561/123456")):
        again = identify(db, spelling)
        assert (again.id, again.created, again.matched_by) == (first.id, False, "phone")
    assert held(db, first.id) == [("phone", "+49561123456")]
    assert profile(db, first.id).phone == "+49561123456"


def test_a_national_number_is_read_in_the_country_the_channel_names(db):
    vienna = identify(db, ("phone", "01 58858", "AT"))
    assert held(db, vienna.id) == [("phone", "+43158858")]


def test_a_loyalty_card_with_spaces_and_dashes_is_one_card(db):
    first = identify(db, ("loyalty_card", "1234 5678-90"))
    assert identify(db, ("loyalty_card", "1234567890")).id == first.id
    assert held(db, first.id) == [("loyalty_card", "1234567890")]


# --- a household's landline ----------------------------------------------------------------------------


@pytest.fixture
def anna(db) -> int:
    return identify(db, ("phone", "0561 123456", "DE"), given_name="Anna", family_name="Schmidt",
                    date_of_birth=date(1970, 1, 2), address=LINDENSTRASSE).id


def test_a_second_person_on_a_household_landline_gets_a_new_profile_and_both_hold_the_phone(db, anna):
    paul = identify(db, ("phone", "+49 561 123456"), given_name="Paul", family_name="Schmidt",
                    date_of_birth=date(1968, 3, 4), address=LINDENSTRASSE)
    assert (paul.created, paul.matched_by, paul.linked, paul.suggestions) == (True, "new", ["phone"], [])
    assert paul.id != anna
    assert owners(db, "phone", "+49561123456") == sorted([anna, paul.id])
    assert held(db, anna) == [("phone", "+49561123456")]
    assert (profile(db, anna).given_name, profile(db, paul.id).given_name) == ("Anna", "Paul")
    assert suggestions(db) == []


def test_the_landline_with_a_household_members_name_finds_that_member(db, anna):
    paul = identify(db, ("phone", "0561 123456"), given_name="Paul", family_name="Schmidt",
                    date_of_birth=date(1968, 3, 4)).id
    assert identify(db, ("phone", "0561 123456"), given_name="Anna", family_name="Schmidt").id == anna
    assert identify(db, ("phone", "0561 123456"), given_name="Paul").id == paul
    assert count(db, Profile) == 2


# --- identities bound to two profiles ------------------------------------------------------------------


def test_an_email_of_one_profile_with_the_card_of_another_person_returns_the_card_holder_and_queues_a_suggestion(db):
    ada = identify(db, ("email", "ada@example.com"), **ADA).id
    bob = identify(db, ("loyalty_card", "C-1"), given_name="Bob", family_name="Brown",
                   date_of_birth=date(1980, 1, 1)).id
    seen = identify(db, ("email", "ada@example.com"), ("loyalty_card", "C-1"), channel="pos")
    assert (seen.id, seen.created, seen.matched_by, seen.linked, seen.merged) == (bob, False, "loyalty_card", [],
                                                                                  [])
    assert owners(db, "email", "ada@example.com") == [ada]
    assert owners(db, "loyalty_card", "C1") == [bob]
    with db.read() as s:
        suggestion = s.scalars(select(Suggestion)).one()
    assert seen.suggestions == [suggestion.id]
    assert (suggestion.a_id, suggestion.b_id, suggestion.source, suggestion.status) == (ada, bob, "shared_identity",
                                                                                        "pending")
    assert suggestion.reasons == ["family_name_changed", "given_name_conflict", "dob_conflict", "shared_email"]
    assert suggestion.probability < thresholds().review
    assert count(db, Merge) == 0


def test_the_same_conflict_seen_again_keeps_one_suggestion(db):
    identify(db, ("email", "ada@example.com"), **ADA)
    identify(db, ("loyalty_card", "C-1"), given_name="Bob", family_name="Brown")
    first = identify(db, ("email", "ada@example.com"), ("loyalty_card", "C-1"))
    second = identify(db, ("email", "ada@example.com"), ("loyalty_card", "C-1"))
    assert first.suggestions == second.suggestions
    assert count(db, Suggestion) == 1


def two_profiles_of_ada(db) -> tuple[int, int]:
    """Ada known by e-mail, and Ada known by card (named later at a till): one person, two profiles."""
    by_email = identify(db, ("email", "ada@example.com"), **ADA).id
    by_card = identify(db, ("loyalty_card", "C-1"), channel="pos").id
    assert identify(db, ("loyalty_card", "C-1"), channel="pos", **ADA).id == by_card
    return by_email, by_card


def test_an_email_and_a_card_of_two_profiles_of_one_person_merge_them_automatically(db):
    by_email, by_card = two_profiles_of_ada(db)
    seen = identify(db, ("email", "ada@example.com"), ("loyalty_card", "C-1"), channel="pos")
    assert (seen.id, seen.created, seen.matched_by, seen.linked, seen.suggestions, seen.merged) == (
        by_email, False, "loyalty_card", [], [], [by_card])
    with db.read() as s:
        merge = s.scalars(select(Merge)).one()
        assert (merge.survivor_id, merge.absorbed_id, merge.source, merge.undone_at) == (by_email, by_card,
                                                                                         "identify", None)
        assert merge.probability >= thresholds().auto
        assert resolve(s, by_card).id == by_email
    assert held(db, by_email) == [("email", "ada@example.com"), ("loyalty_card", "C1")]
    assert held(db, by_card) == []
    assert profile(db, by_card).status == "merged"


def test_a_pair_staff_unmerged_is_not_merged_again_by_identify(db):
    by_email, by_card = two_profiles_of_ada(db)
    identify(db, ("email", "ada@example.com"), ("loyalty_card", "C-1"))
    with db.write() as s:
        merging.unmerge(s, actor=SYSTEM, merge_id=s.scalars(select(Merge.id)).one())
    seen = identify(db, ("email", "ada@example.com"), ("loyalty_card", "C-1"))
    assert (seen.id, seen.merged, seen.suggestions) == (by_card, [], [])
    assert count(db, Merge) == 1
    assert (profile(db, by_email).status, profile(db, by_card).status) == ("active", "active")
    assert suggestions(db) == [(by_email, by_card, "staff", "rejected")]


# --- fuzzy ---------------------------------------------------------------------------------------------


def test_a_typo_in_the_name_with_the_same_birth_date_and_address_finds_the_existing_profile(db, anna):
    seen = identify(db, given_name="Anna", family_name="Schmitd", date_of_birth=date(1970, 1, 2),
                    address=AddressInput(line1="lindenstrasse  5", city="Kassel", postcode="34117", country="de"))
    assert (seen.id, seen.created, seen.matched_by, seen.linked) == (anna, False, "fuzzy", [])
    assert profile(db, anna).family_name == "Schmidt"
    assert count(db, Address) == 1
    assert count(db, Profile) == 1


def test_an_uncertain_likeness_creates_a_profile_and_a_review_suggestion(db, anna):
    seen = identify(db, given_name="Anna", family_name="Schmidt",
                    address=AddressInput(line1="Bahnhofstraße 40", city="Kassel", postcode="34117", country="DE"))
    assert (seen.created, seen.matched_by) == (True, "new")
    with db.read() as s:
        suggestion = s.scalars(select(Suggestion)).one()
    assert seen.suggestions == [suggestion.id]
    assert (suggestion.a_id, suggestion.b_id, suggestion.source, suggestion.status) == (anna, seen.id, "identify",
                                                                                        "pending")
    assert thresholds().review <= suggestion.probability < thresholds().auto


def test_a_name_alone_with_nothing_to_block_on_creates_a_new_profile(db, anna):
    seen = identify(db, given_name="Anna", family_name="Schmidt")
    assert (seen.created, seen.suggestions) == (True, [])


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("identities", "field", "code"), [
    ((("email", "ada@example.com"), ("phone", "12345", "DE")), "identities.1.value", "invalid_phone"),
    ((("phone", "+49 561 123456"), ("email", "ada@@example")), "identities.1.value", "invalid_email"),
    ((("email", "not an address"),), "identities.0.value", "invalid_email"),
    ((("loyalty_card", "   "),), "identities.0.value", "invalid_identity"),
    ((("loyalty_card", "card with spaces?!"),), "identities.0.value", "invalid_identity"),
    ((("passport", "X1"),), "identities.0.type", "invalid_identity_type"),
])
def test_an_invalid_identity_is_refused_naming_its_field_and_nothing_is_written(db, identities, field, code):
    error = refusal(db, *identities, **ADA)
    assert (error.status, error.code) == (422, code)
    assert [e["field"] for e in error.extra["errors"]] == [field]
    assert (count(db, Profile), count(db, Identity), count(db, OutboxEvent)) == (0, 0, 0)


def test_an_unknown_channel_is_refused(db):
    error = refusal(db, ("email", "ada@example.com"), channel="fax")
    assert (error.code, error.extra["errors"][0]["field"]) == ("unknown_channel", "channel")


def test_an_unknown_preferred_channel_is_refused_naming_its_field(db):
    error = refusal(db, ("email", "ada@example.com"), preferred_channel="carrier-pigeon")
    assert (error.status, error.code) == (422, "unknown_channel")
    assert [e["field"] for e in error.extra["errors"]] == ["attributes.preferred_channel"]
    assert count(db, Profile) == 0


def test_an_address_without_a_postcode_in_germany_is_refused_naming_its_field(db):
    error = refusal(db, ("email", "ada@example.com"),
                    address=AddressInput(line1="Lindenstraße 5", city="Kassel", country="DE"))
    assert (error.code, error.extra["errors"][0]["field"]) == ("missing_postcode", "attributes.address.postcode")


# --- attributes, timeline, audit, events ---------------------------------------------------------------


def test_attributes_fill_blanks_but_never_overwrite(db):
    first = identify(db, ("email", "ada@example.com"), given_name="Ada")
    again = identify(db, ("email", "ada@example.com"), given_name="Augusta", family_name="Lovelace", language="en",
                     preferred_channel="sms", date_of_birth=date(1990, 5, 17))
    assert (again.id, again.created) == (first.id, False)
    found = profile(db, first.id)
    assert (found.given_name, found.family_name, found.language, found.preferred_channel, found.date_of_birth,
            found.search_name) == ("Ada", "Lovelace", "en", "sms", date(1990, 5, 17), "lovelace ada")
    with db.read() as s:
        latest = s.scalars(select(TimelineEntry).where(TimelineEntry.profile_id == first.id)
                           .order_by(TimelineEntry.id.desc()).limit(1)).one()
        assert (latest.kind, latest.summary, latest.data) == (
            "profile_updated", "Added family name, date of birth, language, preferred channel",
            {"fields": ["family_name", "date_of_birth", "language", "preferred_channel"]})
        extended = s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.extended")).one()
        assert (extended.object_id, extended.changes) == (str(first.id), {
            "identities": [], "fields": ["family_name", "date_of_birth", "language", "preferred_channel"]})


def test_a_new_profile_has_its_creation_and_each_linked_identity_on_its_timeline_with_masked_values(db):
    seen = identify(db, ("email", "ada@example.com"), ("phone", "+49 561 123456"), channel="call_centre")
    with db.read() as s:
        entries = [(e.kind, e.channel, e.actor, e.summary, e.data) for e in s.scalars(
            select(TimelineEntry).where(TimelineEntry.profile_id == seen.id).order_by(TimelineEntry.id))]
    assert entries == [
        ("profile_created", "call_centre", "system", "Profile created from call_centre", {}),
        ("identity_linked", "call_centre", "system", "Email a***@example.com linked", {"type": "email"}),
        ("identity_linked", "call_centre", "system", "Phone ********3456 linked", {"type": "phone"}),
    ]


def test_a_new_link_on_a_known_profile_is_on_its_timeline_and_in_the_audit_log(db):
    first = identify(db, ("email", "ada@example.com"))
    identify(db, ("email", "ada@example.com"), ("loyalty_card", "CARD-123456"), channel="pos")
    with db.read() as s:
        latest = s.scalars(select(TimelineEntry).where(TimelineEntry.profile_id == first.id)
                           .order_by(TimelineEntry.id.desc()).limit(1)).one()
        assert (latest.kind, latest.channel, latest.summary) == ("identity_linked", "pos",
                                                                 "Loyalty card CA***56 linked")
        actions = [(a.action, a.object_id, a.changes) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [("customer.created", str(first.id), {"channel": "web"}),
                       ("customer.extended", str(first.id), {"identities": ["loyalty_card"], "fields": []})]


def test_seeing_a_known_person_again_writes_no_audit_entry_and_no_event(db):
    identify(db, ("email", "ada@example.com"), **ADA)
    before = (count(db, AuditEntry), count(db, OutboxEvent), count(db, TimelineEntry))
    identify(db, ("email", "ada@example.com"), **ADA)
    assert (count(db, AuditEntry), count(db, OutboxEvent), count(db, TimelineEntry)) == before


def test_a_new_profile_puts_a_customer_created_event_in_the_outbox(db):
    seen = identify(db, ("email", "ada@example.com"), channel="app")
    with db.read() as s:
        events = [(e.type, e.object_type, e.object_id, e.data) for e in s.scalars(select(OutboxEvent))]
    assert events == [("customer.created", "customer", str(seen.id), {"channel": "app"})]


# --- concurrency ---------------------------------------------------------------------------------------


def identify_at_once(db, *identities: tuple[str, ...], **attributes) -> tuple[list[int], list[BaseException]]:
    """Identify the same person from THREADS threads released together, retrying a lost race as the API does."""
    barrier = threading.Barrier(THREADS)
    found: list[int] = []
    failures: list[BaseException] = []

    def identify_with_retry() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                try:
                    found.append(identify(db, *identities, **attributes).id)
                    return
                except IntegrityError:
                    continue
            raise AssertionError("three lost races in a row")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=identify_with_retry) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return found, failures


def test_eight_requests_identifying_one_new_mobile_number_and_name_at_once_end_with_one_profile(db):
    found, failures = identify_at_once(db, ("phone", "+49 151 12345678"), given_name="Ada", family_name="Lovelace")
    assert failures == []
    assert len(found) == THREADS
    assert count(db, Profile) == 1
    assert len(set(found)) == 1


def test_eight_requests_identifying_one_new_email_at_once_end_with_one_profile_holding_it(db):
    found, failures = identify_at_once(db, ("email", "race@example.com"))
    assert failures == []
    assert len(found) == THREADS and len(set(found)) == 1
    assert owners(db, "email", "race@example.com") == [found[0]]
    assert count(db, Profile) == 1
    assert count(db, OutboxEvent, OutboxEvent.type == "customer.created") == 1
