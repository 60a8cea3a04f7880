"""Order inspection: the rules that decide whether a new order confirms itself or waits for staff. Pure module.

Each rule looks at facts the service gathered about one order and, when it objects, returns a
`HoldReason` with a stable code and a sentence staff can read to the customer. A detail staff
confirmed with the customer earlier (their phone, a delivery address) is remembered as verified
and no longer holds their orders.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from omniretail.customers.matching import normalise_phone, street_parts

REPEAT_ORDER = "repeat_order"
INCOMPLETE_ADDRESS = "incomplete_address"
UNVERIFIABLE_ADDRESS = "unverifiable_address"
INVALID_PHONE = "invalid_phone"
NEW_CUSTOMER_HIGH_VALUE = "new_customer_high_value"
PAYMENT_FAILED = "payment_failed"
PAYMENT_MISSING = "payment_missing"
UNUSUAL_QUANTITY = "unusual_quantity"
ADDRESS_FAILED_BEFORE = "address_failed_before"
RULES = (REPEAT_ORDER, INCOMPLETE_ADDRESS, UNVERIFIABLE_ADDRESS, INVALID_PHONE, NEW_CUSTOMER_HIGH_VALUE,
         PAYMENT_FAILED, PAYMENT_MISSING, UNUSUAL_QUANTITY, ADDRESS_FAILED_BEFORE)
#: Statuses of an earlier order that make its customer a known one (staff or inspection let it through).
ESTABLISHED = frozenset({"confirmed", "in_fulfilment", "partially_shipped", "ready_for_pickup", "completed",
                         "returned"})
_POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,11}$")
_HOUSE_NUMBER = re.compile(r"\d")


@dataclass(frozen=True)
class HoldReason:
    code: str
    detail: str


@dataclass(frozen=True)
class Thresholds:
    enabled: frozenset[str] = frozenset(RULES)
    repeat_window_minutes: float = 30
    new_customer_limit: int = 25_000  # minor units of the order's currency
    max_line_quantity: int = 20
    max_units: int = 60


@dataclass(frozen=True)
class Address:
    line1: str | None = None
    city: str | None = None
    postcode: str | None = None
    country: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class EarlierOrder:
    id: int
    status: str
    lines_key: str
    minutes_ago: float


@dataclass(frozen=True)
class OrderFacts:
    fulfilment: str  # delivery, pickup (sales handed over at the till are not inspected)
    payment_status: str
    lines: tuple[tuple[str, int], ...]  # (sku, quantity)
    total_minor: int
    address: Address | None = None
    postcode_required: bool = True  # the delivery country uses postcodes
    country_known: bool = True  # the delivery country is an ISO 3166-1 code
    earlier_orders: tuple[EarlierOrder, ...] = ()  # the customer's recent orders, newest first
    failed_deliveries: int = 0  # failed deliveries to this address not since verified by staff
    verified: frozenset[str] = field(default_factory=frozenset)  # fingerprints staff confirmed


def lines_key(lines: Iterable[tuple[str, int]]) -> str:
    """A fingerprint of what is ordered (SKUs and quantities, in any order), to find repeats."""
    merged: dict[str, int] = {}
    for sku, quantity in lines:
        merged[sku] = merged.get(sku, 0) + quantity
    text = "\n".join(f"{sku}\t{quantity}" for sku, quantity in sorted(merged.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def address_fingerprint(address: Address) -> str:
    """One fingerprint per place: street and house number (abbreviations folded), postcode, country."""
    street, house = street_parts(address.line1)
    postcode = (address.postcode or "").replace(" ", "").upper()
    return hashlib.sha256(f"address\t{street}\t{house}\t{postcode}\t{(address.country or '').upper()}"
                          .encode()).hexdigest()


def phone_fingerprint(address: Address | None) -> str | None:
    """A fingerprint of the delivery phone (its E.164 form, else its digits), or None when there is none."""
    if address is None or not (address.phone or "").strip():
        return None
    e164 = normalise_phone(address.phone, (address.country or "").upper() or None)
    value = e164 or "digits:" + "".join(ch for ch in address.phone if ch.isdigit())
    return hashlib.sha256(f"phone\t{value}".encode()).hexdigest()


def _repeat(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    key = lines_key(facts.lines)
    same = [o for o in facts.earlier_orders if o.lines_key == key and o.minutes_ago <= limits.repeat_window_minutes
            and o.status != "cancelled"]
    if not same:
        return None
    return HoldReason(REPEAT_ORDER, f"The same items were ordered {same[0].minutes_ago:.0f} minutes ago "
                      f"(order {same[0].id}); check that the customer wants both")


def _address_verified(facts: OrderFacts) -> bool:
    return facts.address is not None and address_fingerprint(facts.address) in facts.verified


def _incomplete(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    a = facts.address
    if facts.fulfilment != "delivery" or a is None or _address_verified(facts):
        return None
    missing = [name for name, value in (("street", a.line1), ("city", a.city), ("country", a.country))
               if not (value or "").strip()]
    if facts.postcode_required and not (a.postcode or "").strip():
        missing.append("postcode")
    if not missing:
        return None
    return HoldReason(INCOMPLETE_ADDRESS, f"The delivery address has no {', '.join(missing)}")


def _unverifiable(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    a = facts.address
    if facts.fulfilment != "delivery" or a is None or _address_verified(facts):
        return None
    problems = []
    if (a.country or "").strip() and not facts.country_known:
        problems.append(f"{a.country!r} is not a country code")
    if (a.postcode or "").strip() and not _POSTCODE.match(a.postcode.strip()):
        problems.append(f"{a.postcode!r} is not a postcode")
    if (a.line1 or "").strip() and not _HOUSE_NUMBER.search(a.line1):
        problems.append("the street has no house number")
    if not problems:
        return None
    return HoldReason(UNVERIFIABLE_ADDRESS, "The delivery address cannot be checked: " + "; ".join(problems))


def _phone(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    a = facts.address
    if a is None or not (a.phone or "").strip() or phone_fingerprint(a) in facts.verified:
        return None
    if normalise_phone(a.phone, (a.country or "").upper() or None) is not None:
        return None
    return HoldReason(INVALID_PHONE, f"{a.phone!r} is not a valid phone number"
                      + (f" in {a.country.upper()}" if a.country else ""))


def _new_customer(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    if facts.total_minor <= limits.new_customer_limit:
        return None
    if any(o.status in ESTABLISHED for o in facts.earlier_orders):
        return None
    return HoldReason(NEW_CUSTOMER_HIGH_VALUE, "A first order above the limit for new customers; confirm it "
                      "with the customer")


def _payment(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    if facts.payment_status == "failed":
        return HoldReason(PAYMENT_FAILED, "The payment failed; ask the customer to pay another way")
    return None


def _payment_missing(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    if facts.payment_status == "pending":
        return HoldReason(PAYMENT_MISSING, "No payment has been authorised yet")
    return None


def _quantity(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    big = [f"{sku} × {quantity}" for sku, quantity in facts.lines if quantity > limits.max_line_quantity]
    units = sum(quantity for _, quantity in facts.lines)
    if big:
        return HoldReason(UNUSUAL_QUANTITY, f"Unusually many of one item: {', '.join(big)} (more than "
                          f"{limits.max_line_quantity})")
    if units > limits.max_units:
        return HoldReason(UNUSUAL_QUANTITY, f"Unusually many items: {units} (more than {limits.max_units})")
    return None


def _failed_before(facts: OrderFacts, limits: Thresholds) -> HoldReason | None:
    if facts.fulfilment != "delivery" or facts.failed_deliveries <= 0 or _address_verified(facts):
        return None
    times = "once" if facts.failed_deliveries == 1 else f"{facts.failed_deliveries} times"
    return HoldReason(ADDRESS_FAILED_BEFORE, f"Delivery to this address failed {times} before")


CHECKS: dict[str, Callable[[OrderFacts, Thresholds], HoldReason | None]] = {
    REPEAT_ORDER: _repeat, INCOMPLETE_ADDRESS: _incomplete, UNVERIFIABLE_ADDRESS: _unverifiable,
    INVALID_PHONE: _phone, NEW_CUSTOMER_HIGH_VALUE: _new_customer, PAYMENT_FAILED: _payment,
    PAYMENT_MISSING: _payment_missing, UNUSUAL_QUANTITY: _quantity, ADDRESS_FAILED_BEFORE: _failed_before,
}


def inspect(facts: OrderFacts, limits: Thresholds = Thresholds()) -> list[HoldReason]:
    """Every enabled rule's objection to the order, in the order of `RULES` (empty: the order is clean)."""
    found = []
    for code in RULES:
        if code in limits.enabled:
            reason = CHECKS[code](facts, limits)
            if reason is not None:
                found.append(reason)
    return found


def parse_rules(text: str) -> frozenset[str]:
    """The enabled rules from a setting: "all", "none", or codes separated by commas."""
    cleaned = text.strip().lower()
    if cleaned in ("", "all"):
        return frozenset(RULES)
    if cleaned == "none":
        return frozenset()
    codes = {code.strip() for code in cleaned.split(",") if code.strip()}
    unknown = sorted(codes - set(RULES))
    if unknown:
        raise ValueError(f"unknown inspection rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}")
    return frozenset(codes)
