"""Whether two customer records name one person: Fellegi–Sunter field weights and a household veto. Pure module."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from omniretail.customers.names import (
    are_distinct_names,
    are_nicknames,
    family_core,
    fold_name,
    fold_tokens,
    is_gendered_pair,
    phonetic,
    plain_text,
)


@dataclass(frozen=True, slots=True)
class Person:
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: datetime.date | None = None
    emails: tuple[str, ...] = ()  # already normalised (lower-case)
    phones: tuple[str, ...] = ()  # already E.164
    line1: str | None = None  # street and number
    postcode: str | None = None
    city: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    strong_ids: tuple[str, ...] = ()  # "loyalty_card:123", "device_id:abc": identities that name one person


@dataclass(frozen=True, slots=True)
class MatchResult:
    probability: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Thresholds:
    auto: float = 0.95  # above DOUBT_CEILING, so a pair that may be two household members never merges itself
    review: float = 0.5

    def decide(self, probability: float) -> str:
        """The decision for a match probability: "auto", "review" or "none"."""
        return "auto" if probability >= self.auto else "review" if probability >= self.review else "none"


# Log2 likelihood ratios log2(m/u): m = P(level | one person), u = P(level | two people who share a block).
# Reasoned from how often each level occurs for one person (typos, nicknames, married names, missing fields) and
# for households and namesakes, then tuned on the generated and FEBRL sets (quality.quality_report).
# fmt: off
WEIGHTS = {
    "same_strong_id": 20.0,
    "same_email": 12.0, "same_email_user": 2.0, "different_email": -1.0,
    "same_mobile_phone": 10.0, "same_phone": 4.0, "different_phone": -0.5,
    "same_given_name": 4.5, "given_name_nickname": 3.0, "given_name_typo": 3.0, "given_name_partial": 2.0,
    "given_name_phonetic": 2.0, "given_name_initial": 1.0, "given_name_conflict": -6.0,
    "same_family_name": 5.0, "family_name_typo": 3.5, "family_name_partial": 3.0, "family_name_phonetic": 3.0,
    "family_name_changed": -2.0, "names_swapped": 8.0,
    "same_date_of_birth": 9.0, "dob_day_month_swapped": 6.0, "dob_typo": 4.0, "dob_conflict": -6.0,
    "same_address": 6.5, "same_street": 2.0, "same_area": 1.0, "different_address": -1.0,
}
# fmt: on
PRIOR_LOG_ODDS = -10.0  # ten bits of evidence make even odds: a full name and a postcode are not enough
VETO_CEILING = 0.01  # a vetoed pair stays below any sensible review threshold
DOUBT_CEILING = 0.9  # a pair that may be two members of one household goes to review, never merges by itself
_GIVEN_AGREES = ("same_given_name", "given_name_nickname", "given_name_typo", "given_name_phonetic")
_FAMILY_AGREES = ("same_family_name", "family_name_typo", "family_name_partial", "family_name_phonetic")


def normalise_phone(raw: str | None, region: str | None = "DE") -> str | None:
    """A phone number in E.164 ("+494211234567") from any national or international spelling, or None."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_user(email: str) -> str:
    """The mailbox part without dots and "+tag", so "Max.Mueller+shop@x" and "maxmueller@y" compare equal."""
    local = email.split("@", 1)[0].split("+", 1)[0]
    return local.replace(".", "").replace("_", "").replace("-", "")


@lru_cache(maxsize=262144)
def is_mobile(e164: str) -> bool:
    """Whether a number is a mobile (one person's) rather than a landline (a household's)."""
    if not (e164.startswith("+") and e164[1:].isdigit()):
        return False
    for length in (1, 2, 3):  # E.164 is already clean: split off the country code instead of parsing again
        country_code = int(e164[1 : 1 + length])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(e164[1 + length :]))
            kind = phonenumbers.number_type(number)
            return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return False


# Street types as written out or abbreviated, folded to one spelling, in the order they are tried.
# fmt: off
_STREET_SUFFIXES = (("strasse", "str"), ("street", "st"), ("road", "rd"), ("avenue", "av"), ("ave", "av"),
                    ("place", "pl"), ("platz", "pl"), ("straat", "str"), ("laan", "ln"), ("lane", "ln"),
                    ("crescent", "cr"), ("drive", "dr"), ("court", "ct"), ("circuit", "cct"))
