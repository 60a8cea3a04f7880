"""Blocking keys: short strings that put likely duplicates side by side so matching compares few pairs. Pure module."""

from __future__ import annotations

import hashlib

from omniretail.customers.matching import Features, Person, features_of

MAX_KEY_LENGTH = 64  # the width of the database column that stores keys


def blocking_keys(person: Person) -> set[str]:
    """The keys under which a person is filed; two records of one person share at least one despite one error."""
    return keys_of(features_of(person))


def keys_of(features: Features) -> set[str]:
    """Blocking keys of a prepared person."""
    # Each kind of key survives another kind of error: an identity survives any change of name; a name's sound
    # code with the birth date survives a typo in, or change of, the other name; the names' first letters with
    # the birth date survive typos in both; both names with the birth year survive a wrong day or month; both
    # names with the postcode survive a missing date; the house number with the birth date survives a new name
    # and a misspelt street; the start of the street with the house number and place survives all but a move.
    keys = {f"id:{value}" for value in features.strong_ids}
    keys.update(f"em:{email}" for email in features.emails)
    keys.update(f"eu:{user}" for user in features.email_users)
    keys.update(f"ph:{phone}" for phone in features.phones)
    family, given, house = features.family_code, features.given_code, features.house
    place = features.postcode or features.city[:12]
    # day and month in ascending order, so a record with the two swapped files under the same key
    born = features.dob[:4] + "".join(sorted((features.dob[4:6], features.dob[6:8]))) if features.dob else ""
    if born:
        keys.update(f"nd:{code}:{born}" for code in (family, given) if code)
        if features.family and features.given:
            keys.add(f"ni:{features.family[:2]}{features.given[0]}:{born}")
        if house:
            keys.add(f"dh:{born}:{house}")
    if family and given:
        if born:
            keys.add(f"ny:{family}:{given}:{born[:4]}")
        if place:
            keys.add(f"np:{family}:{features.given[0]}:{place}")
    if house and features.street:
        street = features.street[:4]
        if place:
            keys.add(f"ad:{place}:{house}:{street}")
        if features.city:
            keys.add(f"ac:{features.city[:12]}:{house}:{street}")
    return {key if len(key) <= MAX_KEY_LENGTH else _digest(key) for key in keys}


def _digest(key: str) -> str:
    """A key too long for the column (a long e-mail address, an odd id) as its kind and a digest."""
    return key[:3] + "#" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
