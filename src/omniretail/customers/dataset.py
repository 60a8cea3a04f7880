"""Labelled customer records to measure matching on, generated with the errors real channels make."""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

import faker
import phonenumbers

from omniretail.customers.matching import Person, normalise_phone
from omniretail.customers.names import (
    ENGLISH_NICKNAMES,
    EUROPEAN_SHORT_FORMS,
    are_nicknames,
    fold_name,
    is_gendered_pair,
    sex_of,
)

# fmt: off
LOCALES = (("de_DE", "DE", 0.70), ("en_GB", "GB", 0.08), ("nl_NL", "NL", 0.08), ("fr_FR", "FR", 0.07),
           ("pl_PL", "PL", 0.07))
MAIL_DOMAINS = {
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.de", "posteo.de", "yahoo.de"),
    "GB": ("gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"),
    "NL": ("ziggo.nl", "kpnmail.nl", "gmail.com", "hotmail.nl"),
    "FR": ("orange.fr", "free.fr", "gmail.com", "laposte.net"),
    "PL": ("wp.pl", "onet.pl", "o2.pl", "gmail.com", "interia.pl"),
}
# (mobile prefixes, landline area codes) in national significant form; subscriber digits are drawn at random.
PHONE_PLANS = {
    "DE": (("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177", "178", "179"),
           ("30", "40", "89", "221", "69", "711", "211", "231", "201", "421", "341", "351", "511", "911", "561")),
    "GB": (("74", "75", "77", "78", "79"), ("20", "161", "121", "131", "113")),
    "NL": (("6",), ("20", "10", "30", "70", "40")),
    "FR": (("6", "7"), ("1", "2", "3", "4", "5")),
    "PL": (("50", "51", "60", "66", "69", "72", "78", "88"), ("22", "12", "61", "71", "58")),
}
NATIONAL_LENGTH = {"DE": 11, "GB": 10, "NL": 9, "FR": 9, "PL": 9}
PHONE_SPELLINGS = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                   phonenumbers.PhoneNumberFormat.NATIONAL)
# fmt: on


@dataclass(frozen=True, slots=True)
class LabelledRecord:
    record_id: int
    entity_id: int
    person: Person
    kind: str = "person"  # person, duplicate, household, twin, namesake: what the record is in the set


