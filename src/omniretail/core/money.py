"""Money: integer minor units plus an ISO 4217 code in storage, a decimal string in JSON."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, list_currencies

from omniretail.core.errors import Invalid

_CURRENCIES = frozenset(list_currencies())
#: The largest amount stored, in minor units (the largest integer a JavaScript client reads exactly).
MAX_MINOR_UNITS = 2**53 - 1


def check_currency(code: str, *, field: str = "price.currency") -> str:
    code = code.strip().upper()
    if code not in _CURRENCIES:
        raise Invalid(f"Unknown currency {code!r}", field=field, code="invalid_currency")
    return code


def to_minor(amount: str | Decimal | int, currency: str, *, field: str = "price.amount") -> int:
    """Turn a decimal amount into minor units, refusing more decimals than the currency has."""
    currency = check_currency(currency)
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise Invalid(f"{amount!r} is not a decimal amount", field=field, code="invalid_amount") from None
    if not value.is_finite():
        raise Invalid(f"{amount!r} is not a decimal amount", field=field, code="invalid_amount")
    digits = get_currency_precision(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise Invalid(f"{currency} amounts have at most {digits} decimals", field=field, code="invalid_amount")
    if value < 0:
        raise Invalid("Amount must not be negative", field=field, code="invalid_amount")
    if scaled > MAX_MINOR_UNITS:
        raise Invalid("Amount is too large", field=field, code="invalid_amount")
    return int(scaled)


def from_minor(minor: int, currency: str) -> str:
    digits = get_currency_precision(currency)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"
