from datetime import date

from omniretail.customers.blocking import MAX_KEY_LENGTH, blocking_keys
from omniretail.customers.dedupe import ScoredPair, find_duplicates, plan_merges
from omniretail.customers.matching import Person, Thresholds, normalise_phone, score
from omniretail.customers.names import are_nicknames, fold_name

LIMITS = Thresholds()
HOME = {"line1": "Hauptstraße 12", "postcode": "28195", "city": "Bremen", "country": "DE"}
LANDLINE = "+494211234567"


def person(given, family, born=None, **fields):
    return Person(given_name=given, family_name=family, date_of_birth=born, **fields)


def test_bill_and_william_are_one_person_when_the_rest_agrees():
    a = person("William", "Smith", date(1970, 5, 17), emails=("w.smith@example.org",))
    b = person("Bill", "Smith", date(1970, 5, 17), phones=("+447700900123",))
    result = score(a, b)
    assert "given_name_nickname" in result.reasons
    assert result.probability >= LIMITS.auto


def test_hans_is_short_for_johannes_and_sepp_for_josef():
    assert are_nicknames("hans", "johannes")
    assert are_nicknames("sepp", "josef")
    assert not are_nicknames("hans", "josef")
    assert (
        "given_name_nickname"
        in score(person("Hans", "Huber", date(1950, 1, 3)), person("Johannes", "Huber", date(1950, 1, 3))).reasons
    )


def test_umlauts_and_their_spelled_out_form_fold_alike():
    assert fold_name("Müller") == fold_name("Mueller") == "mueller"
    assert fold_name("Dr. Jürgen Groß-Weiß") == "juergen gross weiss"


def test_a_typo_in_the_family_name_still_matches():
    a = person("Sabine", "Schneider", date(1983, 11, 2), **HOME)
    b = person("Sabine", "Schnieder", date(1983, 11, 2), **HOME)
    result = score(a, b)
    assert result.reasons == ("family_name_typo", "same_given_name", "same_date_of_birth", "same_address")
    assert result.probability >= LIMITS.auto


def test_a_married_name_with_the_same_email_and_birthday_matches():
    a = person("Anna", "Schmidt", date(1990, 4, 8), emails=("anna.schmidt@gmx.de",))
    b = person("Anna", "Becker", date(1990, 4, 8), emails=("anna.schmidt@gmx.de",), **HOME)
    result = score(a, b)
    assert "family_name_changed" in result.reasons
    assert "same_email" in result.reasons
    assert result.probability >= LIMITS.auto


def test_household_members_sharing_address_surname_and_landline_do_not_match():
    mother = person("Anna", "Müller", date(1978, 2, 14), phones=(LANDLINE,), **HOME)
    son = person("Paul", "Müller", date(2008, 9, 30), phones=(LANDLINE,), **HOME)
    result = score(mother, son)
    assert "household_conflict" in result.reasons
    assert result.probability < LIMITS.review


def test_twins_with_one_birthday_do_not_match():
    lena = person("Lena", "Wagner", date(2001, 6, 5), phones=(LANDLINE,), **HOME)
    marie = person("Marie", "Wagner", date(2001, 6, 5), phones=(LANDLINE,), **HOME)
    assert score(lena, marie).probability < LIMITS.review


def test_twins_named_jan_and_jana_are_two_people_not_a_typo():
    jan = person("Jan", "Wagner", date(2001, 6, 5), **HOME)
    jana = person("Jana", "Wagner", date(2001, 6, 5), **HOME)
    assert "given_name_conflict" in score(jan, jana).reasons
    assert score(jan, jana).probability < LIMITS.review


def test_tim_and_tom_are_two_real_names_not_a_typo_but_ralph_is_ralf():
    assert "given_name_conflict" in score(person("Tim", "Becker", **HOME), person("Tom", "Becker", **HOME)).reasons
    assert "given_name_phonetic" in score(person("Ralph", "Becker"), person("Ralf", "Becker")).reasons


def test_a_namesake_in_another_city_born_on_another_day_does_not_match():
    bremen = person("Thomas", "Müller", date(1980, 3, 2), **HOME)
    munich = person("Thomas", "Müller", date(1975, 10, 21), line1="Leopoldstr. 5", postcode="80802", city="München")
    assert score(bremen, munich).probability < LIMITS.review


