"""The rules of event delivery, free of I/O: signatures, subscription patterns, retry schedule, ordering.

A webhook body is signed as `Omniretail-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`;
the timestamp inside the signed text stops an old delivery from being replayed later by someone who saw it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "Omniretail-Signature"
#: A receiver should refuse signatures older (or newer) than this many seconds.
SIGNATURE_TOLERANCE_SECONDS = 300
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 200
MAX_URL_LENGTH = 2000
MAX_PATTERNS = 100

#: The first part of every event type (`order.created` is of `order`). A domain that starts emitting events of a
#: new kind adds it here, so that subscriptions to it are accepted.
EVENT_DOMAINS = frozenset({
    "cart", "conversation", "customer", "fulfilment", "location", "loyalty", "order", "pickup", "pos", "product",
    "return", "shipment", "stock", "transfer",
})
_PATTERN = re.compile(r"^(?P<domain>[a-z][a-z0-9_]*)\.(?P<name>\*|[a-z][a-z0-9_]*)$")

#: Delivery states. `pending` and `retrying` are open: they still have to reach the destination, and they hold
#: back every later event of the same object for the same destination.
OPEN = ("pending", "retrying")
DONE = ("delivered", "dead", "cancelled")
STATUSES = (*OPEN, *DONE)
ATTEMPT_OUTCOMES = ("delivered", "failed", "interrupted")


class PatternProblem(ValueError):
    """An event type pattern a subscription cannot use; `code` says why."""

    def __init__(self, message: str, *, code: str, index: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.index = index


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The `Omniretail-Signature` header value of `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, now: float,
                     tolerance: float = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret` and its timestamp is within `tolerance` seconds of `now`."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def body_of(envelope: dict[str, Any]) -> bytes:
    """The bytes of an event envelope as webhooks and the stream carry them (and as they are signed)."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def subject_of(prefix: str, event_type: str) -> str:
    """The NATS subject of an event: `omniretail.order.created` for `order.created` by default."""
    return f"{prefix}.{event_type}"


def normalise_patterns(patterns: Sequence[str]) -> list[str]:
    """The subscription's patterns without repeats (`*` alone if it is among them); raises PatternProblem."""
    if not patterns:
        raise PatternProblem("Subscribe to at least one event type, or [\"*\"] for every event",
                             code="events_required")
    if len(patterns) > MAX_PATTERNS:
        raise PatternProblem(f"At most {MAX_PATTERNS} event type patterns per subscription",
                             code="too_many_event_patterns")
    for index, pattern in enumerate(patterns):
        if pattern == "*":
            continue
        match = _PATTERN.match(pattern)
        if match is None:
            raise PatternProblem(f"{pattern!r} is not an event type pattern: use \"*\", \"order.*\" or "
                                 "\"order.created\"", code="invalid_event_pattern", index=index)
        if match["domain"] not in EVENT_DOMAINS:
            raise PatternProblem(f"No events of kind {match['domain']!r}; known kinds: "
                                 + ", ".join(sorted(EVENT_DOMAINS)), code="unknown_event_type", index=index)
    if "*" in patterns:
        return ["*"]
    return list(dict.fromkeys(patterns))


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """Whether an event of `event_type` goes to a subscription with these patterns."""
    domain = event_type.split(".", 1)[0]
    return any(p == "*" or p == event_type or p == f"{domain}.*" for p in patterns)


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks, or None when it can."""
    if len(url) > MAX_URL_LENGTH:
        return f"The URL is longer than {MAX_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "The URL contains spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "The URL cannot be parsed"
    if parts.scheme not in ("http", "https"):
        return "Webhook URLs are http:// or https://"
    if not parts.hostname:
        return "The URL names no host"
    if parts.username is not None or parts.password is not None:
        return "Put no credentials in the URL; receivers check the signature instead"
    if port == 0:
        return "The URL's port is 0"
    if parts.fragment:
        return "The URL has a #fragment, which is never sent"
    return None


def secret_problem(secret: str) -> tuple[str, str] | None:
    """(code, detail) of a secret that cannot sign deliveries, or None when it can."""
    if not secret.strip():
        return "secret_required", "Give a secret; deliveries are signed with it"
    if len(secret) < MIN_SECRET_LENGTH:
        return "secret_too_short", f"The secret is at least {MIN_SECRET_LENGTH} characters long"
    if len(secret) > MAX_SECRET_LENGTH:
        return "secret_too_long", f"The secret is at most {MAX_SECRET_LENGTH} characters long"
    return None


def retry_delay(failures: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after the `failures`-th failed try: exponential (base, 2 base, 4 base, ... up to `cap`),
    then somewhere in its upper half by `jitter` in [0, 1), so receivers that failed together are not all
    retried in the same instant."""
    step = cap if failures > 64 else min(cap, base * 2 ** (failures - 1))
    return step / 2 + step / 2 * min(max(jitter, 0.0), 1.0)


def after_failure(attempts: int, *, max_attempts: int, dead_letters: bool) -> str:
    """The state of a delivery that has failed `attempts` tries: `retrying`, or `dead` once they are used up."""
    return "dead" if dead_letters and attempts >= max_attempts else "retrying"


@dataclass(frozen=True)
class Follower:
    """An open delivery after a claimed one, of the same object and destination, in event order."""

    id: int
    due: bool
    claimed: bool


def take_chain(followers: Sequence[Follower], room: int) -> list[int]:
    """The followers a worker may claim with their head: consecutive ones, up to `room`, stopping at the first
    that is not yet due or is claimed by someone else (an event may never overtake an earlier one)."""
    taken: list[int] = []
    for follower in followers:
        if len(taken) >= room or not follower.due or follower.claimed:
            break
        taken.append(follower.id)
    return taken
