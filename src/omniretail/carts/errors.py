"""Errors of carts, each with a stable code."""

from __future__ import annotations

from omniretail.core.errors import Conflict, Forbidden, Invalid, NotFound


def unknown_cart(cart_id: object) -> NotFound:
    return NotFound(f"No cart {cart_id}", code="unknown_cart")


def unknown_line(cart_id: int, line_id: int) -> NotFound:
    return NotFound(f"Cart {cart_id} has no line {line_id}", code="unknown_cart_line")


def not_your_cart() -> Forbidden:
    return Forbidden("A customer key may only open its own cart", code="not_your_cart")


def cart_not_active(cart_id: int, status: str) -> Conflict:
    return Conflict(f"Cart {cart_id} is {status.replace('_', ' ')}; open the customer's cart again for a new one",
                    code="cart_not_active", cart_status=status)


def cart_has_customer(cart_id: int) -> Conflict:
    return Conflict(f"Cart {cart_id} already belongs to another customer", code="cart_has_customer")


def empty_cart(cart_id: int) -> Invalid:
    return Invalid(f"Cart {cart_id} is empty", field="lines", code="empty_cart")


def anonymous_cart(cart_id: int) -> Conflict:
    return Conflict(f"Cart {cart_id} belongs to no customer yet: identify the customer, or assign the cart with "
                    f"POST /api/v1/carts/{cart_id}/assign", code="anonymous_cart")


def pickup_not_offered(location_id: str, field: str) -> Invalid:
    return Invalid(f"Location {location_id!r} offers no pickup", field=field, code="pickup_not_offered")


def currency_mismatch(sku: str, currency: str, cart_currency: str, field: str) -> Invalid:
    return Invalid(f"{sku} is priced in {currency}, the cart in {cart_currency}", field=field,
                   code="currency_mismatch")


def invalid_hold(minutes: int) -> Invalid:
    return Invalid(f"A hold lasts 1 to 120 minutes, not {minutes}", field="minutes", code="invalid_hold")
