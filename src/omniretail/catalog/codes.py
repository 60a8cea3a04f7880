"""Article numbers: EAN-8, UPC-A, EAN-13 and GTIN-14, check digit validated by python-stdnum."""

from __future__ import annotations

from stdnum import ean as stdnum_ean
from stdnum.exceptions import ValidationError

GTIN_LENGTHS = (8, 12, 13, 14)


class InvalidGtin(ValueError):
    pass


def validate_gtin(code: str) -> str:
    """Return the compact code, or raise `InvalidGtin` saying what is wrong."""
    compact = stdnum_ean.compact(code)
    if not compact.isdigit():
        raise InvalidGtin("an EAN/GTIN has digits only")
    if len(compact) not in GTIN_LENGTHS:
        raise InvalidGtin(f"an EAN/GTIN has 8, 12, 13 or 14 digits, not {len(compact)}")
    try:
        return stdnum_ean.validate(compact)
    except ValidationError:
        raise InvalidGtin("the check digit is wrong") from None


def gtin14(code: str) -> str:
    """The code as GTIN-14, so a UPC-A and its EAN-13 form are the same article."""
    return code.zfill(14)


def looks_like_gtin(text: str) -> bool:
    compact = text.replace(" ", "").replace("-", "")
    return compact.isdigit() and len(compact) in GTIN_LENGTHS


def with_check_digit(body: str) -> str:
    """Append the check digit to a code's body (for generating demo and test data)."""
    return body + stdnum_ean.calc_check_digit(body)
