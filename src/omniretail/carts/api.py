"""Carts over HTTP: one cart per customer on every channel, anonymous device carts, QR codes, holds, checkout."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from omniretail.carts import checkout, holds, items, service
from omniretail.carts.items import Hint
from omniretail.carts.models import Cart
from omniretail.carts.schemas import (
    AssignIn,
    CartOpenIn,
    CartOut,
    CartPatch,
    CheckoutIn,
    CheckoutOut,
    HoldIn,
    ItemIn,
    ItemPatch,
)
from omniretail.carts.views import cart_out
from omniretail.core.deps import DB
from omniretail.core.idempotency import run_idempotent
from omniretail.core.schemas import PROBLEM_RESPONSES, RowId, json_response, problem
from omniretail.core.security import EVERYONE, STAFF, Actor, require
from omniretail.orders.views import orders_out

router = APIRouter(prefix="/api/v1", tags=["carts"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_cart`, `unknown_cart_line` or `unknown_customer`"),
    409: problem("`cart_not_active`, `anonymous_cart`, `cart_has_customer`, `profile_erased`, `insufficient_stock`"),
})

Anyone = Annotated[Actor, Depends(require(*EVERYONE))]
Staff = Annotated[Actor, Depends(require(*STAFF))]
Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
QR_SCALE = 6


def _out(request: Request, s: Session, cart: Cart, requested_id: int | None = None, status: int = 200) -> Response:
    return json_response(cart_out(s, cart, requested_id=requested_id, base_url=str(request.base_url)), status)


def _answer(request: Request, db: DB, actor: Actor, find: Callable[[Session], Cart],
            requested_id: int | None = None) -> Response:
    """Open a cart: a read when nothing needs joining, else one write that joins the person's carts first."""
    with db.read() as s:
        cart = find(s)
        if service.is_settled(s, cart):
            return _out(request, s, cart, requested_id)
    with db.write() as s:
        return _out(request, s, service.open_cart(s, actor=actor, cart=find(s)), requested_id)


def _write(request: Request, db: DB, change: Callable[[Session], Cart], requested_id: int | None = None,
           status: int = 200) -> Response:
    with db.write() as s:
        return _out(request, s, change(s), requested_id, status)


def _cart(s: Session, actor: Actor, cart_id: int) -> Cart:
    cart = service.get_cart(s, cart_id)
    service.authorise(s, actor, cart)
    return cart


def _opened(s: Session, actor: Actor, cart_id: int) -> Cart:
    """The cart to change: joined with the person's other carts first, so a change lands in the one cart."""
    return service.open_cart(s, actor=actor, cart=_cart(s, actor, cart_id))


@router.post("/carts", response_model=CartOut, status_code=201,
             responses={200: {"model": CartOut, "description": "The device's (or customer's) existing cart"}})
def open_cart(body: CartOpenIn, request: Request, db: DB, actor: Anyone) -> Response:
    """Open a cart: an anonymous visitor's by `device_id` (the customer's, once the device was identified), a
    customer's by `customer_id`, or with neither a walk-in cart at the store's order station. 201 when new."""
    with db.write() as s:
        if body.customer_id is not None:
            cart = service.open_customer_cart(s, actor=actor, customer_id=body.customer_id, channel=body.channel)
        elif body.device_id is not None:
            cart = service.open_device_cart(s, actor=actor, device_id=body.device_id, channel=body.channel)
        else:
            cart = service.open_walk_in_cart(s, actor=actor, channel=body.channel)
        return _out(request, s, cart, status=201 if service.was_created(s, cart) else 200)


@router.get("/customers/{customer_id}/cart", response_model=CartOut, tags=["carts", "customers"])
def customer_cart(customer_id: RowId, request: Request, db: DB, actor: Anyone) -> Response:
    """The customer's one active cart, the same on every channel (made empty on first access; after a checkout
    a new one). Carts of merged profiles and of devices identified as the customer are joined into it."""
    with db.read() as s:
        profile = service.authorise_customer(s, actor, customer_id)
        cart = service.settled_cart(s, profile.id) if profile.status == "active" else None
        if cart is not None:
            return _out(request, s, cart)
    return _write(request, db, lambda s: service.open_customer_cart(s, actor=actor, customer_id=customer_id))


