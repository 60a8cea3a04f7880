"""One `Settings` object for the whole process, read from `OMNIRETAIL_*` variables."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Values that look like a secret but are not one; refused outside the demo.
WEAK_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "demo", "omniretail"})

DEMO_SECRET_KEY = "demo"


class InsecureSettings(RuntimeError):
    """Raised when a production command would start with a default secret."""


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
    demo: bool = False
    sql_echo: bool = False

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
