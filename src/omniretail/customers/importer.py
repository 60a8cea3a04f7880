"""Customers as CSV. Every row goes through `identify`, so an import joins people already known."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.core.csvio import CREATED, UNCHANGED, UPDATED, RowError, RowProblem, optional, reason_of
from omniretail.core.errors import DomainError
from omniretail.core.security import Actor
from omniretail.customers import identify as identification
from omniretail.customers.addresses import AddressInput
from omniretail.customers.models import Address, Identity, Profile
from omniretail.customers.schemas import AddressIn, AttributesIn

IDENTITY_COLUMNS = ("email", "phone", "loyalty_card", "pos_customer_id")
COLUMNS = ("id", "given_name", "family_name", "date_of_birth", "language", *IDENTITY_COLUMNS, "line1", "line2",
           "postcode", "city", "region", "country", "channel")


@dataclass(frozen=True)
class CustomerRow:
    channel: str
    identities: list[identification.IdentityInput]
    attributes: identification.Attributes


@dataclass
class CustomerImport:
    """Import spec for customers: each row identifies (and extends) a person or creates one."""

    actor: Actor
    default_channel: str = "pos"
    kind: str = "customers"
    required: frozenset[str] = frozenset({"given_name", "family_name"})
    columns: tuple[str, ...] = COLUMNS

    def parse(self, row: dict[str, str]) -> CustomerRow:
        born = optional(row.get("date_of_birth", ""))
        try:
            date_of_birth = date.fromisoformat(born) if born else None
        except ValueError:
            raise RowProblem(f"date_of_birth {born!r} is not a date (YYYY-MM-DD)") from None
        country = optional(row.get("country", ""))
        identities = [identification.IdentityInput(kind, value, country)
                      for kind in IDENTITY_COLUMNS if (value := optional(row.get(kind, "")))]
        address = None
        if optional(row.get("line1", "")):
            if not country or not optional(row.get("city", "")):
                raise RowProblem("an address needs line1, city and country")
            address = AddressInput(line1=row["line1"], line2=optional(row.get("line2", "")), city=row["city"],
                                   postcode=optional(row.get("postcode", "")), region=optional(row.get("region", "")),
                                   country=country)
        if not identities and not (optional(row.get("given_name", "")) and optional(row.get("family_name", ""))):
            raise RowProblem("a customer needs an identity (email, phone, card) or a full name")
        # the API's limits (lengths, language tag, date of birth), so a row the columns cannot hold is refused alone
        AttributesIn(given_name=optional(row.get("given_name", "")), family_name=optional(row.get("family_name", "")),
                     date_of_birth=date_of_birth, language=optional(row.get("language", "")),
                     address=AddressIn(**asdict(address)) if address else None)
        return CustomerRow(channel=optional(row.get("channel", "")) or self.default_channel, identities=identities,
                           attributes=identification.Attributes(
                               given_name=optional(row.get("given_name", "")),
                               family_name=optional(row.get("family_name", "")), date_of_birth=date_of_birth,
                               language=optional(row.get("language", "")), address=address))

    def tables(self) -> list[str]:
        return ["customers", "customer_identities", "customer_addresses", "customer_keys"]

    def load(self, session: Session, items: list[tuple[int, CustomerRow]]) -> dict[int, str | RowError]:
        outcomes: dict[int, str | RowError] = {}
        for line, row in items:
            try:
                with session.begin_nested():
                    resolution = identification.identify(session, actor=self.actor, channel=row.channel,
                                                         identities=row.identities, attributes=row.attributes)
                    outcomes[line] = (CREATED if resolution.created else
                                      UPDATED if resolution.changed or resolution.merged else UNCHANGED)
            except (DomainError, ValidationError) as exc:
                outcomes[line] = RowError(line, reason_of(exc))
        return outcomes


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """Every active profile as a CSV row (primary identities, default address), in the format the import reads."""
    query = select(Profile).where(Profile.status == "active").order_by(Profile.id)
    # Result.yield_per: a server-side cursor (the execution option) needs a transaction, and reads on PostgreSQL
    # run in autocommit
    for chunk in session.scalars(query).yield_per(2000).partitions():
        ids = [p.id for p in chunk]
        first: dict[tuple[int, str], str] = {}
        for pid, kind, value in session.execute(select(Identity.profile_id, Identity.type, Identity.value)
                                                .where(Identity.profile_id.in_(ids)).order_by(Identity.id)):
            first.setdefault((pid, kind), value)
        homes: dict[int, Address] = {}
        for address in session.scalars(select(Address).where(Address.profile_id.in_(ids))
                                       .order_by(Address.is_default.desc(), Address.id)):
            homes.setdefault(address.profile_id, address)
        for p in chunk:
            home = homes.get(p.id)
            yield {"id": p.id, "given_name": p.given_name or "", "family_name": p.family_name or "",
                   "date_of_birth": p.date_of_birth.isoformat() if p.date_of_birth else "",
                   "language": p.language or "",
                   **{kind: first.get((p.id, kind), "") for kind in IDENTITY_COLUMNS},
                   "line1": home.line1 if home else "", "line2": (home.line2 or "") if home else "",
                   "postcode": (home.postcode or "") if home else "", "city": home.city if home else "",
                   "region": (home.region or "") if home else "", "country": home.country if home else "",
                   "channel": p.created_channel or ""}