@router.get("/carts/by-code/{token}", response_model=CartOut)
def cart_by_code(token: Token, request: Request, db: DB, actor: Anyone) -> Response:
    """Open the cart a scanned QR code names (a store associate scanning the customer's phone)."""
    def find(s: Session) -> Cart:
        cart = service.cart_by_token(s, token)
        service.authorise(s, actor, cart)
        return cart

    return _answer(request, db, actor, find)


@router.get("/carts/{cart_id}", response_model=CartOut)
def get_cart(cart_id: RowId, request: Request, db: DB, actor: Anyone) -> Response:
    """One cart with priced lines and live availability; a cart joined into another answers with that one
    (`requested_id` says so)."""
    return _answer(request, db, actor, lambda s: _cart(s, actor, cart_id), requested_id=cart_id)


@router.patch("/carts/{cart_id}", response_model=CartOut)
def update_cart(cart_id: RowId, body: CartPatch, request: Request, db: DB, actor: Anyone) -> Response:
    """Choose the pickup store (`pickup_location_id`, null clears it); lines show availability there."""
    return _write(request, db, lambda s: items.set_pickup_location(
        s, actor=actor, cart=_opened(s, actor, cart_id), location_id=body.pickup_location_id, channel=body.channel))


@router.post("/carts/{cart_id}/items", response_model=CartOut, status_code=201)
def add_item(cart_id: RowId, body: ItemIn, request: Request, db: DB, actor: Anyone) -> Response:
    """Add units of a SKU; the same SKU adds up, the line keeps the channel that added it. Prices come from the
    catalogue (a body with a price is refused). Endless aisle: `fulfilment` sends this line by delivery or to
    another pickup store."""
    hint = Hint(body.fulfilment.type, body.fulfilment.location_id) if body.fulfilment else None

    def change(s: Session) -> Cart:
        cart = _opened(s, actor, cart_id)
        line = items.add_item(s, actor=actor, cart=cart, sku=body.sku, quantity=body.quantity,
                                channel=body.channel, hint=hint)
        return s.get(Cart, line.cart_id)  # type: ignore[return-value]

    return _write(request, db, change, requested_id=cart_id, status=201)


@router.patch("/carts/{cart_id}/items/{line_id}", response_model=CartOut)
def update_item(cart_id: RowId, line_id: RowId, body: ItemPatch, request: Request, db: DB,
                actor: Anyone) -> Response:
    """Change a line's quantity, or its way of fulfilment (`fulfilment: null`: as the checkout goes)."""
    hint = Hint(body.fulfilment.type, body.fulfilment.location_id) if body.fulfilment else None

    def change(s: Session) -> Cart:
        cart = _opened(s, actor, cart_id)
        items.update_item(s, actor=actor, cart=cart, line_id=line_id, quantity=body.quantity, hint=hint,
                            change_hint="fulfilment" in body.model_fields_set, channel=body.channel)
        return cart

    return _write(request, db, change, requested_id=cart_id)


@router.delete("/carts/{cart_id}/items/{line_id}", response_model=CartOut)
def remove_item(cart_id: RowId, line_id: RowId, request: Request, db: DB, actor: Anyone) -> Response:
    """Take a line out of the cart."""
    def change(s: Session) -> Cart:
        cart = _opened(s, actor, cart_id)
        items.remove_item(s, actor=actor, cart=cart, line_id=line_id)
        return cart

    return _write(request, db, change, requested_id=cart_id)


@router.post("/carts/{cart_id}/assign", response_model=CartOut)
def assign_cart(cart_id: RowId, body: AssignIn, request: Request, db: DB, actor: Staff) -> Response:
    """Give an anonymous cart to a customer (who logged in, or was looked up in the store): it joins their cart,
    quantities of the same SKU adding up. Answers the customer's cart."""
    return _write(request, db, lambda s: service.assign(s, actor=actor, cart=_cart(s, actor, cart_id),
                                                         customer_id=body.customer_id, channel=body.channel),
                  requested_id=cart_id)


