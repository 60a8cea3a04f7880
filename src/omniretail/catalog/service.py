"""Use cases of the catalogue: create, change, find and relate products."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from omniretail.catalog import errors, index
from omniretail.catalog.codes import InvalidGtin, gtin14, looks_like_gtin, validate_gtin
from omniretail.catalog.models import Product, ProductAlternative
from omniretail.catalog.schemas import ProductIn, ProductOut, ProductPatch
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Invalid
from omniretail.core.money import check_currency, to_minor
from omniretail.core.outbox import Event, emit
from omniretail.core.schemas import MoneyIn
from omniretail.core.security import Actor


def checked_ean(ean: str | None) -> tuple[str | None, str | None]:
    """Return (ean, gtin14) for a valid code, (None, None) for none, or raise `invalid_ean`."""
    if ean is None or not ean.strip():
        return None, None
    try:
        compact = validate_gtin(ean)
    except InvalidGtin as exc:
        raise errors.invalid_ean(ean, str(exc)) from None
    return compact, gtin14(compact)


def price_minor(price: MoneyIn, default_currency: str) -> tuple[int, str]:
    currency = check_currency(price.currency or default_currency)
    return to_minor(price.amount, currency), currency


def product_snapshot(product: Product) -> dict[str, Any]:
    return ProductOut.of(product).model_dump(mode="json", exclude={"created_at", "updated_at", "variants"})


def product_fields(data: ProductIn, default_currency: str) -> dict[str, Any]:
    ean, gtin = checked_ean(data.ean)
    minor, currency = price_minor(data.price, default_currency)
    return dict(
        ean=ean, gtin14=gtin, name=data.name.strip(), brand=data.brand, category=data.category,
        family=data.family, price_minor=minor, currency=currency, attributes=dict(data.attributes),
        rating=data.rating, rating_count=data.rating_count, image_urls=[str(u) for u in data.image_urls],
        is_gift=data.is_gift, perishable=data.perishable, gift_min_stock=data.gift_min_stock,
        gift_low_policy=data.gift_low_policy,
    )


def _ean_owner(session: Session, gtin: str | None, *, other_than: int | None = None) -> Product | None:
    if gtin is None:
        return None
    query = select(Product).where(Product.gtin14 == gtin)
    if other_than is not None:
        query = query.where(Product.id != other_than)
    return session.scalar(query)


def create_product(session: Session, *, actor: Actor, data: ProductIn, default_currency: str) -> Product:
    """Create a product (one sellable SKU)."""
    fields = product_fields(data, default_currency)
    if session.scalar(select(Product.id).where(Product.sku == data.sku)) is not None:
        raise errors.duplicate_sku(data.sku)
    if (owner := _ean_owner(session, fields["gtin14"])) is not None:
        raise errors.duplicate_ean(fields["ean"], owner.sku)
    now = utcnow()
    product = Product(sku=data.sku, created_at=now, updated_at=now, active=True, **fields)
    session.add(product)
    session.flush()
    index.index_products(session, [product], replace=False)
    snapshot = product_snapshot(product)
    audit.record(session, actor, "product.created", "product", product.sku, snapshot)
    emit(session, Event("product.created", "product", product.sku, snapshot))
    return product


_PLAIN_FIELDS = frozenset({"name", "brand", "category", "family", "attributes", "rating", "rating_count",
                           "is_gift", "perishable", "active", "gift_min_stock", "gift_low_policy"})
_REQUIRED_FIELDS = frozenset({"name", "attributes", "rating_count", "is_gift", "perishable", "active",
                              "gift_low_policy"})


def update_product(session: Session, *, actor: Actor, sku: str, patch: ProductPatch,
                   default_currency: str) -> Product:
    """Change some fields of a product; the search index follows."""
    product = get_product(session, sku)
    before = product_snapshot(product)
    given = patch.model_dump(exclude_unset=True)
    if "ean" in given:
        ean, gtin = checked_ean(patch.ean)
        if (owner := _ean_owner(session, gtin, other_than=product.id)) is not None:
            raise errors.duplicate_ean(ean or "", owner.sku)
        product.ean, product.gtin14 = ean, gtin
    if "price" in given and patch.price is None:
        raise Invalid("price cannot be null", field="price", code="null_not_allowed")
    if patch.price is not None:
        product.price_minor, product.currency = price_minor(patch.price, default_currency)
    if "image_urls" in given:
        product.image_urls = [str(u) for u in patch.image_urls or []]
    for name in _PLAIN_FIELDS & given.keys():
        if given[name] is None and name in _REQUIRED_FIELDS:
            raise Invalid(f"{name} cannot be null", field=name, code="null_not_allowed")
        setattr(product, name, given[name])
    after = product_snapshot(product)
    changes = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if not changes:
        return product
    product.updated_at = utcnow()
    session.flush()
    if changes.keys() & index.INDEXED_FIELDS:
        index.index_products(session, [product])
    audit.record(session, actor, "product.updated", "product", product.sku, changes)
    emit(session, Event("product.updated", "product", product.sku, {"sku": product.sku, "changes": changes}))
    return product


def get_product(session: Session, sku: str, *, field: str | None = None) -> Product:
    """Return the product with this SKU or raise `unknown_sku`."""
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise errors.unknown_sku(sku, field=field)
    return product


def find_by_ean(session: Session, code: str) -> Product | None:
    """Return the product with this EAN/UPC/GTIN (any length form), if any."""
    try:
        compact = validate_gtin(code)
    except InvalidGtin:
        return None
    return session.scalar(select(Product).where(Product.gtin14 == gtin14(compact)))


def variants_of(session: Session, product: Product) -> list[str]:
    """SKUs of the product's family, itself included."""
    if product.family is None:
        return [product.sku]
    return list(session.scalars(select(Product.sku).where(Product.family == product.family).order_by(Product.sku)))