# fmt: on
_HOUSE_NUMBER = re.compile(r"(\d+)\s*([a-z](?![a-z]))?")
_STREET_PREFIXES = ("ul", "al", "pl")  # Polish "ul." (street), "al." (avenue), "pl." (square)


def street_parts(line1: str | None) -> tuple[str, str]:
    """(street name as folded letters with a canonical type suffix, house number) of an address line."""
    if not line1:
        return "", ""
    text = plain_text(line1)
    match = _HOUSE_NUMBER.search(text)
    house = (match.group(1) + (match.group(2) or "")) if match else ""
    words = fold_tokens(_HOUSE_NUMBER.sub(" ", text))
    if len(words) > 1 and words[0] in _STREET_PREFIXES:
        words = words[1:]
    street = "".join(words)
    for long_form, short_form in _STREET_SUFFIXES:
        if street.endswith(long_form):
            street = street[: -len(long_form)] + short_form
            break
    return street, house


@dataclass(slots=True)
class Features:
    """A person prepared once for many comparisons."""

    given: str
    family: str
    family_words: frozenset[str]
    given_code: str
    family_code: str
    dob: str  # "YYYYMMDD" or ""
    emails: frozenset[str]
    email_users: frozenset[str]
    phones: frozenset[str]
    street: str
    house: str
    postcode: str
    city: str
    strong_ids: frozenset[str]


def prepare(person: Person) -> Features:
    """Fold and encode a person's fields for comparison."""
    given, family_tokens = fold_name(person.given_name), fold_tokens(person.family_name)
    family = " ".join(family_tokens)
    street, house = street_parts(person.line1)
    dob = person.date_of_birth
    return Features(
        given=given,
        family=family,
        family_words=frozenset(family_tokens),
        given_code=phonetic(given.replace(" ", "")),
        family_code=phonetic(family_core(family_tokens)),
        dob=f"{dob.year:04d}{dob.month:02d}{dob.day:02d}" if dob else "",
        emails=frozenset(person.emails),
        email_users=frozenset(user for email in person.emails if len(user := email_user(email)) >= 5),
        phones=frozenset(person.phones),
        street=street,
        house=house,
        postcode=(person.postcode or "").replace(" ", "").upper(),
        city=fold_name(person.city).replace(" ", ""),
        strong_ids=frozenset(person.strong_ids),
    )


features_of = lru_cache(maxsize=65536)(prepare)  # the identify path scores the same profiles again and again


def given_level(a: str, b: str) -> str:
    """How two folded given names agree."""
    if a == b:
        return "same_given_name"
    if len(a) == 1 or len(b) == 1:
        return "given_name_initial" if a[0] == b[0] else "given_name_conflict"
    if is_gendered_pair(a, b):
        return "given_name_conflict"
    if are_nicknames(a, b):
        return "given_name_nickname"
    if (" " in a or " " in b) and not set(a.split()).isdisjoint(b.split()):
        return "given_name_partial"
    if are_distinct_names(a, b):
        return "given_name_conflict"
    if _is_typo(a, b):
        return "given_name_typo"
    if phonetic(a.replace(" ", "")) == phonetic(b.replace(" ", "")):
        return "given_name_phonetic"
    return "given_name_conflict"


def family_level(a: Features, b: Features) -> str:
    """How two family names agree; a mismatch reads as a changed (married) name, not a conflict."""
    if a.family == b.family:
        return "same_family_name"
    if _is_typo(a.family, b.family):
        return "family_name_typo"
    if not a.family_words.isdisjoint(b.family_words):
        return "family_name_partial"
    if a.family_code == b.family_code:
        return "family_name_phonetic"
    return "family_name_changed"


def dob_level(a: str, b: str) -> str:
    """How two "YYYYMMDD" dates agree: equal, day and month swapped, one keying error, or not at all."""
    if a == b:
        return "same_date_of_birth"
    if a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return "dob_day_month_swapped"
    if DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1:
        return "dob_typo"
    return "dob_conflict"


