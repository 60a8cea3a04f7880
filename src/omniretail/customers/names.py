"""Name canonicalisation for matching: folding, nicknames, phonetic codes. Pure module."""

from __future__ import annotations

import importlib
import re
from functools import lru_cache

import jellyfish
from nicknames import NickNamer, name_triplets
from rapidfuzz.distance import DamerauLevenshtein

from omniretail.core.text import normalise

# German writers without an umlaut key write "ae", so "Müller" and "Mueller" must fold alike; letters that
# NFKD does not decompose (ł, ø, æ) are spelled out so Polish and Nordic names keep their letters.
# fmt: off
_SPELLED_OUT = str.maketrans({
    "ä": "ae", "ö": "oe", "ü": "ue", "Ä": "ae", "Ö": "oe", "Ü": "ue",
    "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "đ": "d", "Đ": "d",
    "ı": "i",
})
_NOT_LETTERS = re.compile(r"[^a-z]+")
_VOWELS_DROPPED = str.maketrans("", "", "aeiouy ")
_TITLES = frozenset({"dr", "prof", "herr", "frau", "mr", "mrs", "ms", "miss", "mme", "mlle", "dipl", "ing"})
_PARTICLES = frozenset({"von", "van", "der", "den", "de", "du", "da", "di", "la", "le", "zu", "zum", "ten", "ter",
                        "vom"})

# Short forms the English nickname list lacks: German, Dutch, Polish and French everyday names.
EUROPEAN_SHORT_FORMS: dict[str, tuple[str, ...]] = {
    "hans": ("johannes", "johann"), "hannes": ("johannes",), "hansi": ("johannes",), "johann": ("johannes",),
    "jo": ("johannes", "johanna", "josef"), "hanne": ("johanna",), "hanna": ("johanna",),
    "sepp": ("josef",), "seppl": ("josef",), "jupp": ("josef",), "beppo": ("josef",), "joseph": ("josef",),
    "steffi": ("stefanie",), "stephanie": ("stefanie",), "steff": ("stefan",), "stephan": ("stefan",),
    "katja": ("katharina",), "kathi": ("katharina",), "kati": ("katharina",), "kaethe": ("katharina",),
    "katrin": ("katharina",), "kathrin": ("katharina",), "trine": ("katharina",), "kasia": ("katarzyna",),
    "uli": ("ulrich", "ulrike"), "ulli": ("ulrich", "ulrike"), "rike": ("ulrike", "friederike"),
    "lisa": ("elisabeth",), "liese": ("elisabeth",), "lieschen": ("elisabeth",), "elli": ("elisabeth",),
    "sissi": ("elisabeth",), "betti": ("elisabeth",), "babette": ("elisabeth",), "elise": ("elisabeth",),
    "alex": ("alexander", "alexandra"), "sascha": ("alexander",), "sandra": ("alexandra",),
    "ola": ("aleksandra",), "olek": ("aleksander",),
    "andi": ("andreas",), "basti": ("sebastian",), "flo": ("florian",), "fritz": ("friedrich",),
    "franzi": ("franziska",), "gabi": ("gabriele",), "gerd": ("gerhard",), "heinz": ("heinrich",),
    "klaus": ("nikolaus",), "claus": ("nikolaus",), "nico": ("nikolaus", "nicolas"), "niko": ("nikolaus",),
    "lena": ("helena", "magdalena"), "leni": ("helene", "magdalena"), "lutz": ("ludwig",), "manni": ("manfred",),
    "max": ("maximilian",), "micha": ("michael",), "moni": ("monika",), "olli": ("oliver",),
    "resi": ("theresa", "therese"), "rolf": ("rudolf",), "susi": ("susanne",), "tina": ("christina", "martina"),
    "tom": ("thomas",), "tommi": ("thomas",), "toni": ("anton", "antonia"), "uschi": ("ursula",),
    "vroni": ("veronika",), "willi": ("wilhelm",), "bernd": ("bernhard",), "conny": ("cornelia",),
    "dani": ("daniel", "daniela"), "didi": ("dieter",), "gitti": ("brigitte",), "kalle": ("karl",),
    "lotte": ("charlotte",), "mia": ("maria",), "mitzi": ("maria",), "pit": ("peter",), "benni": ("benjamin",),
    "marlies": ("marieluise",), "anni": ("anna",), "rudi": ("rudolf",), "wolfi": ("wolfgang",),
    "henk": ("hendrik",), "piet": ("pieter",), "kees": ("cornelis",), "wim": ("willem",), "sjaak": ("jacobus",),
    "joop": ("johannes",), "jan": ("johannes",), "mies": ("maria",),
    "basia": ("barbara",), "gosia": ("malgorzata",), "malgosia": ("malgorzata",), "tomek": ("tomasz",),
    "kuba": ("jakub",), "asia": ("joanna",), "ania": ("anna",), "zosia": ("zofia",), "stas": ("stanislaw",),
    "piotrek": ("piotr",), "wojtek": ("wojciech",), "jurek": ("jerzy",), "bartek": ("bartlomiej",),
    "cathy": ("catherine",), "isa": ("isabelle",), "steph": ("stephane", "stephanie"), "fred": ("frederic",),
}

