"""Errors of the catalogue, each with a stable code."""

from __future__ import annotations

from omniretail.core.errors import Conflict, Invalid, NotFound, register_unique_constraint

register_unique_constraint("uq_products_sku", "products.sku", code="duplicate_sku",
                           detail="A product with this SKU already exists")
register_unique_constraint("uq_products_gtin14", "products.gtin14", code="duplicate_ean",
                           detail="Another product already has this EAN")


def unknown_sku(sku: str, *, field: str | None = None) -> NotFound | Invalid:
    """404 for a SKU in the path, 422 naming the field for a SKU inside a body."""
    if field is None:
        return NotFound(f"No product with SKU {sku!r}", code="unknown_sku", sku=sku)
    return Invalid(f"No product with SKU {sku!r}", field=field, code="unknown_sku")


def invalid_ean(ean: str, reason: str) -> Invalid:
    return Invalid(f"{ean!r} is not a valid EAN/GTIN: {reason}", field="ean", code="invalid_ean")


def duplicate_sku(sku: str) -> Conflict:
    return Conflict(f"A product with SKU {sku!r} already exists", code="duplicate_sku", sku=sku)


def duplicate_ean(ean: str, owner_sku: str) -> Conflict:
    return Conflict(f"EAN {ean} already belongs to product {owner_sku!r}", code="duplicate_ean",
                    ean=ean, owner_sku=owner_sku)
