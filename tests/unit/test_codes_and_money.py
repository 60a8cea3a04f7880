import pytest

from omniretail.catalog.codes import InvalidGtin, gtin14, looks_like_gtin, validate_gtin, with_check_digit
from omniretail.core.errors import Invalid
from omniretail.core.money import from_minor, to_minor


@pytest.mark.parametrize("code", ["4006381333931", "96385074", "036000291452", "10012345678902"])
def test_valid_ean8_upc_ean13_and_gtin14_are_accepted(code):
    assert validate_gtin(code) == code


def test_a_wrong_check_digit_is_refused_with_the_reason():
    with pytest.raises(InvalidGtin, match="check digit"):
        validate_gtin("4006381333932")


@pytest.mark.parametrize("code, reason", [("40063813", "check digit"), ("4006381333", "8, 12, 13 or 14 digits"),
                                          ("40063A1333931", "digits only")])
def test_malformed_codes_are_refused(code, reason):
    with pytest.raises(InvalidGtin, match=reason):
        validate_gtin(code)


def test_upc_and_its_ean13_form_are_the_same_gtin14():
    assert gtin14("036000291452") == gtin14("0036000291452") == "00036000291452"


def test_generated_codes_carry_a_valid_check_digit():
    assert validate_gtin(with_check_digit("400638133393")) == "4006381333931"


def test_only_digit_strings_of_gtin_lengths_look_like_gtins():
    assert looks_like_gtin("4006381333931") and looks_like_gtin("9638 5074")
    assert not looks_like_gtin("12345") and not looks_like_gtin("milk")


def test_amounts_become_minor_units_by_the_currency_s_decimals():
    assert to_minor("12.30", "EUR") == 1230
    assert to_minor("500", "JPY") == 500
    assert to_minor("1.005", "KWD") == 1005
    assert from_minor(1230, "EUR") == "12.30" and from_minor(500, "JPY") == "500"


@pytest.mark.parametrize("amount, currency, code", [("1.234", "EUR", "invalid_amount"), ("-1", "EUR", "invalid_amount"),
                                                    ("1.5", "JPY", "invalid_amount"), ("1", "XXY", "invalid_currency"),
                                                    ("NaN", "EUR", "invalid_amount")])
def test_bad_amounts_are_refused_with_a_code(amount, currency, code):
    with pytest.raises(Invalid) as info:
        to_minor(amount, currency)
    assert info.value.code == code
