"""One `Settings` object for the whole process, read from `OMNIRETAIL_*` variables."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Values that look like a secret but are not one; refused outside the demo.
WEAK_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "demo", "omniretail"})

DEMO_SECRET_KEY = "demo"


class InsecureSettings(RuntimeError):
    """Raised when a production command would start with a default secret."""


def cost_parameters(text: str) -> dict[str, float]:
    """`name=value` pairs separated by commas, as numbers by name."""
    pairs = (p.partition("=") for p in text.split(",") if p.strip())
    return {name.strip(): float(value) for name, _, value in pairs}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNIRETAIL_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///omniretail.db",
        description="sqlite:///path/to.db or postgresql://user@host:5432/db",
    )
    secret_key: str | None = Field(default=None, repr=False)
    nats_url: str | None = None
    default_currency: str = "EUR"
    default_region: str = Field(default="DE", description="region for phone numbers written without a country code")
    match_auto_threshold: float | None = Field(
        default=None, gt=0.9, le=1,
        description="merge duplicates automatically at or above this score; above 0.9, where the matcher caps "
                    "pairs it wants a human to see (a missing first name beside household evidence)")
    match_review_threshold: float | None = Field(default=None, ge=0, le=1,
                                                 description="queue duplicates for staff review at or above this score")
    loyalty_points_per_unit: int = Field(default=1, ge=0, description="points earned per whole currency unit spent")
    loyalty_tiers: str = Field(default="silver:1000,gold:5000",
                               description="tier:lifetime points, ascending; below the first tier: member")
    order_inspection_rules: str = Field(
        default="all", description="inspection rules that may hold an order: all, none, or codes separated by commas "
                                   "(repeat_order, incomplete_address, unverifiable_address, invalid_phone, "
                                   "new_customer_high_value, payment_failed, payment_missing, unusual_quantity, "
                                   "address_failed_before)")
    order_repeat_window_minutes: float = Field(default=30, ge=0,
                                               description="the same lines again within this many minutes: a repeat")
    order_new_customer_limit: Decimal = Field(default=Decimal("250"), ge=0, decimal_places=4,
                                              description="a customer's first order above this amount (in the "
                                                          "order's currency) is held")
    order_max_line_quantity: int = Field(default=20, ge=1, description="more units of one SKU is unusual")
    order_max_units: int = Field(default=60, ge=1, description="more units in one order is unusual")
    sourcing_policy: str = Field(default="default", pattern="^(default|greedy|most_lines|optimal)$",
                                 description="how delivery orders are sourced: default (fast, near-optimal), greedy "
                                             "(each line from the nearest location that has it), most_lines "
                                             "(fewest parcels, then nearest) or optimal (exact, HiGHS)")
    bid_prices: bool = Field(default=True, description="the default sourcing policy of live deliveries chooses with "
                                                       "the bid prices the worker computes (0: without)")
    bid_price_history_days: int = Field(default=7, ge=1, le=90, description="days of delivery orders the bid prices "
                                                                           "take as the forecast")
    bid_price_minutes: float = Field(default=15, gt=0, le=1440, description="how often the worker computes bid prices")
    bid_price_scenarios: int = Field(default=8, ge=1, le=64, description="demand scenarios each bid-price run "
                                                                        "averages over")
    sourcing_channel_policies: str = Field(default="", description="per-channel policies, e.g. "
                                                                   "marketplace:greedy,web:optimal")
    sourcing_cost: str = Field(default="", description="cost model overrides, e.g. package=8.759,item=0.423,"
                                                       "item_mile=0.000541")
    pickup_hold_days: int = Field(default=7, ge=1, le=90,
                                  description="days a pickup waits at the counter before its units return to stock")
    server_threads: int = Field(default=8, ge=1, le=200,
                                description="requests one server process works on at once (more threads than "
                                            "cores mostly wait for Python's interpreter lock)")
    relay: bool = Field(default=True, description="run the outbox relay inside `serve` and `demo` (0 to leave it to "
                                                  "`omniretail worker` processes)")
    delivery_retention_days: int = Field(default=30, ge=1, le=3650,
                                         description="days delivered (or cancelled) webhook and stream deliveries "
                                                     "are kept with their attempts before the worker deletes them")
    relay_poll_seconds: float = Field(default=1.0, gt=0, le=60, description="how often an idle relay looks for events")
    relay_lease_seconds: float = Field(default=60, gt=0, le=3600,
                                       description="how long a worker owns the deliveries it claimed; a worker that "
                                                   "died is replaced after this")
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=300, description="longest wait for a receiver")
    webhook_max_attempts: int = Field(default=12, ge=1, le=100, description="tries before a delivery is dead-lettered")
    webhook_retry_base_seconds: float = Field(default=5, gt=0, description="wait after the first failed try; doubles")
    webhook_retry_max_seconds: float = Field(default=3600, gt=0, description="longest wait between two tries")
    nats_stream: str = Field(default="OMNIRETAIL", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                             description="JetStream stream the events go to (created if missing)")
    nats_subject_prefix: str = Field(default="omniretail", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
                                     description="events are published as <prefix>.<event type>")
    demo: bool = False
    sql_echo: bool = False

    def sourcing_cost_overrides(self) -> dict[str, float]:
        """`OMNIRETAIL_SOURCING_COST` as parameters by name."""
        return cost_parameters(self.sourcing_cost)

    @field_validator("sourcing_channel_policies")
    @classmethod
    def _policies_parse(cls, value: str) -> str:
        from omniretail.sourcing.service import parse_policies

        parse_policies(value)
        return value

    @field_validator("sourcing_cost")
    @classmethod
    def _cost_parse(cls, value: str) -> str:
        from omniretail.sourcing.cost import CostModel

        CostModel.from_dict(cost_parameters(value))
        return value

    @field_validator("default_currency")
    @classmethod
    def _currency_upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("loyalty_tiers")
    @classmethod
    def _tiers_parse(cls, value: str) -> str:
        from omniretail.loyalty.tiers import parse_tiers

        parse_tiers(value)
        return value

    @field_validator("order_inspection_rules")
    @classmethod
    def _inspection_rules_parse(cls, value: str) -> str:
        from omniretail.orders.inspection import parse_rules

        parse_rules(value)
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Settings:
        if self.relay_lease_seconds < 2 * self.webhook_timeout_seconds:
            raise ValueError("relay_lease_seconds must be at least twice webhook_timeout_seconds, so a claimed "
                             "delivery is never sent twice at once")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        return normalise_database_url(self.database_url)

    def require_secret(self) -> None:
        """Refuse to run outside the demo with a missing or default secret key."""
        if self.demo:
            return
        if self.secret_key is None or self.secret_key.strip().lower() in WEAK_SECRETS:
            raise InsecureSettings(
                "OMNIRETAIL_SECRET_KEY is not set or is a default value; "
                "set it to a long random string (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        if len(self.secret_key) < 16:
            raise InsecureSettings("OMNIRETAIL_SECRET_KEY must be at least 16 characters long")


def normalise_database_url(url: str) -> str:
    """Accept the URL forms users type and return the one SQLAlchemy needs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
