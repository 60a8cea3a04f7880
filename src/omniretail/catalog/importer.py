"""Products as CSV: the columns, parsing a row, loading a batch, exporting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.catalog import index
from omniretail.catalog.models import Product
from omniretail.catalog.schemas import ProductIn
from omniretail.catalog.service import product_fields, product_snapshot, products_by_gtins, products_by_skus
from omniretail.core.audit import entry_row
from omniretail.core.bulk import allocate_ids, insert_rows
from omniretail.core.clock import utcnow
from omniretail.core.csvio import CREATED, UNCHANGED, UPDATED, RowError, RowProblem, optional, parse_bool
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.money import from_minor
from omniretail.core.outbox import Event, event_row
from omniretail.core.security import Actor

IMPORT_NOTE = "CSV import"
COLUMNS = ("sku", "ean", "name", "brand", "category", "family", "price", "currency", "rating", "rating_count",
           "is_gift", "perishable", "image_urls", "attributes", "gift_min_stock", "gift_low_policy")


@dataclass
class ParsedProduct:
    sku: str
    fields: dict[str, Any]


@dataclass
class ProductImport:
    """Import spec for products: creates new SKUs, updates existing ones."""

    actor: Actor
    default_currency: str
    kind: str = "products"
    required: frozenset[str] = frozenset({"sku", "name", "price"})
    columns: tuple[str, ...] = COLUMNS
    _seen_skus: dict[str, int] = field(default_factory=dict)
    _seen_gtins: dict[str, int] = field(default_factory=dict)

    def parse(self, row: dict[str, str]) -> ParsedProduct:
        attributes_text = row.get("attributes", "")
        try:
            attributes = json.loads(attributes_text) if attributes_text else {}
        except json.JSONDecodeError:
            raise RowProblem("attributes: not a JSON object like {\"size\": \"M\"}") from None
        data = ProductIn.model_validate({
            "sku": row["sku"], "name": row["name"], "ean": optional(row.get("ean", "")),
            "brand": optional(row.get("brand", "")), "category": optional(row.get("category", "")),
            "family": optional(row.get("family", "")),
            "price": {"amount": row["price"], "currency": optional(row.get("currency", ""))},
            "rating": optional(row.get("rating", "")), "rating_count": row.get("rating_count") or 0,
            "is_gift": parse_bool(row.get("is_gift", ""), column="is_gift"),
            "perishable": parse_bool(row.get("perishable", ""), column="perishable"),
            "image_urls": row.get("image_urls", "").replace("|", " ").split(),
            "attributes": attributes, "gift_min_stock": optional(row.get("gift_min_stock", "")),
            "gift_low_policy": row.get("gift_low_policy") or "flag",
        })
        fields = product_fields(data, self.default_currency)
        return ParsedProduct(sku=data.sku, fields=fields)

    def tables(self) -> list[str]:
        return ["products", "product_terms", "search_terms", "search_keys"]

    def _claim(self, line: int, item: ParsedProduct) -> RowError | None:
        """Refuse a SKU or EAN that an earlier line of the same file already used."""
        first = self._seen_skus.setdefault(item.sku, line)
        if first != line:
            return RowError(line, f"SKU {item.sku} is already on line {first} of this file")
        gtin = item.fields["gtin14"]
        if gtin is not None:
            first = self._seen_gtins.setdefault(gtin, line)
            if first != line:
                return RowError(line, f"EAN {item.fields['ean']} is already on line {first} of this file")
        return None

    def load(self, session: Session, items: list[tuple[int, ParsedProduct]]) -> dict[int, str | RowError]:
        outcomes: dict[int, str | RowError] = {}
        existing = products_by_skus(session, [item.sku for _, item in items])
        owners = products_by_gtins(session, [i.fields["gtin14"] for _, i in items if i.fields["gtin14"]])
        now = utcnow()
        created: list[tuple[int, Product]] = []
        changed: list[tuple[int, Product, dict[str, Any]]] = []
        for line, item in items:
            problem = self._claim(line, item)
            owner = owners.get(item.fields["gtin14"]) if item.fields["gtin14"] else None
            if problem is None and owner is not None and owner.sku != item.sku:
                problem = RowError(line, f"EAN {item.fields['ean']} already belongs to product {owner.sku} "
                                         "(duplicate_ean)")
            if problem is not None:
                outcomes[line] = problem
                continue
            product = existing.get(item.sku)
            if product is None:
                # Transient: written below by a bulk insert, used here for the index and snapshots.
                product = Product(sku=item.sku, created_at=now, updated_at=now, active=True, **item.fields)
                created.append((line, product))
                continue
            before = product_snapshot(product)
            for name, value in item.fields.items():
                setattr(product, name, value)
            after = product_snapshot(product)
            diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
            if diff:
                product.updated_at = now
                changed.append((line, product, diff))
            else:
                outcomes[line] = UNCHANGED
        new_ids = allocate_ids(session, Product.__table__, len(created))
        for (_, product), new_id in zip(created, new_ids, strict=True):
            product.id = new_id
        insert_rows(session, Product.__table__, [_row(p) for _, p in created])
        session.flush()
        index.index_products(session, [p for _, p in created], replace=False)
        index.index_products(session, [p for _, p, d in changed if d.keys() & index.INDEXED_FIELDS])
        audit_rows, events = [], []
        for line, product in created:
            snapshot = product_snapshot(product)
            audit_rows.append(entry_row(self.actor, "product.created", "product", product.sku, snapshot,
                                        IMPORT_NOTE, at=now))
            events.append(event_row(Event("product.created", "product", product.sku, snapshot), occurred_at=now))
            outcomes[line] = CREATED
        for line, product, diff in changed:
            audit_rows.append(entry_row(self.actor, "product.updated", "product", product.sku, diff, IMPORT_NOTE,
                                        at=now))
            events.append(event_row(Event("product.updated", "product", product.sku,
                                          {"sku": product.sku, "changes": diff}), occurred_at=now))
            outcomes[line] = UPDATED
        insert_rows(session, AuditEntry.__table__, audit_rows)
        insert_rows(session, OutboxEvent.__table__, events)
        return outcomes



def _row(product: Product) -> dict[str, Any]:
    return {c.key: getattr(product, c.key) for c in Product.__table__.columns}


def export_rows(session: Session, *, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every product as a CSV row, in the format `ProductImport` reads back."""
    last = 0
    while True:
        products = list(session.scalars(select(Product).where(Product.id > last).order_by(Product.id).limit(batch)))
        if not products:
            return
        for p in products:
            yield {
                "sku": p.sku, "ean": p.ean or "", "name": p.name, "brand": p.brand or "",
                "category": p.category or "", "family": p.family or "",
                "price": from_minor(p.price_minor, p.currency), "currency": p.currency,
                "rating": "" if p.rating is None else p.rating, "rating_count": p.rating_count,
                "is_gift": str(p.is_gift).lower(), "perishable": str(p.perishable).lower(),
                "image_urls": " ".join(p.image_urls or []),
                "attributes": json.dumps(p.attributes, ensure_ascii=False) if p.attributes else "",
                "gift_min_stock": "" if p.gift_min_stock is None else p.gift_min_stock,
                "gift_low_policy": p.gift_low_policy,
            }
        last = products[-1].id