ENGLISH_NICKNAMES = NickNamer()
# Faker's given-name lists of the countries our customers mostly come from: a dictionary of real names
_NAME_LIST_LOCALES = ("de_DE", "de_AT", "de_CH", "en_GB", "en_US", "fr_FR", "nl_NL", "pl_PL", "it_IT", "es_ES",
                      "tr_TR", "cs_CZ", "da_DK", "sv_SE")
# fmt: on


def plain_text(text: str) -> str:
    """Lower-case ASCII with umlauts spelled out ("Müller" → "mueller") and other accents dropped."""
    return text.lower() if text.isascii() else normalise(text.translate(_SPELLED_OUT))


@lru_cache(maxsize=65536)
def fold_tokens(text: str | None) -> tuple[str, ...]:
    """Words of a name in plain lower-case ASCII, titles dropped: "Dr. Jürgen Müller-Lüdenscheidt" → 4 words."""
    if not text:
        return ()
    return tuple(word for word in _NOT_LETTERS.split(plain_text(text)) if word and word not in _TITLES)


def fold_name(text: str | None) -> str:
    """A name as one comparable string of lower-case ASCII words ("" when absent)."""
    return " ".join(fold_tokens(text))


def family_core(tokens: tuple[str, ...]) -> str:
    """A family name without particles, run together: "van der Berg" → "berg", "Meyer-Ott" → "meyerott"."""
    core = [word for word in tokens if word not in _PARTICLES]
    return "".join(core or tokens)


@lru_cache(maxsize=65536)
def phonetic(word: str) -> str:
    """A short sound-alike code (NYSIIS, cut to six letters as the standard does); "" for no word."""
    return jellyfish.nysiis(word)[:6] if word else ""


@lru_cache(maxsize=65536)
def given_name_forms(name: str) -> frozenset[str]:
    """The folded given name with the full names it may be short for (English list plus European forms)."""
    if not name:
        return frozenset()
    first = name.split(" ", 1)[0]
    forms = {name, first, *EUROPEAN_SHORT_FORMS.get(first, ())}
    forms.update(fold_name(canonical) for canonical in ENGLISH_NICKNAMES.canonicals_of(first))
    return frozenset(forms)


def are_nicknames(a: str, b: str) -> bool:
    """Whether one folded given name is a short form of the other, or both are of one full name."""
    return not given_name_forms(a).isdisjoint(given_name_forms(b))


# Endings that turn a man's name into a woman's: Jan/Jana, Christian/Christiane, Franco/Franca, Julius/Julia.
_GENDER_ENDINGS = (("", "a"), ("", "e"), ("", "ina"), ("", "ine"), ("o", "a"), ("us", "a"), ("", "ia"))


def is_gendered_pair(a: str, b: str) -> bool:
    """A man's and a woman's form of one name (Jan/Jana, Emil/Emily): siblings or twins, not a typo."""
    if a[:2] != b[:2] or abs(len(a) - len(b)) > 3:
        return False
    sex_a, sex_b = sex_of(a), sex_of(b)
    if sex_a and sex_b:
        # Helen and Helena are both women's names, one name spelled two ways; Johannes and Johanne are not
        return sex_a != sex_b and DamerauLevenshtein.distance(a, b, score_cutoff=2) <= 2
    for male, female in _GENDER_ENDINGS:
        for man, woman in ((a, b), (b, a)):
            if man.endswith(male) and woman.endswith(female):
                stem = man[: len(man) - len(male)]
                if len(stem) >= 2 and woman == stem + female:
                    return True
    return False


@lru_cache(maxsize=1)
def _name_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Folded given names: all known, men's, women's (nickname list and Faker's per-country lists)."""
    names = {fold_name(name) for triplet in name_triplets() for name in (triplet.name1, triplet.name2)}
    names.update(EUROPEAN_SHORT_FORMS)
    men: set[str] = set()
    women: set[str] = set()
    for locale in _NAME_LIST_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        names.update(fold_name(name) for name in getattr(provider, "first_names", ()))
        men.update(fold_name(name) for name in getattr(provider, "first_names_male", ()))
        women.update(fold_name(name) for name in getattr(provider, "first_names_female", ()))
    names.discard("")
    return frozenset(names | men | women), frozenset(men - women), frozenset(women - men)


def known_given_names() -> frozenset[str]:
    """Folded given names of real people (loaded on first use)."""
    return _name_lists()[0]


def sex_of(name: str) -> str | None:
    """The sex ("m" or "f") the name lists give a folded given name, or None when they give it both or neither."""
    _known, men, women = _name_lists()
    return "m" if name in men else "f" if name in women else None


def are_distinct_names(a: str, b: str) -> bool:
    """Two real given names that differ in a vowel (Tim/Tom, Lena/Lina) or in sound (Heidi/Heini): two people."""
    known = known_given_names()
    if a not in known or b not in known:
        return False
    if a[:-1] == b[:-1] or a.startswith(b) or b.startswith(a):
        return False  # another ending of one name (Maria/Marie, Helen/Helena); men's and women's forms come earlier
    # a consonant spelled another way keeps the name (Stefan/Stephan); another vowel makes another name
    return _consonants(a) == _consonants(b) or phonetic(a.replace(" ", "")) != phonetic(b.replace(" ", ""))


def _consonants(name: str) -> str:
    return name.translate(_VOWELS_DROPPED)
