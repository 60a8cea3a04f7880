"""Demo customers: thousands of people from every channel, with the duplicates real data has
(typos, another phone format, a maiden name), households sharing a landline, consents,
loyalty points and rewards; then the batch duplicate pass merges the certain cases and
queues the doubtful ones for staff review."""

from __future__ import annotations

import random
from datetime import timedelta

from rich.console import Console
from sqlalchemy import select

from omniretail.catalog.models import Product
from omniretail.core.clock import utcnow
from omniretail.core.db import Database
from omniretail.core.security import SYSTEM
from omniretail.customers import batch, bulkload, dataset, privacy
from omniretail.customers.models import Profile
from omniretail.loyalty import service as loyalty

CHANNELS = ("web", "web", "app", "pos", "pos", "pos", "call_centre", "messenger")
REWARDS = (("voucher-5", "5 € voucher", 500), ("voucher-15", "15 € voucher", 1200))


def build_customers(db: Database, *, console: Console, people: int = 2500, seed: int = 21) -> dict[str, int]:
    """Load demo people, give some of them consents and points, and run the duplicate pass."""
    rng = random.Random(seed)
    records = dataset.generate(people, seed=seed, duplicate_rate=0.1)
    rng.shuffle(records)
    now = utcnow()
    created = sorted(now - timedelta(days=rng.uniform(1, 720)) for _ in records)
    with db.write() as s:
        ids = bulkload.load_people(s, [r.person for r in records], channels=CHANNELS, actor="demo", at=created)
    with db.write() as s:
        consenting = rng.sample(ids, len(ids) * 3 // 5)
        for pid in consenting:
            profile = s.get(Profile, pid)
            assert profile is not None
            decisions = [privacy.ConsentDecision("service", "all", True, "2025-01")]
            decisions.append(privacy.ConsentDecision("marketing", rng.choice(("email", "sms", "messenger", "all")),
                                                     rng.random() < 0.7, rng.choice(("2025-01", "2026-03"))))
            if rng.random() < 0.5:
                decisions.append(privacy.ConsentDecision("personalisation", "all", rng.random() < 0.8, "2026-03"))
            privacy.record_consents(s, actor=SYSTEM, profile=profile, decisions=decisions,
                                    source_channel=rng.choice(("web", "app", "pos")))
    sales = 0
    with db.write() as s:
        for pid in rng.sample(ids, len(ids) * 2 // 5):
            for _ in range(rng.randint(1, 6)):
                sales += 1
                loyalty.earn(s, actor=SYSTEM, profile_id=pid, amount_minor=rng.randint(800, 25_000), currency="EUR",
                             channel=rng.choice(("pos", "web", "app")), cause_type="pos_sale",
                             cause_id=f"demo-{sales}")
        for code, name, points in REWARDS:
            loyalty.create_reward(s, actor=SYSTEM, code=code, name=name, points=points)
        gifts = list(s.scalars(select(Product.sku).where(Product.is_gift).order_by(Product.id).limit(3)))
        for i, sku in enumerate(gifts):
            loyalty.create_reward(s, actor=SYSTEM, code=f"gift-{i + 1}", name=f"Gift: {sku}", points=300 + 200 * i,
                                  sku=sku)
    report = batch.dedupe(db, actor=SYSTEM)
    console.print(f"customers: {len(ids)} profiles from {len(set(CHANNELS))} channels ({people} people, with "
                  f"typos, other phone formats, maiden names, households); {len(consenting)} with consents, "
                  f"{sales} purchases earning points, {len(REWARDS) + len(gifts)} rewards; duplicate pass merged "
                  f"{report.merged}, queued {report.queued} pairs for review")
    return {"profiles": len(ids), "merged": report.merged, "queued": report.queued}
