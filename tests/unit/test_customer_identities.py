"""Identity normal forms: one person's e-mail or phone typed any way is one stored value."""

from __future__ import annotations

import pytest

from omniretail.core.errors import Invalid
from omniretail.customers.identities import KINDS, SHARED_KINDS, normalise


def norm(kind: str, raw: str, region: str | None = None) -> str:
    return normalise(kind, raw, region=region, default_region="DE", field="identities.0.value").value


@pytest.mark.parametrize("raw", ["0421 1234567", "+49 421 1234567", "0049 421 1234567", "(0421) 123-4567",
                                 "+49 (0)421 1234567"])
def test_a_german_number_in_any_format_is_one_e164_value(raw: str) -> None:
    assert norm("phone", raw) == "+494211234567"


def test_the_country_hint_reads_a_national_number_of_that_country() -> None:
    assert norm("phone", "020 7946 0958", region="GB") == "+442079460958"
    assert norm("phone", "06 12 34 56 78", region="fr") == "+33612345678"


@pytest.mark.parametrize("raw", ["12", "0421", "+49 123", "not a number"])
def test_an_invalid_phone_is_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(Invalid) as refused:
        norm("phone", raw)
    assert refused.value.code == "invalid_phone"
    assert refused.value.extra["errors"][0]["field"] == "identities.0.value"


def test_an_email_is_lower_cased_and_trimmed() -> None:
    assert norm("email", "  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"


@pytest.mark.parametrize("raw", ["nope", "a@", "@example.com", "a b@example.com"])
def test_an_invalid_email_is_refused(raw: str) -> None:
    with pytest.raises(Invalid) as refused:
        norm("email", raw)
    assert refused.value.code == "invalid_email"


def test_card_numbers_lose_spaces_and_dashes_and_case() -> None:
    assert norm("loyalty_card", "c-4711 0002") == "C47110002"
    assert norm("pos_customer_id", "k 12-3") == "K123"


def test_handles_are_case_insensitive_but_devices_are_not() -> None:
    assert norm("messenger", "@Ada_L") == "@ada_l"
    assert norm("device_id", "AbC-123") == "AbC-123"


def test_an_unknown_kind_or_an_empty_value_is_refused() -> None:
    with pytest.raises(Invalid) as unknown:
        norm("fax", "123")
    assert (unknown.value.code, unknown.value.extra["errors"][0]["field"]) == ("invalid_identity_type",
                                                                               "identities.0.type")
    with pytest.raises(Invalid) as empty:
        norm("device_id", "   ")
    assert empty.value.code == "invalid_identity"


def test_only_phones_may_be_shared_by_several_people() -> None:
    assert SHARED_KINDS == {"phone"}
    assert set(KINDS) == {"email", "phone", "loyalty_card", "pos_customer_id", "device_id", "messenger", "social"}
