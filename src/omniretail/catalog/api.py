from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from omniretail.catalog import service
from omniretail.catalog.schemas import (
    AlternativeList,
    AlternativeOut,
    AlternativesIn,
    ProductIn,
    ProductList,
    ProductOut,
    ProductPatch,
)
from omniretail.core.deps import DB
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import PROBLEM_RESPONSES, json_response, problem
from omniretail.core.security import EVERYONE, Actor, Role, require

router = APIRouter(prefix="/api/v1/products", tags=["catalogue"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Actor, Depends(require(*EVERYONE))]
Editor = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.INTEGRATION))]
NOT_FOUND = {404: problem("Unknown SKU (`unknown_sku`)")}
CONFLICT = {409: problem("`duplicate_sku` or `duplicate_ean`")}


def _currency(request: Request) -> str:
    return request.app.state.settings.default_currency


@router.post("", response_model=ProductOut, status_code=201, responses=CONFLICT)
def create_product(body: ProductIn, request: Request, db: DB, actor: Editor) -> ProductOut:
    """Create a product; the EAN's check digit is verified (`invalid_ean`)."""
    with db.write() as s:
        return ProductOut.of(service.create_product(s, actor=actor, data=body, default_currency=_currency(request)))


@router.get("", response_model=ProductList)
def list_products(
    db: DB, _: Reader, limit: Limit = 50, cursor: Cursor = None,
    q: Annotated[str | None, Query(max_length=200, description="EAN (exact), SKU or words of the name; "
                                   "one wrong letter per word still matches")] = None,
    category: str | None = None, brand: str | None = None, family: str | None = None,
    is_gift: bool | None = None, perishable: bool | None = None,
) -> ProductList:
    """Search products by name or EAN, or list them with filters."""
    position = decode_cursor(cursor)
    with db.read() as s:
        if q is not None:
            offset = cursor_int(position, "offset")
            found = service.search_products(s, q=q, limit=limit, offset=offset)
            more = len(found) > limit
            next_cursor = encode_cursor({"offset": offset + limit}) if more else None
        else:
            found = service.list_products(s, limit=limit + 1, after_id=cursor_int(position, "after"),
                                          category=category, brand=brand, family=family, is_gift=is_gift,
                                          perishable=perishable)
            more = len(found) > limit
            next_cursor = encode_cursor({"after": found[limit - 1].id}) if more else None
        return json_response(ProductList(items=[ProductOut.of(p) for p in found[:limit]], next_cursor=next_cursor))


@router.get("/{sku}", response_model=ProductOut, responses=NOT_FOUND)
def get_product(sku: str, db: DB, _: Reader) -> Response:
    """Show one product with the SKUs of its variants."""
    with db.read() as s:
        product = service.get_product(s, sku)
        return json_response(ProductOut.of(product, variants=service.variants_of(s, product)))


@router.patch("/{sku}", response_model=ProductOut, responses={**NOT_FOUND, **CONFLICT})
def update_product(sku: str, body: ProductPatch, request: Request, db: DB, actor: Editor) -> ProductOut:
    """Change a product's fields (price, name, flags, `active` to withdraw it)."""
    with db.write() as s:
        product = service.update_product(s, actor=actor, sku=sku, patch=body, default_currency=_currency(request))
        return ProductOut.of(product)


@router.get("/{sku}/alternatives", response_model=AlternativeList, responses=NOT_FOUND)
def get_alternatives(sku: str, db: DB, _: Reader,
                     limit: Annotated[int, Query(ge=1, le=50)] = 10) -> AlternativeList:
    """Substitutes for a product: curated first, then similar ones."""
    with db.read() as s:
        items = [AlternativeOut(**ProductOut.of(p).model_dump(), source=source)
                 for p, source in service.alternatives(s, sku=sku, limit=limit)]
        return AlternativeList(sku=sku, items=items)


@router.put("/{sku}/alternatives", response_model=AlternativeList, responses=NOT_FOUND)
def set_alternatives(sku: str, body: AlternativesIn, db: DB, actor: Editor) -> AlternativeList:
    """Replace the curated substitutes of a product."""
    with db.write() as s:
        chosen = service.set_alternatives(s, actor=actor, sku=sku, skus=body.skus)
        return AlternativeList(sku=sku, items=[AlternativeOut(**ProductOut.of(p).model_dump(), source="curated")
                                               for p in chosen])