@dataclass(slots=True)
class _Draft:
    """A person while being generated: raw phone numbers keep the national form so spellings can vary."""

    given: str | None
    family: str | None
    sex: str
    dob: datetime.date | None
    emails: list[str]
    phones: list[phonenumbers.PhoneNumber]
    line1: str | None
    postcode: str | None
    city: str | None
    country: str
    strong_ids: list[str]


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {}
        for offset, (locale, country, _weight) in enumerate(LOCALES):
            fake = faker.Faker(locale)
            fake.seed_instance(seed * 7919 + offset)
            self.fakers[country] = fake
        self.countries = [country for _locale, country, _w in LOCALES]
        self.weights = [weight for _l, _c, weight in LOCALES]
        self.used_emails: set[str] = set()
        self.serial = 0

    def given(self, country: str, sex: str) -> str:
        fake = self.fakers[country]
        return fake.first_name_female() if sex == "f" else fake.first_name_male()

    def dob(self, low: int = 1935, high: int = 2006) -> datetime.date:
        start = datetime.date(low, 1, 1).toordinal()
        return datetime.date.fromordinal(self.rng.randint(start, datetime.date(high, 12, 31).toordinal()))

    def phone(self, country: str, *, mobile: bool) -> phonenumbers.PhoneNumber:
        mobiles, areas = PHONE_PLANS[country]
        for _attempt in range(20):
            prefix = self.rng.choice(mobiles if mobile else areas)
            length = NATIONAL_LENGTH[country] - (self.rng.random() < 0.3 and country == "DE" and not mobile)
            digits = prefix + "".join(self.rng.choice("0123456789") for _ in range(length - len(prefix)))
            number = phonenumbers.parse(digits, country)
            if phonenumbers.is_valid_number(number):
                return number
        return phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)

    def email(self, given: str | None, family: str | None, country: str) -> str:
        first, last = fold_name(given).replace(" ", "") or "kunde", fold_name(family).replace(" ", "") or "mail"
        patterns = (
            f"{first}.{last}",
            f"{first}{last}",
            f"{first[0]}.{last}",
            f"{last}.{first}",
            f"{first}_{last}",
            f"{first}.{last}{self.rng.randint(60, 99)}",
            f"{last}{self.rng.randint(1, 999)}",
        )
        user, domain = self.rng.choice(patterns), self.rng.choice(MAIL_DOMAINS[country])
        while f"{user}@{domain}" in self.used_emails:  # an address belongs to one person
            user += str(self.rng.randint(0, 9))
        self.used_emails.add(f"{user}@{domain}")
        return f"{user}@{domain}"

    def address(self, country: str) -> tuple[str, str, str]:
        fake, number = self.fakers[country], str(self.rng.randint(1, 160))
        if self.rng.random() < 0.08:
            number += self.rng.choice("abc")
        street = fake.street_name()
        line1 = {"GB": f"{number} {street}", "FR": f"{number}, {street}", "PL": f"ul. {street} {number}"}.get(
            country, f"{street} {number}"
        )
        return line1, fake.postcode(), fake.city()

    def strong_ids(self) -> list[str]:
        self.serial += 1
        ids = []
        if self.rng.random() < 0.35:
            ids.append(f"loyalty_card:{9_000_000_000 + self.serial}")
        if self.rng.random() < 0.2:
            ids.append(f"device_id:{self.rng.getrandbits(64):016x}")
        return ids

    def person(self) -> _Draft:
        country = self.rng.choices(self.countries, self.weights)[0]
        sex = self.rng.choice("fm")
        given, family = self.given(country, sex), self.fakers[country].last_name()
        line1, postcode, city = self.address(country)
        phones = [self.phone(country, mobile=True)] if self.rng.random() < 0.75 else []
        emails = [self.email(given, family, country)] if self.rng.random() < 0.85 else []
        return _Draft(given, family, sex, self.dob(), emails, phones, line1, postcode, city, country, self.strong_ids())

    def other_given(self, country: str, sex: str, taken: Sequence[str]) -> str:
        """A given name no member of the household has, nor a nickname or gendered form of one."""
        while True:
            name = self.given(country, sex)
            folded = fold_name(name)
            if all(
                folded != fold_name(t)
                and not are_nicknames(folded, fold_name(t))
                and not is_gendered_pair(folded, fold_name(t))
                for t in taken
            ):
                return name

    def household(self, head: _Draft) -> list[tuple[_Draft, str]]:
        """Members sharing address, surname and a landline with `head`, each another person; maybe twins."""
        landline = self.phone(head.country, mobile=False)
        head.phones.append(landline)
        members: list[tuple[_Draft, str]] = []
        taken = [head.given or ""]
        for index in range(self.rng.choice((1, 1, 2, 3))):
            sex = self.rng.choice("fm")
            if index == 0:  # a partner, then children
                dob = head.dob + datetime.timedelta(days=self.rng.randint(-3000, 3000))
            else:
                year = min(head.dob.year + self.rng.randint(20, 38), 2015)
                dob = datetime.date(year, self.rng.randint(1, 12), self.rng.randint(1, 28))
            member = self.member(head, sex, dob, self.other_given(head.country, sex, taken), landline)
            taken.append(member.given or "")
            members.append((member, "household"))
            if index > 0 and self.rng.random() < 0.25:
                twin_name = self.twin_name(member) if self.rng.random() < 0.3 else None
                sex = self.rng.choice("fm")
                twin = self.member(head, sex, dob, twin_name or self.other_given(head.country, sex, taken), landline)
                taken.append(twin.given or "")
                members.append((twin, "twin"))
        return members

    def twin_name(self, sibling: _Draft) -> str | None:
        """The other sex's form of a twin's name, as some parents choose: Jan and Jana, Paul and Paula."""
        name = sibling.given or ""
        sex = sex_of(fold_name(name))
        alike = [other for other in (f"{name}a", f"{name}e", name[:-1]) if sex_of(fold_name(other)) not in (None, sex)]
        return self.rng.choice(alike) if alike else None

    def member(
        self, head: _Draft, sex: str, dob: datetime.date, given: str, landline: phonenumbers.PhoneNumber
    ) -> _Draft:
        """Another person at the head's address with the head's surname and landline."""
        phones = [landline] + ([self.phone(head.country, mobile=True)] if self.rng.random() < 0.5 else [])
        emails = [self.email(given, head.family, head.country)] if self.rng.random() < 0.6 else []
        return replace(head, given=given, sex=sex, dob=dob, emails=emails, phones=phones, strong_ids=self.strong_ids())

    def namesake(self, model: _Draft) -> _Draft:
        """Another person of the same name elsewhere, born on another day."""
        other = self.person()
        other.given, other.family, other.sex, other.country = model.given, model.family, model.sex, model.country
        other.line1, other.postcode, other.city = self.address(model.country)
        other.phones = [self.phone(model.country, mobile=True)] if other.phones else []
        other.emails = [self.email(model.given, model.family, model.country)] if other.emails else []
        while abs((other.dob - model.dob).days) < 400:
            other.dob = self.dob()
        return other

    def spelled(self, draft: _Draft) -> Person:
        """The draft as a channel would hand it over: phone numbers in any spelling, normalised as on import."""
        phones = []
        for number in draft.phones:
            raw = phonenumbers.format_number(number, self.rng.choice(PHONE_SPELLINGS))
            if self.rng.random() < 0.2:
                raw = "00" + phonenumbers.format_number(number, PHONE_SPELLINGS[0])[1:]
            if (e164 := normalise_phone(raw, draft.country)) is not None:
                phones.append(e164)
        return Person(
            given_name=draft.given,
            family_name=draft.family,
            date_of_birth=draft.dob,
            emails=tuple(dict.fromkeys(e.lower() for e in draft.emails)),
            phones=tuple(dict.fromkeys(phones)),
            line1=draft.line1,
            postcode=draft.postcode,
            city=draft.city,
            country=draft.country,
            strong_ids=tuple(draft.strong_ids),
        )


