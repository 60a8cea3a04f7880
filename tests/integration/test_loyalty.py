"""Loyalty points on both databases: earning once per cause, spending never below 0, reversals, merges, gifts."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core.errors import DomainError
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM
from omniretail.customers.models import Profile, TimelineEntry
from omniretail.inventory import atp
from omniretail.inventory import service as inventory
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import LedgerEntry, StockLevel
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn
from omniretail.loyalty import service
from omniretail.loyalty.invariants import ledger_violations
from omniretail.loyalty.models import LoyaltyAccount, LoyaltyEntry
from omniretail.loyalty.tiers import parse_rules

RULES = parse_rules(points_per_unit=1, tiers="silver:1000,gold:5000")
THREADS = 16


@pytest.fixture(autouse=True)
def ledger_stays_sound(db):
    yield
    with db.read() as s:
        assert ledger_violations(s) == []


def new_profile(db, given: str = "Ada", family: str = "Lovelace") -> int:
    with db.write() as s:
        profile = Profile(status="active", given_name=given, family_name=family)
        s.add(profile)
        s.flush()
        return profile.id


def earn(db, profile_id: int, points: int, cause_id: str = "o-1", **kw) -> LoyaltyEntry:
    with db.write() as s:
        return service.earn(s, actor=SYSTEM, profile_id=profile_id, points=points, channel=kw.pop("channel", "web"),
                            cause_type=kw.pop("cause_type", "order"), cause_id=cause_id, programme=RULES, **kw)


def spend(db, profile_id: int, points: int, cause_id: str = "s-1") -> LoyaltyEntry:
    with db.write() as s:
        return service.spend(s, actor=SYSTEM, profile_id=profile_id, points=points, channel="pos",
                             cause_type="pos_sale", cause_id=cause_id)


def refusal(db, use_case) -> DomainError:
    with pytest.raises(DomainError) as info, db.write() as s:
        use_case(s)
    return info.value


def balance(db, profile_id: int) -> tuple[int, int, str]:
    with db.read() as s:
        summary = service.summary(s, profile_id, RULES)
        return summary.balance, summary.lifetime_earned, summary.tier


def ledger(db, profile_id: int) -> list[tuple[str, int, int, str | None, str | None]]:
    """(kind, points, balance after, cause type, cause id), oldest first."""
    with db.read() as s:
        return [(e.kind, e.points, e.balance_after, e.cause_type, e.cause_id)
                for e in reversed(service.history(s, profile_id, limit=100))]


def count(db, model, *where) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def shop(db):
    """A store and two gift products: MUG hides itself at 2 units or fewer, PEN is only flagged."""
    with db.write() as s:
        locations.register_location(s, actor=SYSTEM, data=LocationIn(id="s1", name="Store", type="store",
                                                                    lat=52.5, lon=13.4))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR", data=ProductIn(
            sku="MUG", name="Mug", price={"amount": "4.00"}, is_gift=True, gift_min_stock=2, gift_low_policy="hide"))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR", data=ProductIn(
            sku="PEN", name="Pen", price={"amount": "1.00"}, is_gift=True, gift_min_stock=5, gift_low_policy="flag"))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR", data=ProductIn(
            sku="SOAP", name="Soap", price={"amount": "2.00"}))
        service.create_reward(s, actor=SYSTEM, code="MUG-100", name="A mug", points=100, sku="MUG")
        service.create_reward(s, actor=SYSTEM, code="PEN-50", name="A pen", points=50, sku="PEN")
    yield db
    with db.read() as s:
        assert stock_violations(s) == []


def receive(db, sku: str, quantity: int) -> None:
    with db.write() as s:
        inventory.receive(s, actor=SYSTEM, location_id="s1", sku=sku, quantity=quantity, lot="L1")


def on_hand(db, sku: str) -> int:
    with db.read() as s:
        return atp.level_detail(s, location_id="s1", sku=sku).on_hand


def redeem(s, profile_id: int, reward: str, location_id: str | None = "s1") -> service.Redemption:
    return service.redeem(s, actor=SYSTEM, profile_id=profile_id, reward_code=reward, location_id=location_id,
                          channel="pos")


# --- earning and spending ---------------------------------------------------------------------------


def test_earning_adds_to_the_balance_and_the_lifetime_points(db):
    ada = new_profile(db)
    entry = earn(db, ada, 120, "o-1")
    assert (entry.kind, entry.points, entry.balance_after, entry.cause_type, entry.cause_id, entry.channel) == (
        "earn", 120, 120, "order", "o-1", "web")
    assert balance(db, ada) == (120, 120, "member")


def test_every_movement_leaves_an_entry_an_audit_record_a_timeline_entry_and_an_event(db):
    ada = new_profile(db)
    earn(db, ada, 120)
    spend(db, ada, 20)
    with db.read() as s:
        events = list(s.scalars(select(OutboxEvent.type).where(OutboxEvent.object_type == "loyalty_account",
                                                               OutboxEvent.object_id == str(ada))
                                .order_by(OutboxEvent.seq)))
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(ada),
                                                                 AuditEntry.object_type == "loyalty_account")
                                 .order_by(AuditEntry.id)))
        timeline = list(s.scalars(select(TimelineEntry.kind).where(TimelineEntry.profile_id == ada)
                                  .order_by(TimelineEntry.id)))
    assert events == ["loyalty.earned", "loyalty.spent"]
    assert actions == ["loyalty.earned", "loyalty.spent"]
    assert timeline == ["loyalty_earn", "loyalty_spend"]
    assert ledger(db, ada) == [("earn", 120, 120, "order", "o-1"), ("spend", -20, 100, "pos_sale", "s-1")]


def test_a_purchase_amount_earns_a_point_per_whole_currency_unit(db):
    ada = new_profile(db)
    with db.write() as s:
        entry = service.earn(s, actor=SYSTEM, profile_id=ada, amount_minor=12_99, currency="EUR", channel="pos",
                             cause_type="pos_sale", cause_id="till-7/881", programme=RULES)
    assert (entry.points, entry.balance_after) == (12, 12)


def test_a_purchase_under_one_currency_unit_earns_nothing_and_writes_nothing(db):
    ada = new_profile(db)
    error = refusal(db, lambda s: service.earn(s, actor=SYSTEM, profile_id=ada, amount_minor=99, currency="EUR",
                                               channel="pos", cause_type="pos_sale", cause_id="x", programme=RULES))
    assert (error.code, error.extra["errors"][0]["field"]) == ("nothing_to_earn", "amount.amount")
    assert ledger(db, ada) == []


def test_earning_twice_for_one_order_is_refused_and_does_not_double_the_points(db):
    ada = new_profile(db)
    first = earn(db, ada, 50, "o-9")
    error = refusal(db, lambda s: service.earn(s, actor=SYSTEM, profile_id=ada, points=50, channel="app",
                                               cause_type="order", cause_id="o-9"))
    assert (error.status, error.code, error.extra["entry_id"]) == (409, "duplicate_cause", first.id)
    assert balance(db, ada) == (50, 50, "member")
    assert earn(db, ada, 50, "o-10").balance_after == 100


def test_spending_more_than_the_balance_is_refused_with_the_balance_and_nothing_changes(db):
    ada = new_profile(db)
    earn(db, ada, 30)
    error = refusal(db, lambda s: service.spend(s, actor=SYSTEM, profile_id=ada, points=31, channel="pos",
                                                cause_type="pos_sale", cause_id="s-1"))
    assert (error.status, error.code, error.extra["balance"], error.extra["requested"]) == (
        409, "insufficient_points", 30, 31)
    assert spend(db, ada, 30).balance_after == 0
    assert balance(db, ada) == (0, 30, "member")


def test_points_out_of_range_and_unknown_channels_are_refused_naming_the_field(db):
    ada = new_profile(db)
    for points in (0, -5, 10**9 + 1):
        error = refusal(db, lambda s, p=points: service.earn(s, actor=SYSTEM, profile_id=ada, points=p,
                                                              channel="web", cause_type="order", cause_id="o"))
        assert (error.code, error.extra["errors"][0]["field"]) == ("invalid_points", "points")
    error = refusal(db, lambda s: service.earn(s, actor=SYSTEM, profile_id=ada, points=5, channel="telegraph",
                                               cause_type="order", cause_id="o"))
    assert (error.code, error.extra["errors"][0]["field"]) == ("unknown_channel", "channel")
    error = refusal(db, lambda s: service.earn(s, actor=SYSTEM, profile_id=ada + 1000, points=5, channel="web",
                                               cause_type="order", cause_id="o"))
    assert (error.status, error.code) == (404, "unknown_customer")


def test_an_account_cannot_grow_past_what_its_column_holds(db):
    ada = new_profile(db)
    earn(db, ada, 10**9, "o-1")
    earn(db, ada, 10**9, "o-2")
    error = refusal(db, lambda s: service.earn(s, actor=SYSTEM, profile_id=ada, points=10**9, channel="web",
                                               cause_type="order", cause_id="o-3"))
    assert error.code == "points_limit"
    assert balance(db, ada)[:2] == (2 * 10**9, 2 * 10**9)


def test_crossing_a_threshold_changes_the_tier_and_the_timeline_says_so(db):
    ada = new_profile(db)
    earn(db, ada, 999, "o-1")
    earn(db, ada, 1, "o-2")
    spend(db, ada, 1000)
    assert balance(db, ada) == (0, 1000, "silver")
    with db.read() as s:
        changes = [(t.kind, t.data["from"], t.data["to"]) for t in s.scalars(
            select(TimelineEntry).where(TimelineEntry.profile_id == ada, TimelineEntry.kind == "tier_changed"))]
        assert s.get(LoyaltyAccount, ada).tier == "silver"
    assert changes == [("tier_changed", "member", "silver")]


def test_an_adjustment_needs_a_reason_and_cannot_take_the_balance_below_zero(db):
    ada = new_profile(db)
    earn(db, ada, 40)
    error = refusal(db, lambda s: service.adjust(s, actor=SYSTEM, profile_id=ada, points=-41, reason="typo"))
    assert (error.code, error.extra["balance"]) == ("insufficient_points", 40)
    error = refusal(db, lambda s: service.adjust(s, actor=SYSTEM, profile_id=ada, points=5, reason=" "))
    assert (error.code, error.extra["errors"][0]["field"]) == ("reason_required", "reason")
    with db.write() as s:
        entry = service.adjust(s, actor=SYSTEM, profile_id=ada, points=-40, reason="points given by mistake",
                               cause_id="ticket-3")
    assert (entry.kind, entry.points, entry.balance_after, entry.cause_type, entry.cause_id) == (
        "adjust", -40, 0, "manual", "ticket-3")
    assert balance(db, ada) == (0, 40, "member")


def test_the_ledger_check_finds_a_balance_changed_behind_the_ledgers_back(db):
    ada = new_profile(db)
    earn(db, ada, 40)
    with db.write() as s:
        s.get(LoyaltyAccount, ada).balance = 41
    with db.read() as s:
        assert ledger_violations(s) == [f"customer {ada}: balance 41, ledger sums to 40, last entry says 40"]
    with db.write() as s:
        s.get(LoyaltyAccount, ada).balance = 40


# --- reversals --------------------------------------------------------------------------------------


def reverse(db, profile_id: int, cause_id: str, points: int | None = None) -> LoyaltyEntry:
    with db.write() as s:
        return service.reverse(s, actor=SYSTEM, profile_id=profile_id, cause_type="order", cause_id=cause_id,
                               reason="order returned", points=points, programme=RULES)


def test_a_reversal_takes_back_at_most_what_the_cause_earned(db):
    ada = new_profile(db)
    earn(db, ada, 100, "o-1")
    earn(db, ada, 500, "o-2")
    assert reverse(db, ada, "o-1", points=30).points == -30
    assert reverse(db, ada, "o-1", points=500).points == -70  # capped: 100 earned, 30 taken back already
    error = refusal(db, lambda s: service.reverse(s, actor=SYSTEM, profile_id=ada, cause_type="order",
                                                  cause_id="o-1", reason="again"))
    assert (error.code, error.extra["earned"], error.extra["reversed"]) == ("nothing_to_reverse", 100, 100)
    assert balance(db, ada) == (500, 500, "member")


def test_a_reversal_short_of_points_empties_the_balance_and_records_the_shortfall(db):
    ada = new_profile(db)
    earn(db, ada, 1200, "o-1")
    spend(db, ada, 1000)
    entry = reverse(db, ada, "o-1")
    assert (entry.points, entry.balance_after) == (-200, 0)
    assert entry.reason == "order returned (1000 of 1200 points not recovered: balance too low)"
    assert balance(db, ada) == (0, 1000, "silver")
    error = refusal(db, lambda s: service.reverse(s, actor=SYSTEM, profile_id=ada, cause_type="order",
                                                  cause_id="o-1", reason="again"))
    assert (error.code, error.extra["balance"]) == ("insufficient_points", 0)
    earn(db, ada, 50, "o-2")
    assert reverse(db, ada, "o-1").points == -50  # the rest is still owed and taken when points come in
    assert balance(db, ada) == (0, 1000, "silver")


def test_a_reversal_that_takes_lifetime_points_below_a_threshold_lowers_the_tier(db):
    ada = new_profile(db)
    earn(db, ada, 1000, "o-1")
    reverse(db, ada, "o-1", points=1)
    assert balance(db, ada) == (999, 999, "member")


# --- merges -----------------------------------------------------------------------------------------


def set_merged(db, absorbed: int, survivor: int | None) -> None:
    with db.write() as s:
        profile = s.get(Profile, absorbed)
        profile.status, profile.merged_into_id = ("merged", survivor) if survivor else ("active", None)


def test_points_and_lifetime_points_move_on_merge_and_come_back_on_unmerge(db):
    survivor, absorbed = new_profile(db, "Ada"), new_profile(db, "Ada L.")
    earn(db, survivor, 900, "o-1")
    earn(db, absorbed, 300, "o-2")
    spend(db, absorbed, 100)
    set_merged(db, absorbed, survivor)
    with db.write() as s:
        moved = service.move_points(s, actor=SYSTEM, from_profile_id=absorbed, to_profile_id=survivor, points=None,
                                    cause_type="merge", cause_id="m-1", programme=RULES)
    assert moved == 200
    assert balance(db, survivor) == (1100, 1200, "silver")
    assert balance(db, absorbed) == (0, 300, "member")  # the lifetime points it brought stay on record
    assert ledger(db, absorbed)[-1] == ("transfer_out", -200, 0, "merge", "m-1")
    assert ledger(db, survivor)[-1] == ("transfer_in", 200, 1100, "merge", "m-1")

    set_merged(db, absorbed, None)
    with db.write() as s:
        back = service.move_points(s, actor=SYSTEM, from_profile_id=survivor, to_profile_id=absorbed, points=moved,
                                   cause_type="unmerge", cause_id="m-1", programme=RULES)
    assert back == 200
    assert balance(db, survivor) == (900, 900, "member")
    assert balance(db, absorbed) == (200, 300, "member")
    assert count(db, LoyaltyEntry, LoyaltyEntry.cause_type.in_(["merge", "unmerge"])) == 4


def test_an_unmerge_moves_back_no_more_than_the_survivor_still_has(db):
    survivor, absorbed = new_profile(db), new_profile(db)
    earn(db, absorbed, 300, "o-1")
    with db.write() as s:
        service.move_points(s, actor=SYSTEM, from_profile_id=absorbed, to_profile_id=survivor, points=None,
                            cause_type="merge", cause_id="m-1")
    spend(db, survivor, 250)
    with db.write() as s:
        back = service.move_points(s, actor=SYSTEM, from_profile_id=survivor, to_profile_id=absorbed, points=300,
                                   cause_type="unmerge", cause_id="m-1", programme=RULES)
    assert back == 50
    assert balance(db, survivor) == (0, 0, "member")
    assert balance(db, absorbed) == (50, 300, "member")


def test_merging_a_profile_without_an_account_moves_nothing_and_writes_nothing(db):
    survivor, absorbed = new_profile(db), new_profile(db)
    with db.write() as s:
        assert service.move_points(s, actor=SYSTEM, from_profile_id=absorbed, to_profile_id=survivor, points=None,
                                   cause_type="merge", cause_id="m-1") == 0
    assert count(db, LoyaltyAccount) == 0 and count(db, LoyaltyEntry) == 0


def test_a_merged_id_earns_for_the_survivor_and_an_order_earned_before_the_merge_cannot_earn_again(db):
    survivor, absorbed = new_profile(db), new_profile(db)
    earn(db, absorbed, 70, "o-1")
    with db.write() as s:
        service.move_points(s, actor=SYSTEM, from_profile_id=absorbed, to_profile_id=survivor, points=None,
                            cause_type="merge", cause_id="m-1")
    set_merged(db, absorbed, survivor)
    error = refusal(db, lambda s: service.earn(s, actor=SYSTEM, profile_id=absorbed, points=70, channel="web",
                                               cause_type="order", cause_id="o-1"))
    assert error.code == "duplicate_cause"
    assert earn(db, absorbed, 10, "o-2").profile_id == survivor
    assert balance(db, survivor)[:2] == (80, 80)
    assert reverse(db, survivor, "o-1").points == -70  # what the absorbed profile earned goes back from the survivor


# --- rewards and gifts ------------------------------------------------------------------------------


def test_a_gift_reward_spends_its_points_and_hands_out_one_unit_first_expired_first_out(shop):
    ada = new_profile(shop)
    earn(shop, ada, 250)
    receive(shop, "MUG", 5)
    with shop.write() as s:
        done = redeem(s, ada, "MUG-100")
    assert (done.entry.kind, done.entry.points, done.entry.balance_after, done.entry.cause_type) == (
        "redeem", -100, 150, "reward")
    assert done.entry.cause_id == f"MUG-100:{done.id}"
    assert (done.sku, done.location_id) == ("MUG", "s1")
    assert on_hand(shop, "MUG") == 4
    with shop.read() as s:
        moved = [(x.kind, x.reason, x.delta, x.cause_type, x.cause_id) for x in s.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == "hand_out"))]
        stock_events = list(s.scalars(select(OutboxEvent.data).where(OutboxEvent.type == "stock.changed")))
    assert moved == [("hand_out", "gift", -1, "reward", done.entry.cause_id)]
    assert stock_events[-1]["on_hand"] == 4 and stock_events[-1]["cause"] == "hand_out"
    assert count(shop, OutboxEvent, OutboxEvent.type == "loyalty.redeemed") == 1


def test_a_hidden_gift_running_out_is_refused_and_nothing_is_written(shop):
    ada = new_profile(shop)
    earn(shop, ada, 500)
    receive(shop, "MUG", 3)
    with shop.write() as s:
        redeem(s, ada, "MUG-100")  # 3 -> 2 units: at its minimum, so hidden from now on
    with shop.read() as s:
        assert s.get(StockLevel, ("s1", catalog.get_product(s, "MUG").id)).low is True
    entries_before, events_before = count(shop, LoyaltyEntry), count(shop, OutboxEvent)
    error = refusal(shop, lambda s: redeem(s, ada, "MUG-100"))
    assert (error.status, error.code, error.extra["why"]) == (409, "reward_unavailable", "running_out")
    assert balance(shop, ada)[0] == 400
    assert on_hand(shop, "MUG") == 2
    assert (count(shop, LoyaltyEntry), count(shop, OutboxEvent)) == (entries_before, events_before)


def test_a_gift_that_is_only_flagged_when_running_out_is_still_handed_out(shop):
    ada = new_profile(shop)
    earn(shop, ada, 50)
    receive(shop, "PEN", 1)
    with shop.write() as s:
        assert redeem(s, ada, "PEN-50").entry.balance_after == 0
    assert on_hand(shop, "PEN") == 0


def test_a_gift_with_no_unit_at_the_location_is_refused_and_keeps_the_points(shop):
    ada = new_profile(shop)
    earn(shop, ada, 50)
    error = refusal(shop, lambda s: redeem(s, ada, "PEN-50"))
    assert (error.code, error.extra["why"], error.extra["available"]) == ("reward_unavailable", "out_of_stock", 0)
    assert balance(shop, ada)[0] == 50


def test_a_gift_reward_needs_a_location_and_enough_points(shop):
    ada = new_profile(shop)
    earn(shop, ada, 99)
    receive(shop, "MUG", 5)
    error = refusal(shop, lambda s: redeem(s, ada, "MUG-100", location_id=None))
    assert (error.code, error.extra["errors"][0]["field"]) == ("location_required", "location_id")
    error = refusal(shop, lambda s: redeem(s, ada, "MUG-100"))
    assert (error.code, error.extra["balance"]) == ("insufficient_points", 99)
    error = refusal(shop, lambda s: redeem(s, ada, "NOPE"))
    assert (error.status, error.code) == (404, "unknown_reward")
    assert on_hand(shop, "MUG") == 5


def test_a_reward_without_a_gift_only_spends_points(shop):
    ada = new_profile(shop)
    earn(shop, ada, 30)
    with shop.write() as s:
        service.create_reward(s, actor=SYSTEM, code="COFFEE", name="Free coffee", points=30)
    with shop.write() as s:
        done = redeem(s, ada, "COFFEE", location_id=None)
    assert (done.entry.balance_after, done.sku, done.location_id) == (0, None, None)


def test_a_gift_reward_must_name_a_gift_product_and_codes_are_unique(shop):
    error = refusal(shop, lambda s: service.create_reward(s, actor=SYSTEM, code="SOAP", name="Soap", points=10,
                                                          sku="SOAP"))
    assert (error.code, error.extra["errors"][0]["field"]) == ("not_a_gift", "sku")
    error = refusal(shop, lambda s: service.create_reward(s, actor=SYSTEM, code="MUG-100", name="Mug", points=10))
    assert (error.status, error.code) == (409, "duplicate_reward")
    with shop.read() as s:
        assert [r.code for r in service.list_rewards(s, limit=10)] == ["MUG-100", "PEN-50"]


# --- concurrency ------------------------------------------------------------------------------------


def test_racing_spenders_take_exactly_the_balance_and_never_more(db):
    ada = new_profile(db)
    earn(db, ada, 100)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def racer(n: int) -> None:
        start.wait()
        try:
            with db.write() as s:
                service.spend(s, actor=SYSTEM, profile_id=ada, points=10, channel="pos", cause_type="pos_sale",
                              cause_id=f"t{n}")
            result = "spent"
        except DomainError as exc:
            result = exc.code
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == {"spent": 10, "insufficient_points": 6}
    assert balance(db, ada)[0] == 0
    assert sorted(b for kind, _, b, _, _ in ledger(db, ada) if kind == "spend") == list(range(0, 100, 10))