@router.post("/carts/{cart_id}/hold", response_model=CartOut)
def hold_cart(cart_id: RowId, request: Request, db: DB, actor: Anyone, body: HoldIn | None = None) -> Response:
    """Reserve every line for a few minutes (at the line's or cart's pickup store, else where most units are), or
    nothing: 409 `insufficient_stock` names the short lines. Released when the lines change and at checkout."""
    minutes = body.minutes if body else HoldIn().minutes

    def change(s: Session) -> Cart:
        cart = _opened(s, actor, cart_id)
        holds.hold(s, actor=actor, cart=cart, minutes=minutes)
        return cart

    return _write(request, db, change, requested_id=cart_id)


@router.delete("/carts/{cart_id}/hold", response_model=CartOut)
def release_hold(cart_id: RowId, request: Request, db: DB, actor: Anyone) -> Response:
    """Give the held stock back now."""
    def change(s: Session) -> Cart:
        cart = _cart(s, actor, cart_id)
        holds.release(s, actor=actor, cart=cart)
        return cart

    return _write(request, db, change, requested_id=cart_id)


@router.post("/carts/{cart_id}/checkout", response_model=CheckoutOut, status_code=201,
             responses={422: problem("`empty_cart`, `fulfilment_required`, `address_required`, `pickup_not_offered`, "
                                     "`unknown_sku`, validation errors"),
                        409: problem("`insufficient_stock` (the short lines), `cart_not_active`, `anonymous_cart`, "
                                     "`idempotency_key_reused`, `concurrent_change` (send it again)")})
def checkout_cart(cart_id: RowId, body: CheckoutIn, request: Request, db: DB, actor: Anyone) -> Response:
    """Turn the cart into orders at catalogue prices (one per way of fulfilment: endless-aisle lines go apart),
    each inspected and reserved as `POST /orders` does; the cart closes and the next access opens a new one.
    A refusal changes nothing. Accepts `Idempotency-Key`."""
    def use_case(s: Session) -> CheckoutOut:
        done = checkout.checkout(s, actor=actor, cart=_cart(s, actor, cart_id), channel=body.channel,
                                 fulfilment=body.fulfilment, delivery_address=body.delivery_address,
                                 payment=body.payment, origin_location_id=body.origin_location_id)
        return CheckoutOut(cart=cart_out(s, done.cart, requested_id=cart_id, base_url=str(request.base_url)),
                           orders=orders_out(s, done.orders))

    return run_idempotent(request, db, actor, body, 201, use_case)


QR_RESPONSES = {200: {"description": "The cart's QR code; it encodes the URL that opens the cart",
                      "content": {"image/svg+xml": {"schema": {"type": "string"}},
                                  "image/png": {"schema": {"type": "string", "format": "binary"}}}}}


def cart_code_url(base_url: str, token: str) -> str:
    """What a cart's QR code encodes: the API address that opens the cart (the token is the opaque part)."""
    return f"{base_url.rstrip('/')}/api/v1/carts/by-code/{token}"


@router.get("/carts/{cart_id}/qr", response_class=Response, responses=QR_RESPONSES)
def cart_qr(cart_id: RowId, request: Request, db: DB, actor: Anyone,
            format: Annotated[Literal["svg", "png"], Query(description="svg (default) or png")] = "svg") -> Response:
    """The cart's QR code, to show on the customer's phone or print at the order station; a store associate
    scans it to open the cart."""
    with db.read() as s:
        cart = _cart(s, actor, cart_id)
        url = cart_code_url(str(request.base_url), cart.token)
    buffer = io.BytesIO()
    if format == "png":
        qr_code(url).save(buffer, kind="png", scale=QR_SCALE)
        return Response(buffer.getvalue(), media_type="image/png")
    qr_code(url).save(buffer, kind="svg", scale=QR_SCALE, title=f"Cart {cart_id}", xmldecl=True)
    return Response(buffer.getvalue(), media_type="image/svg+xml")


def qr_code(url: str) -> segno.QRCode:
    """The QR code of a URL, as the cart API draws it (error correction M: a phone screen with a crack reads)."""
    return segno.make(url, error="m", boost_error=False)