def list_products(session: Session, *, limit: int, after_id: int = 0, category: str | None = None,
                  brand: str | None = None, family: str | None = None, is_gift: bool | None = None,
                  perishable: bool | None = None, active: bool | None = True) -> list[Product]:
    """List products in a stable order, filtered."""
    query = select(Product).where(Product.id > after_id)
    for column, value in ((Product.category, category), (Product.brand, brand), (Product.family, family),
                          (Product.is_gift, is_gift), (Product.perishable, perishable), (Product.active, active)):
        if value is not None:
            query = query.where(column == value)
    return list(session.scalars(query.order_by(Product.id).limit(limit)))


def search_products(session: Session, *, q: str, limit: int, offset: int = 0) -> list[Product]:
    """Find products by EAN (exact), SKU (exact) or name and brand words (typo tolerant), best first."""
    q = q.strip()
    if not q:
        return []
    if looks_like_gtin(q):
        found = find_by_ean(session, q)
        if found is not None:
            return [found] if offset == 0 and found.active else []
    # A SKU typed exactly is the first result; the ranked words follow without it, page after page.
    exact = None if " " in q else session.scalar(select(Product).where(Product.sku == q, Product.active))
    lead = [exact] if exact is not None and offset == 0 else []
    skip = 1 if exact is not None and offset > 0 else 0
    return lead + index.search_ranked(session, q, limit=limit + 1 - len(lead), offset=offset - skip,
                                      exclude_id=exact.id if exact is not None else None)


def set_alternatives(session: Session, *, actor: Actor, sku: str, skus: list[str]) -> list[Product]:
    """Replace the curated substitutes of a product (best first)."""
    product = get_product(session, sku)
    chosen: list[Product] = []
    seen: set[str] = set()
    for i, alt_sku in enumerate(skus):
        if alt_sku in seen:
            continue
        seen.add(alt_sku)
        if alt_sku == sku:
            raise Invalid("A product cannot be its own alternative", field=f"skus.{i}", code="self_alternative")
        chosen.append(get_product(session, alt_sku, field=f"skus.{i}"))
    session.execute(delete(ProductAlternative).where(ProductAlternative.product_id == product.id))
    session.add_all(ProductAlternative(product_id=product.id, alternative_id=alt.id, position=pos)
                    for pos, alt in enumerate(chosen))
    skus_chosen = [a.sku for a in chosen]
    audit.record(session, actor, "product.alternatives_set", "product", sku, {"alternatives": skus_chosen})
    emit(session, Event("product.updated", "product", sku, {"sku": sku, "changes": {"alternatives": skus_chosen}}))
    return chosen


def alternatives(session: Session, *, sku: str, limit: int = 10) -> list[tuple[Product, str]]:
    """Substitutes for a product: curated ones first, then similar ones of the same category.

    Similar means sharing the most words of the name other than the brand (the same kind of
    product from another brand or in another size), then nearest in price.
    """
    product = get_product(session, sku)
    curated = list(session.scalars(
        select(Product).join(ProductAlternative, ProductAlternative.alternative_id == Product.id)
        .where(ProductAlternative.product_id == product.id, Product.active)
        .order_by(ProductAlternative.position).limit(limit)
    ))
    result = [(p, "curated") for p in curated]
    if len(result) < limit and product.category is not None:
        taken = {product.id, *(p.id for p in curated)}
        shared = index.shared_words(session, product)
        query = (select(Product).where(Product.category == product.category, Product.active,
                                       Product.id.not_in(taken), Product.is_gift == product.is_gift)
                 .order_by(func.abs(Product.price_minor - product.price_minor), Product.id))
        if shared is not None:
            query = query.outerjoin(shared, shared.c.product_id == Product.id)
            query = query.order_by(None).order_by(func.coalesce(shared.c.shared, 0).desc(),
                                                  func.abs(Product.price_minor - product.price_minor), Product.id)
        result.extend((p, "similar") for p in session.scalars(query.limit(limit - len(result))))
    return result


def products_by_skus(session: Session, skus: list[str]) -> dict[str, Product]:
    if not skus:
        return {}
    return {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(skus)))}


def products_by_gtins(session: Session, gtins: list[str]) -> dict[str, Product]:
    if not gtins:
        return {}
    return {p.gtin14: p for p in session.scalars(select(Product).where(Product.gtin14.in_(gtins)))}