# How often a channel's record of a person lacks a field the person has, and which mistakes it makes.
# fmt: off
KEEP = {"email": 0.65, "phone": 0.6, "dob": 0.65, "address": 0.7, "strong_ids": 0.25, "given": 0.96}
ERRORS = {"typo_given": 12, "typo_family": 14, "nickname": 10, "married": 8, "swap": 5, "dob_swap": 5,
          "dob_digit": 6, "email_variant": 8, "address_abbreviation": 10, "moved": 6, "new_contact": 6}
ERROR_COUNTS = ((0, 20), (1, 50), (2, 25), (3, 5))
_STREET_SPELLINGS = (("straße", "str."), ("Straße", "Str."), ("straße", "strasse"), ("Straße", "Strasse"),
                     ("Street", "St"), ("Road", "Rd"), ("laan", "ln"), ("ul. ", "ul."))
# fmt: on


def _typo(rng: random.Random, word: str) -> str:
    """One keying error: a letter inserted, dropped, replaced, or two swapped."""
    if len(word) < 3:
        return word
    at, letter = rng.randrange(1, len(word) - 1), rng.choice("abcdefghiklmnoprstuvwz")
    kind = rng.choice("idst")
    if kind == "i":
        return word[:at] + letter + word[at:]
    if kind == "d":
        return word[:at] + word[at + 1 :]
    if kind == "s":
        return word[:at] + letter + word[at + 1 :]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def _nickname(rng: random.Random, given: str) -> str | None:
    folded = fold_name(given)
    short = [nick for nick, full in EUROPEAN_SHORT_FORMS.items() if folded in full]
    short += sorted(ENGLISH_NICKNAMES.nicknames_of(folded))
    return rng.choice(short).capitalize() if short else None


def _other_dob(rng: random.Random, dob: datetime.date, *, swap: bool) -> datetime.date:
    if swap:
        return dob.replace(month=dob.day, day=dob.month) if dob.day <= 12 and dob.day != dob.month else dob
    digits = dob.strftime("%Y%m%d")
    for _attempt in range(20):
        at = rng.randrange(2, 8)
        wrong = digits[:at] + rng.choice("0123456789".replace(digits[at], "")) + digits[at + 1 :]
        try:
            return datetime.datetime.strptime(wrong, "%Y%m%d").date()
        except ValueError:
            continue
    return dob


