from omniretail.catalog import search


def test_tokens_fold_case_and_accents_and_drop_repeats():
    assert search.tokens("Crème Brûlée CRÈME 500g, Straße") == ["creme", "brulee", "500g", "strasse"]


def test_deletion_keys_are_the_word_and_each_one_letter_deletion():
    assert search.deletion_keys("milk") == {"milk", "ilk", "mlk", "mik", "mil"}


def test_words_with_digits_and_short_words_get_no_fuzzy_keys():
    assert search.deletion_keys("500g") == {"500g"}
    assert search.deletion_keys("xl") == {"xl"}


def test_substitution_insertion_deletion_and_transposition_are_one_edit():
    for typo in ("chocolste", "chocolatte", "chocolte", "chocloate"):
        assert search.within_one_edit(typo, "chocolate"), typo
    assert not search.within_one_edit("chclte", "chocolate")


def test_words_one_edit_apart_share_a_deletion_key():
    for typo in ("mlik", "milc", "mil", "milks"):
        assert search.deletion_keys(typo) & search.deletion_keys("milk"), typo


def test_exact_match_outweighs_prefix_which_outweighs_a_typo():
    word = search.QueryWord(0, "milk", is_last=True)
    weights = search.weigh_candidates(word, fuzzy_terms={"mild", "silk", "milk"}, prefix_terms={"milky"})
    assert weights == {"milk": search.EXACT, "mild": search.FUZZY, "silk": search.FUZZY, "milky": search.PREFIX}


def test_fuzzy_candidates_two_edits_away_are_dropped():
    word = search.QueryWord(0, "milk", is_last=False)
    assert search.weigh_candidates(word, fuzzy_terms={"mike"}, prefix_terms=set()) == {"milk": search.EXACT}


def test_only_the_last_word_matches_as_a_prefix():
    words = search.parse_query("dark choc")
    assert [w.allows_prefix for w in words] == [False, True]


def test_prefix_upper_bound_is_just_past_every_completion():
    upper = search.prefix_upper_bound("choc")
    assert "choc" < "chocolate" < upper and "chod" == upper