def test_a_record_without_a_first_name_at_a_household_address_goes_to_review_not_to_a_merge():
    named = person("Lena", "Wagner", date(2001, 6, 5), **HOME)
    nameless = person(None, "Wagner", date(2001, 6, 5), **HOME)
    result = score(named, nameless)
    assert "given_name_missing" in result.reasons
    assert LIMITS.review <= result.probability < LIMITS.auto


def test_swapped_given_and_family_name_match():
    result = score(person("Katharina", "Vogel", date(1966, 12, 1)), person("Vogel", "Katharina", date(1966, 12, 1)))
    assert "names_swapped" in result.reasons
    assert result.probability >= LIMITS.auto


def test_day_and_month_swapped_in_the_birthday_is_recognised():
    result = score(person("Ute", "Krüger", date(1959, 3, 11), **HOME), person("Ute", "Krüger", date(1959, 11, 3)))
    assert "dob_day_month_swapped" in result.reasons


def test_a_shared_loyalty_card_names_one_person_even_with_another_first_name():
    a = person("Elisabeth", "Roth", strong_ids=("loyalty_card:9000000001",))
    b = person("Lisa", "Roth", strong_ids=("loyalty_card:9000000001",), **HOME)
    result = score(a, b)
    assert result.reasons[0] == "same_loyalty_card"
    assert result.probability >= LIMITS.auto


def test_phone_numbers_in_any_spelling_normalise_to_one_e164():
    spellings = ["0421 1234567", "+49 421 1234567", "0049 421 1234567", "(0421) 123 45 67", "+494211234567"]
    assert {normalise_phone(raw, "DE") for raw in spellings} == {LANDLINE}
    assert normalise_phone("0421", "DE") is None


def test_a_typoed_duplicate_without_contact_details_shares_a_block_with_its_original():
    original = person("Sabine", "Schneider", date(1983, 11, 2), emails=("sabine@example.org",), **HOME)
    duplicate = person("Sabien", "Schnieder", date(1983, 2, 11))
    assert blocking_keys(original) & blocking_keys(duplicate)


def test_blocking_keys_fit_the_database_column():
    long_mail = "a.very.long.mailbox.name.that.goes.on.and.on@some-subdomain.example-company.co.uk"
    keys = blocking_keys(person("Max", "Mustermann", date(1990, 1, 1), emails=(long_mail,), **HOME))
    assert max(len(key) for key in keys) <= MAX_KEY_LENGTH
    assert "nd:MASTAR:19900101" in keys


def test_plan_merges_keeps_a_household_apart_even_when_one_pair_links_it():
    pairs = [ScoredPair(1, 2, 0.99, ()), ScoredPair(2, 3, 0.96, ()), ScoredPair(3, 4, 0.99, ())]
    assert plan_merges(pairs, conflicts={(1, 3)}) == [(1, 2), (3, 4)]
    assert plan_merges(pairs) == [(1, 2), (3, 4), (1, 3)]


def test_plan_merges_keeps_the_older_profile_and_absorbs_a_cluster_only_once():
    pairs = [ScoredPair(5, 9, 0.99, ()), ScoredPair(2, 9, 0.98, ()), ScoredPair(2, 5, 0.97, ())]
    assert plan_merges(pairs) == [(5, 9), (2, 5)]


def test_find_duplicates_merges_the_certain_queues_the_doubtful_and_keeps_households_apart():
    records = [
        (1, person("Anna", "Müller", date(1978, 2, 14), emails=("anna@example.org",), phones=(LANDLINE,), **HOME)),
        (2, person("Anna", "Mueller", date(1978, 2, 14), emails=("anna@example.org",))),
        (3, person("Paul", "Müller", date(2008, 9, 30), phones=(LANDLINE,), **HOME)),
        (4, person(None, "Müller", None, **HOME)),
    ]
    result = find_duplicates(records, LIMITS)
    assert [(p.a_id, p.b_id) for p in result.auto_pairs] == [(1, 2)]
    assert sorted((p.a_id, p.b_id) for p in result.review_pairs) == [(1, 4), (3, 4)]
    assert result.conflict_pairs == {(1, 3)}
    assert plan_merges(result.auto_pairs + result.review_pairs, conflicts=result.conflict_pairs) == [(1, 2), (1, 4)]
