"""The batch duplicate pass and customer CSV import/export on both databases."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from omniretail.core.csvio import import_csv, write_csv
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM
from omniretail.customers import identify as identification
from omniretail.customers import merging
from omniretail.customers.addresses import AddressInput
from omniretail.customers.batch import dedupe
from omniretail.customers.bulkload import load_people
from omniretail.customers.dataset import LabelledRecord, generate
from omniretail.customers.importer import COLUMNS, CustomerImport, export_rows
from omniretail.customers.matching import MatchResult, Person
from omniretail.customers.models import Address, Identity, Merge, Profile, Suggestion
from omniretail.customers.thresholds import thresholds

ADA = Person(given_name="Ada", family_name="Lovelace", date_of_birth=date(1990, 5, 17), line1="Lindenstraße 5",
             postcode="34117", city="Kassel", country="DE")


def count(db, model, *where) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def load(db, people: list[Person]) -> list[int]:
    with db.write() as s:
        return load_people(s, people, channels=["web", "pos", "app"], actor="test")


@pytest.fixture
def population(db) -> dict[int, LabelledRecord]:
    """Generated records of 200 people (duplicates with typos, households, twins, namesakes) by profile id."""
    records = generate(200, seed=3)
    return dict(zip(load(db, [r.person for r in records]), records, strict=True))


def merges(db) -> list[tuple[int, int, str]]:
    with db.read() as s:
        return [(m.survivor_id, m.absorbed_id, m.source) for m in s.scalars(select(Merge).order_by(Merge.id))]


def pending(db) -> list[tuple[int, int]]:
    with db.read() as s:
        return [(x.a_id, x.b_id) for x in s.scalars(select(Suggestion).where(Suggestion.status == "pending")
                                                    .order_by(Suggestion.a_id, Suggestion.b_id))]


# --- the batch pass ------------------------------------------------------------------------------------


def test_a_batch_pass_merges_only_records_of_one_person_and_queues_the_doubtful_pairs(db, population):
    report = dedupe(db, actor=SYSTEM, workers=1)
    done = merges(db)
    assert report.profiles == len(population)
    assert report.merged == len(done) > 50
    assert {source for _, _, source in done} == {"dedupe"}
    assert [(s, a) for s, a, _ in done if population[s].entity_id != population[a].entity_id] == []
    assert all(s < a for s, a, _ in done)  # the older profile survives
    assert count(db, Profile, Profile.status == "merged") == report.merged
    assert count(db, OutboxEvent, OutboxEvent.type == "customer.merged") == report.merged
    queued = pending(db)
    assert report.queued == len(queued) > 0
    with db.read() as s:
        for suggestion in s.scalars(select(Suggestion)):
            assert (suggestion.source, suggestion.status) == ("dedupe", "pending")
            assert thresholds().review <= suggestion.probability < thresholds().auto
            assert {s.get(Profile, suggestion.a_id).status, s.get(Profile, suggestion.b_id).status} == {"active"}
        run = s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.dedupe_run")).one()
        assert run.changes == {"profiles": len(population), "merged": report.merged, "queued": report.queued}


def test_merged_profiles_own_nothing_and_survivors_hold_their_identities(db, population):
    with db.read() as s:
        identities = s.scalar(select(func.count()).select_from(Identity))
        exclusive = s.scalar(select(func.count()).select_from(Identity).where(Identity.exclusive))
        addresses = s.scalar(select(func.count()).select_from(Address))
    dedupe(db, actor=SYSTEM, workers=1)
    with db.read() as s:
        owned_by_merged = s.scalar(select(func.count()).select_from(Identity).join(
            Profile, Profile.id == Identity.profile_id).where(Profile.status != "active"))
        assert owned_by_merged == 0
        # shared phones two records of one person both held are kept once; nothing else is lost
        assert s.scalar(select(func.count()).select_from(Identity)) <= identities
        assert s.scalar(select(func.count()).select_from(Address)) == addresses
        assert s.scalar(select(func.count()).select_from(Identity).where(Identity.exclusive)) == exclusive


def test_a_second_pass_merges_nothing_new_and_queues_no_pair_twice(db, population):
    dedupe(db, actor=SYSTEM, workers=1)
    before = (merges(db), pending(db), count(db, Suggestion), count(db, OutboxEvent))
    again = dedupe(db, actor=SYSTEM, workers=1)
    assert (again.auto_pairs, again.merged) == (0, 0)
    assert again.profiles == len(population) - len(before[0])
    assert (merges(db), pending(db), count(db, Suggestion), count(db, OutboxEvent)) == before


def test_a_pair_staff_rejected_is_not_merged_even_through_a_third_profile(db):
    first, second, third = load(db, [ADA, ADA, ADA])
    with db.write() as s:
        merging.suggest(s, actor=SYSTEM, a_id=first, b_id=third, result=MatchResult(0.999, ()),
                        source="dedupe")
    with db.write() as s:
        merging.reject(s, actor=SYSTEM, suggestion_id=s.scalars(select(Suggestion.id)).one(), reason="twins")
    report = dedupe(db, actor=SYSTEM, workers=1)
    assert (report.already_decided, report.merged) == (1, 1)
    assert [(s, a) for s, a, _ in merges(db)] == [(first, second)]
    with db.read() as s:
        assert (s.get(Profile, third).status, s.get(Profile, first).status) == ("active", "active")
    assert dedupe(db, actor=SYSTEM, workers=1).merged == 0


def test_a_pair_staff_unmerged_stays_apart_in_later_passes(db):
    first, second = load(db, [ADA, ADA])
    dedupe(db, actor=SYSTEM, workers=1)
    with db.write() as s:
        merging.unmerge(s, actor=SYSTEM, merge_id=s.scalars(select(Merge.id)).one())
    report = dedupe(db, actor=SYSTEM, workers=1)
    assert (report.profiles, report.already_decided, report.merged) == (2, 1, 0)
    assert [(s, a) for s, a, _ in merges(db)] == [(first, second)]


def test_a_review_pair_staff_rejected_is_not_queued_again(db, population):
    dedupe(db, actor=SYSTEM, workers=1)
    rejected = pending(db)[0]
    with db.write() as s:
        merging.reject(s, actor=SYSTEM, suggestion_id=s.scalars(select(Suggestion.id).where(
            Suggestion.a_id == rejected[0], Suggestion.b_id == rejected[1])).one())
    report = dedupe(db, actor=SYSTEM, workers=1)
    assert report.already_decided == 1
    assert rejected not in pending(db)
    with db.read() as s:
        assert s.scalars(select(Suggestion.status).where(Suggestion.a_id == rejected[0],
                                                         Suggestion.b_id == rejected[1])).one() == "rejected"


def test_the_batch_pass_reports_its_phases_to_a_progress_callback(db, population):
    phases: dict[str, tuple[int, int]] = {}
    report = dedupe(db, actor=SYSTEM, workers=1, progress=lambda phase, done, total: phases.update(
        {phase: (done, total)}))
    assert sorted(phases) == ["load", "match", "merge"]
    assert phases["merge"] == (report.merged, report.merged)
    assert phases["match"][0] == phases["match"][1]


# --- CSV -----------------------------------------------------------------------------------------------


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_customer_csv_loads_good_rows_and_reports_bad_ones_with_their_line(db, tmp_path):
    path = write(tmp_path / "customers.csv",
                 "given_name,family_name,date_of_birth,email,phone,line1,postcode,city,country,channel",
                 "Ada,Lovelace,1990-05-17,Ada@Example.com,0561 123456,Lindenstraße 5,34117,Kassel,DE,pos",
                 "Bob,Brown,1980-01-01,not-an-email,,,,,,",
                 ",,,,,,,,,",
                 "Carl,Clark,17.05.1990,carl@example.com,,,,,,",
                 "Dora,Diaz,,dora@example.com,,Torstraße 1,10119,,DE,",
                 "Eve,Evans,,,+44 20 7946 0958,,,,,web",
                 "Fay,Fox,,fay@example.com,,,,,,fax",
                 "Ada,Lovelace,,ada@example.com,,,,,,web")
    report = import_csv(db, path, CustomerImport(actor=SYSTEM))
    assert (report.rows, report.created, report.updated, report.unchanged) == (8, 2, 0, 1)
    assert [e.line for e in report.errors] == [3, 4, 5, 6, 8]
    assert report.errors[0].reason.startswith("'not-an-email' is not a valid e-mail address")
    assert report.errors[0].reason.endswith("(invalid_email)")
    assert [e.reason for e in report.errors[1:]] == [
        "a customer needs an identity (email, phone, card) or a full name",
        "date_of_birth '17.05.1990' is not a date (YYYY-MM-DD)", "an address needs line1, city and country",
        "Unknown or inactive channel 'fax' (unknown_channel)"]
    with db.read() as s:
        people = [(p.given_name, p.email, p.phone, p.created_channel) for p in s.scalars(
            select(Profile).order_by(Profile.id))]
    assert people == [("Ada", "ada@example.com", "+49561123456", "pos"), ("Eve", None, "+442079460958", "web")]


def test_a_csv_row_with_values_too_long_for_their_columns_is_refused_alone(db, tmp_path):
    path = write(tmp_path / "customers.csv", "given_name,family_name,email,language,line1,city,postcode,country",
                 "Ada,Lovelace,ada@example.com,en,,,,",
                 f"{'B' * 101},Brown,bob@example.com,en,,,,",
                 f"Carl,Clark,carl@example.com,{'x' * 21},,,,",
                 f"Dora,Diaz,dora@example.com,,{'Torstraße 1 ' * 20},Berlin,10119,DE",
                 "Eve,Evans,eve@example.com,english!,,,,")
    report = import_csv(db, path, CustomerImport(actor=SYSTEM))
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "given_name: String should have at most 100 characters"),
        (4, "language: String should have at most 20 characters"),
        (5, "line1: String should have at most 200 characters"),
        (6, "language: String should match pattern '^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$'")]
    assert report.created == 1 and count(db, Profile) == 1


def test_a_csv_with_a_wrong_header_loads_nothing(db, tmp_path):
    from omniretail.core.csvio import HeaderError

    path = write(tmp_path / "customers.csv", "first,last,email", "Ada,Lovelace,ada@example.com")
    with pytest.raises(HeaderError, match="missing required column"):
        import_csv(db, path, CustomerImport(actor=SYSTEM))
    assert count(db, Profile) == 0


def test_a_csv_row_that_adds_to_a_known_person_is_counted_as_updated(db, tmp_path):
    path = write(tmp_path / "a.csv", "given_name,family_name,email", "Ada,Lovelace,ada@example.com")
    assert import_csv(db, path, CustomerImport(actor=SYSTEM)).created == 1
    more = write(tmp_path / "b.csv", "given_name,family_name,date_of_birth,email,line1,postcode,city,country",
                 "Ada,Lovelace,1990-05-17,ada@example.com,Lindenstraße 5,34117,Kassel,DE")
    report = import_csv(db, more, CustomerImport(actor=SYSTEM))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)


def test_exported_customers_import_back_as_the_same_people(db, tmp_path):
    for identities, attributes in (
            ([("email", "ada@example.com"), ("loyalty_card", "C1")],
             {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": date(1990, 5, 17), "language": "en",
              "address": AddressInput(line1="Lindenstraße 5", city="Kassel", postcode="34117",
                                                     country="DE")}),
            ([("phone", "+44 20 7946 0958"), ("pos_customer_id", "POS-77")],
             {"given_name": "Bob", "family_name": "Brown"})):
        with db.write() as s:
            identification.identify(s, actor=SYSTEM, channel="pos", attributes=identification.Attributes(**attributes),
                                    identities=[identification.IdentityInput(*i) for i in identities])
    out = io.StringIO()
    with db.read() as s:
        assert write_csv(out, COLUMNS, export_rows(s)) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1].split(",")[1:] == ["Ada", "Lovelace", "1990-05-17", "en", "ada@example.com", "", "C1", "",
                                       "Lindenstraße 5", "", "34117", "Kassel", "", "DE", "pos"]
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    report = import_csv(db, path, CustomerImport(actor=SYSTEM))
    assert (report.rows, report.created, report.updated, report.unchanged, report.errors) == (2, 0, 0, 2, [])
    assert count(db, Profile) == 2
