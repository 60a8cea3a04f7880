"""The pure rules of event delivery: signatures, subscription patterns, URLs and secrets, the retry schedule,
and which of an object's deliveries a worker may take together."""

from __future__ import annotations

import pytest

from omniretail.core.config import Settings
from omniretail.integration.rules import (
    Follower,
    PatternProblem,
    after_failure,
    body_of,
    matches,
    normalise_patterns,
    retry_delay,
    secret_problem,
    signature,
    subject_of,
    take_chain,
    url_problem,
    verify_signature,
)

SECRET = "whsec-0123456789abcdef"
BODY = b'{"id":"e-1","type":"order.created"}'
T = 1767225600


def test_a_signature_is_the_hex_hmac_sha256_of_timestamp_dot_body_with_its_timestamp():
    assert signature(SECRET, BODY, T) == (
        "t=1767225600,v1=16ace451371f882f765bc08e463bb8b183f18e7329dba1deeddcc27ad72dcf61")


def test_a_signature_verifies_within_the_tolerance_and_not_for_another_body_or_secret():
    header = signature(SECRET, BODY, T)

    assert verify_signature(SECRET, BODY, header, now=T + 299) is True
    assert verify_signature(SECRET, BODY + b" ", header, now=T) is False
    assert verify_signature(SECRET + "x", BODY, header, now=T) is False


def test_a_signature_older_than_the_tolerance_or_without_timestamp_is_refused():
    header = signature(SECRET, BODY, T)

    assert verify_signature(SECRET, BODY, header, now=T + 301) is False
    assert verify_signature(SECRET, BODY, header.split(",", 1)[1], now=T) is False


def test_any_of_several_v1_signatures_may_match():
    header = signature(SECRET, BODY, T) + ",v1=" + "0" * 64

    assert verify_signature(SECRET, BODY, header, now=T) is True


def test_the_body_is_compact_json_keeping_unicode():
    assert body_of({"id": "e-1", "data": {"name": "Müller"}}) == '{"id":"e-1","data":{"name":"Müller"}}'.encode()


def test_events_go_to_the_subject_omniretail_dot_event_type_by_default():
    assert subject_of(Settings().nats_subject_prefix, "order.created") == "omniretail.order.created"
    assert Settings().nats_stream == "OMNIRETAIL"


def test_patterns_lose_repeats_and_a_star_stands_alone():
    assert normalise_patterns(["order.created", "order.*", "order.created"]) == ["order.created", "order.*"]
    assert normalise_patterns(["order.created", "*"]) == ["*"]


@pytest.mark.parametrize(("patterns", "code", "index"), [
    ([], "events_required", None),
    (["order.created", "order"], "invalid_event_pattern", 1),
    (["Order.Created"], "invalid_event_pattern", 0),
    (["order.*.x"], "invalid_event_pattern", 0),
    (["*.created"], "invalid_event_pattern", 0),
    (["spaceship.launched"], "unknown_event_type", 0),
    (["x.*"] * 101, "too_many_event_patterns", None),
])
def test_patterns_that_match_nothing_we_send_are_refused_with_a_code(patterns, code, index):
    with pytest.raises(PatternProblem) as caught:
        normalise_patterns(patterns)

    assert (caught.value.code, caught.value.index) == (code, index)


def test_an_event_matches_its_type_its_kind_or_the_star():
    assert [matches(p, "order.created") for p in (["order.created"], ["order.*"], ["*"], ["order.held"],
                                                   ["stock.*"], [])] == [True, True, True, False, False, False]


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://erp.example.com/in", "Webhook URLs are http:// or https://"),
    ("erp.example.com/in", "Webhook URLs are http:// or https://"),
    ("https://", "The URL names no host"),
    ("https://user:pw@erp.example.com/in", "Put no credentials in the URL; receivers check the signature instead"),
    ("https://erp.example.com/in#part", "The URL has a #fragment, which is never sent"),
    ("https://erp.example.com:99999/in", "The URL cannot be parsed"),
    ("https://erp.example.com/a b", "The URL contains spaces or control characters"),
    ("https://erp.example.com/" + "a" * 2000, "The URL is longer than 2000 characters"),
])
def test_urls_that_cannot_receive_webhooks_are_named_with_why(url, problem):
    assert url_problem(url) == problem


def test_http_and_https_urls_with_host_port_and_query_are_accepted():
    assert [url_problem(u) for u in ("https://erp.example.com/in?x=1", "http://127.0.0.1:8080/hook")] == [None, None]


def test_secrets_are_required_at_least_sixteen_and_at_most_two_hundred_characters():
    assert [secret_problem(s) for s in ("", "   ", "x" * 15, "x" * 16, "x" * 200, "x" * 201)] == [
        ("secret_required", "Give a secret; deliveries are signed with it"),
        ("secret_required", "Give a secret; deliveries are signed with it"),
        ("secret_too_short", "The secret is at least 16 characters long"),
        None,
        None,
        ("secret_too_long", "The secret is at most 200 characters long"),
    ]


def test_the_wait_doubles_after_each_failure_and_jitter_spreads_it_over_its_upper_half():
    low = [retry_delay(n, base=5, cap=3600, jitter=0.0) for n in range(1, 6)]
    high = [retry_delay(n, base=5, cap=3600, jitter=1.0) for n in range(1, 6)]

    assert low == [2.5, 5.0, 10.0, 20.0, 40.0]
    assert high == [5.0, 10.0, 20.0, 40.0, 80.0]
    assert retry_delay(3, base=5, cap=3600, jitter=0.5) == 15.0


def test_the_wait_never_exceeds_the_cap_even_after_very_many_failures():
    assert [retry_delay(n, base=5, cap=3600, jitter=1.0) for n in (11, 12, 1000)] == [3600, 3600, 3600]


def test_a_webhook_delivery_is_dead_after_its_last_try_and_a_stream_delivery_never():
    assert [after_failure(n, max_attempts=3, dead_letters=True) for n in (1, 2, 3, 4)] == [
        "retrying", "retrying", "dead", "dead"]
    assert after_failure(50, max_attempts=3, dead_letters=False) == "retrying"


def test_a_chain_takes_consecutive_followers_and_stops_at_one_not_due_or_claimed():
    followers = [Follower(1, due=True, claimed=False), Follower(2, due=True, claimed=False),
                 Follower(3, due=False, claimed=False), Follower(4, due=True, claimed=False)]

    assert take_chain(followers, room=10) == [1, 2]
    assert take_chain(followers, room=1) == [1]
    assert take_chain([Follower(5, due=True, claimed=True), *followers], room=10) == []