def address_level(a: Features, b: Features) -> str | None:
    """How two addresses agree, or None when either lacks one."""
    same_place = (a.postcode and a.postcode == b.postcode) or (a.city and a.city == b.city)
    if a.street and b.street and JaroWinkler.similarity(a.street, b.street) >= 0.9:
        has_place = (a.postcode or a.city) and (b.postcode or b.city)
        if a.house and a.house == b.house and (same_place or not has_place):
            return "same_address"
        if same_place:
            return "same_street"
    if same_place:
        return "same_area"
    if (a.postcode or a.city) and (b.postcode or b.city):
        return "different_address"
    return None


def _is_typo(a: str, b: str) -> bool:
    """One keying error (two in long names), or a Jaro–Winkler similarity typical of typos."""
    allowed = 2 if min(len(a), len(b)) >= 6 else 1
    if DamerauLevenshtein.distance(a, b, score_cutoff=allowed) <= allowed and min(len(a), len(b)) >= 3:
        return True
    return JaroWinkler.similarity(a, b) >= 0.93


def compare(a: Features, b: Features) -> MatchResult:
    """Sum the agreement weights of two prepared persons and map the sum to a match probability."""
    reasons: list[str] = []
    one_person = False
    if a.strong_ids and not a.strong_ids.isdisjoint(b.strong_ids):
        one_person = True
        kinds = sorted({i.split(":", 1)[0] for i in a.strong_ids & b.strong_ids})
        reasons.extend(f"same_{kind}" for kind in kinds)
    total = WEIGHTS["same_strong_id"] if one_person else 0.0
    if a.emails and b.emails:
        if not a.emails.isdisjoint(b.emails):
            one_person = True
            reasons.append("same_email")
        elif not a.email_users.isdisjoint(b.email_users):
            reasons.append("same_email_user")
        else:
            reasons.append("different_email")
    shared_phone = shared_mobile = False
    if a.phones and b.phones:
        shared = a.phones & b.phones
        if shared:
            shared_phone, shared_mobile = True, any(is_mobile(p) for p in shared)
            reasons.append("same_mobile_phone" if shared_mobile else "same_phone")
        else:
            reasons.append("different_phone")
    given = given_level(a.given, b.given) if a.given and b.given else None
    family = family_level(a, b) if a.family and b.family else None
    if given == "given_name_conflict" and family == "family_name_changed" and _swapped(a, b):
        given, family = None, "names_swapped"
    for level in (family, given):
        if level is not None:
            reasons.append(level)
    dob = dob_level(a.dob, b.dob) if a.dob and b.dob else None
    if dob is not None:
        reasons.append(dob)
    address = address_level(a, b)
    if address is not None:
        reasons.append(address)
    for reason in reasons:
        total += WEIGHTS.get(reason, 0.0)
    if "same_phone" in reasons and address == "same_address":
        total -= WEIGHTS["same_phone"]  # a shared landline at a shared address is one fact: the same household
    probability = 1.0 / (1.0 + 2.0 ** -(total + PRIOR_LOG_ODDS))
    if one_person:
        return MatchResult(probability, tuple(reasons))
    # Twins, siblings and spouses share a surname, an address, a landline and sometimes a birthday: with another
    # first name they are another person unless an identity that names one person (card, e-mail) says otherwise.
    household = shared_phone or address in ("same_address", "same_street") or family in _FAMILY_AGREES
    if given == "given_name_conflict" and (household or dob == "same_date_of_birth"):
        reasons.append("household_conflict")
        probability = min(probability, VETO_CEILING)
    elif not (a.given and b.given) and family != "names_swapped" and household and not shared_mobile:
        # without a first name nothing tells this person from the others of the household: staff decide
        reasons.append("given_name_missing")
        probability = min(probability, DOUBT_CEILING)
    return MatchResult(probability, tuple(reasons))


def _swapped(a: Features, b: Features) -> bool:
    """Whether given and family name were entered in each other's fields."""
    family_moved = a.given == b.family or _is_typo(a.given, b.family)
    return family_moved and given_level(a.family, b.given) in _GIVEN_AGREES


def score(a: Person, b: Person) -> MatchResult:
    """How likely two records name one person, and why."""
    return compare(features_of(a), features_of(b))