def _apply(gen: _Generator, draft: _Draft, error: str) -> None:
    rng = gen.rng
    if error == "typo_given" and draft.given:
        draft.given = _typo(rng, draft.given)
    elif error == "typo_family" and draft.family:
        draft.family = _typo(rng, draft.family)
    elif error == "nickname" and draft.given:
        draft.given = _nickname(rng, draft.given) or draft.given
    elif error == "married" and (draft.sex == "f" or rng.random() < 0.15):
        new = gen.fakers[draft.country].last_name()
        draft.family = f"{draft.family}-{new}" if rng.random() < 0.2 else new
    elif error == "swap":
        draft.given, draft.family = draft.family, draft.given
    elif error in ("dob_swap", "dob_digit") and draft.dob:
        draft.dob = _other_dob(rng, draft.dob, swap=error == "dob_swap")
    elif error == "email_variant" and draft.emails:
        user, domain = draft.emails[0].split("@")
        variant = (
            f"{user.replace('.', '')}@{domain}"
            if "." in user and rng.random() < 0.5
            else f"{user}@{rng.choice(MAIL_DOMAINS[draft.country])}"
        )
        if variant not in gen.used_emails:  # someone else's address would make them one person
            gen.used_emails.add(variant)
            draft.emails = [variant]
    elif error == "address_abbreviation" and draft.line1:
        for long_form, short_form in rng.sample(_STREET_SPELLINGS, len(_STREET_SPELLINGS)):
            if long_form in draft.line1:
                draft.line1 = draft.line1.replace(long_form, short_form)
                break
        else:
            draft.line1 = draft.line1.upper()
    elif error == "moved":
        draft.line1, draft.postcode, draft.city = gen.address(draft.country)
    elif error == "new_contact":
        if rng.random() < 0.5:
            draft.emails = [gen.email(draft.given, draft.family, draft.country)]
        else:
            draft.phones = [gen.phone(draft.country, mobile=True)]


def _duplicate(gen: _Generator, base: _Draft) -> _Draft:
    """The same person as another channel recorded them: fewer fields, other spellings, mistakes."""
    rng = gen.rng
    keep = {field: rng.random() < chance for field, chance in KEEP.items()}
    if not (keep["email"] and base.emails or keep["phone"] and base.phones or keep["address"]):
        held = [field for field, value in (("email", base.emails), ("phone", base.phones)) if value]
        keep[rng.choice([*held, "address"])] = True  # a record without any way to reach the person is useless
    draft = replace(
        base,
        given=base.given if keep["given"] else None,
        dob=base.dob if keep["dob"] else None,
        emails=list(base.emails) if keep["email"] else [],
        phones=list(base.phones) if keep["phone"] else [],
        strong_ids=list(base.strong_ids) if keep["strong_ids"] else [],
    )
    if not keep["address"]:
        draft.line1 = draft.postcode = draft.city = None
    count = rng.choices([c for c, _w in ERROR_COUNTS], [w for _c, w in ERROR_COUNTS])[0]
    for error in rng.choices(list(ERRORS), list(ERRORS.values()), k=count):
        if error == "married" and not (draft.emails or draft.phones or draft.dob):
            draft.dob = base.dob  # a changed name is recognised by what stayed: mail, phone or birthday
        _apply(gen, draft, error)
    return draft


def generate(
    n_people: int, *, seed: int, duplicate_rate: float = 0.3, household_rate: float = 0.12, namesake_rate: float = 0.04
) -> list[LabelledRecord]:
    """Records of `n_people` people: ~`duplicate_rate` of them recorded 2–4 times, plus households and namesakes."""
    gen = _Generator(seed)
    people: list[tuple[_Draft, str]] = []
    while len(people) < n_people:
        head = gen.person()
        people.append((head, "person"))
        if gen.rng.random() < household_rate:
            people.extend(gen.household(head))
        if gen.rng.random() < namesake_rate:
            people.append((gen.namesake(head), "namesake"))
    drafts: list[tuple[int, _Draft, str]] = []
    for entity, (draft, kind) in enumerate(people[:n_people], start=1):
        drafts.append((entity, draft, kind))
        if gen.rng.random() < duplicate_rate:
            copies = gen.rng.choices((1, 2, 3), (70, 20, 10))[0]
            drafts.extend((entity, _duplicate(gen, draft), "duplicate") for _ in range(copies))
    gen.rng.shuffle(drafts)
    return [
        LabelledRecord(record_id, entity, gen.spelled(draft), kind)
        for record_id, (entity, draft, kind) in enumerate(drafts, start=1)
    ]
