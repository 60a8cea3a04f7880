"""Identity kinds and their normal forms: the same e-mail or phone typed any way is one value."""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from omniretail.core.errors import Invalid
from omniretail.customers import matching

#: Strongest first: when identities seen together point at different profiles, the strongest decides.
KINDS = ("loyalty_card", "pos_customer_id", "email", "device_id", "messenger", "social", "phone")
#: Kinds that may belong to several people (a household's landline); every other kind names one person.
SHARED_KINDS = frozenset({"phone"})
STRENGTH = {kind: rank for rank, kind in enumerate(KINDS)}
MAX_VALUE_LENGTH = 320
_TOKEN = re.compile(r"^[\w.:@+\-/#]{1,200}$")


@dataclass(frozen=True, slots=True)
class IdentityValue:
    type: str
    value: str

    @property
    def exclusive(self) -> bool:
        return self.type not in SHARED_KINDS


def normalise_email(raw: str, *, field: str) -> str:
    """Lower-case, syntax-checked e-mail address (no DNS look-up)."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"{raw!r} is not a valid e-mail address: {exc}", field=field, code="invalid_email") from exc
    return checked.normalized.lower()


def normalise_phone(raw: str, *, region: str | None, field: str) -> str:
    """E.164 form of a phone number written in any national or international format; 422 naming `field`."""
    e164 = matching.normalise_phone(raw, (region or "").upper() or None)
    if e164 is None:
        raise Invalid(f"{raw!r} is not a valid phone number" + (f" in {region.upper()}" if region else ""),
                      field=field, code="invalid_phone")
    return e164


def normalise(kind: str, raw: str, *, region: str | None, default_region: str, field: str) -> IdentityValue:
    """The stored form of one identity; 422 naming `field` when it is not valid."""
    if kind not in STRENGTH:
        raise Invalid(f"Unknown identity type {kind!r}; one of {', '.join(KINDS)}", field=field.rsplit(".", 1)[0]
                      + ".type", code="invalid_identity_type")
    raw = raw.strip()
    if not raw:
        raise Invalid("The identity value is empty", field=field, code="invalid_identity")
    if kind == "email":
        return IdentityValue(kind, normalise_email(raw, field=field))
    if kind == "phone":
        return IdentityValue(kind, normalise_phone(raw, region=region or default_region, field=field))
    value = raw.casefold() if kind in ("messenger", "social") else raw
    if kind in ("loyalty_card", "pos_customer_id"):
        value = re.sub(r"[\s-]", "", value).upper()  # printed cards are read back in any case
    if not _TOKEN.match(value):
        raise Invalid(f"{raw!r} is not a valid {kind.replace('_', ' ')}", field=field, code="invalid_identity")
    return IdentityValue(kind, value)
