"""A typed Python client of the omniretail API, on httpx.

    from omniretail.client import Client, ProblemError

    with Client("http://127.0.0.1:8000", key) as api:
        order = api.place_order({"channel": "web", "customer_id": 7, "lines": [{"sku": "MILK", "quantity": 2}],
                                 "fulfilment": {"type": "pickup", "location_id": "store-a"},
                                 "payment": {"status": "authorised", "method": "card"}})
        try:
            api.cancel_order(order.id)
        except ProblemError as problem:
            print(problem.status, problem.code, problem.detail)

Requests are the API's own input models (or plain mappings of the same shape); answers are the response models
each domain's `schemas.py` defines. Any 4xx or 5xx answer raises `ProblemError` with the problem document.
Calls the API makes idempotent (`Idempotency-Key`, see the OpenAPI document) send a key: the caller's, or a new
one per call, which the client reuses when it retries a call whose connection failed, so a retry is never carried
out twice. Reads are retried the same way; other writes are not retried.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from omniretail.carts.schemas import CartOpenIn, CartOut, CheckoutIn, CheckoutOut, ItemIn
from omniretail.catalog.schemas import ProductIn, ProductList, ProductOut
from omniretail.customers.schemas import IdentifyIn, ProfileOut
from omniretail.fulfilment.schemas import FulfilmentList, FulfilmentOut, PickIn, ReturnIn, ReturnOut, ShipIn
from omniretail.integration.pos_schemas import PosSyncIn, PosSyncOut
from omniretail.integration.schemas import DeliveryList, WebhookIn, WebhookList, WebhookOut
from omniretail.inventory.schemas import (
    AdjustmentIn,
    AvailabilityOut,
    CountIn,
    CountOut,
    LevelOut,
    ReceiptIn,
    ReceiptOut,
)
from omniretail.locations.schemas import LocationIn, LocationList, LocationOut
from omniretail.orders.schemas import CancelIn, ConfirmIn, OrderIn, OrderList, OrderOut

Model = TypeVar("Model", bound=BaseModel)
Body = BaseModel | Mapping[str, Any]
IDEMPOTENCY_HEADER = "Idempotency-Key"
API = "/api/v1"


class ProblemError(Exception):
    """The API refused a request: `status`, the stable `code`, the human `detail` and the whole problem body."""

    def __init__(self, status: int, problem: dict[str, Any], response: httpx.Response | None = None) -> None:
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code") or f"http_{status}")
        self.detail: str = str(problem.get("detail") or problem.get("title") or "")
        self.response = response
        super().__init__(f"{status} {self.code}: {self.detail}")

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The offending fields of a validation problem (`field`, `message`, `code`)."""
        return list(self.problem.get("errors") or [])


def _json(body: Body | None) -> Any:
    if body is None:
        return None
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_unset=True)
    return to_jsonable_python(dict(body))


def _params(**params: Any) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


class Client:
    """One API key talking to one server. `http` may be any `httpx.Client` (a FastAPI `TestClient` too); the
    client then leaves its lifetime to the caller."""

    def __init__(self, base_url: str = "", key: str | None = None, *, timeout: float = 30.0, retries: int = 2,
                 http: httpx.Client | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self._owned = http is None
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def close(self) -> None:
        if self._owned:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # --- the transport ------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                idempotency_key: str | None = None, idempotent: bool = False, safe: bool = False) -> httpx.Response:
        """Send one request, retried on connection failures when that is safe (a read, a call sent with an
        `Idempotency-Key`, or `safe`); raise `ProblemError` on 4xx/5xx."""
        headers = dict(self.headers)
        if idempotent:
            headers[IDEMPOTENCY_HEADER] = idempotency_key or str(uuid.uuid4())
        tries = 1 + (self.retries if idempotent or safe or method == "GET" else 0)
        url = f"{self.base_url}{path}" if self.base_url and not self._owned else path
        for attempt in range(tries):
            try:
                response = self.http.request(method, url, json=json, params=dict(params or {}), headers=headers)
                break
            except httpx.TransportError:
                if attempt == tries - 1:
                    raise
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"status": response.status_code, "detail": response.text}
            raise ProblemError(response.status_code, problem if isinstance(problem, dict) else {}, response)
        return response

    def _call(self, model: type[Model], method: str, path: str, body: Body | None = None, *,
              params: Mapping[str, Any] | None = None, idempotency_key: str | None = None,
              idempotent: bool = False) -> Model:
        response = self.request(method, path, json=_json(body), params=params, idempotency_key=idempotency_key,
                                idempotent=idempotent)
        return model.model_validate(response.json())

    @staticmethod
    def iterate(page: Callable[..., Any], **params: Any) -> Iterator[Any]:
        """Every item of a paginated list: `for o in api.iterate(api.list_orders, status="on_hold"): ...`."""
        cursor = None
        while True:
            found = page(**params, cursor=cursor)
            yield from found.items
            cursor = found.next_cursor
            if cursor is None:
                return

    # --- catalogue and locations ------------------------------------------------------------------------

    def create_product(self, product: ProductIn | Mapping[str, Any]) -> ProductOut:
        return self._call(ProductOut, "POST", f"{API}/products", product)

    def get_product(self, sku: str) -> ProductOut:
        return self._call(ProductOut, "GET", f"{API}/products/{sku}")

    def list_products(self, *, q: str | None = None, category: str | None = None, brand: str | None = None,
                      limit: int | None = None, cursor: str | None = None) -> ProductList:
        return self._call(ProductList, "GET", f"{API}/products",
                          params=_params(q=q, category=category, brand=brand, limit=limit, cursor=cursor))

    def create_location(self, location: LocationIn | Mapping[str, Any]) -> LocationOut:
        return self._call(LocationOut, "POST", f"{API}/locations", location)

    def get_location(self, location_id: str) -> LocationOut:
        return self._call(LocationOut, "GET", f"{API}/locations/{location_id}")

    def list_locations(self, *, type: str | None = None, pickup: bool | None = None, lat: float | None = None,
                       lon: float | None = None, radius_km: float | None = None, limit: int | None = None,
                       cursor: str | None = None) -> LocationList:
        return self._call(LocationList, "GET", f"{API}/locations", params=_params(
            type=type, pickup=pickup, lat=lat, lon=lon, radius_km=radius_km, limit=limit, cursor=cursor))

    # --- stock --------------------------------------------------------------------------------------------

    def receive(self, receipt: ReceiptIn | Mapping[str, Any], *, idempotency_key: str | None = None) -> ReceiptOut:
        return self._call(ReceiptOut, "POST", f"{API}/inventory/receipts", receipt, idempotent=True,
                          idempotency_key=idempotency_key)

    def adjust(self, adjustment: AdjustmentIn | Mapping[str, Any], *, idempotency_key: str | None = None
               ) -> LevelOut:
        return self._call(LevelOut, "POST", f"{API}/inventory/adjustments", adjustment, idempotent=True,
                          idempotency_key=idempotency_key)

    def count(self, count: CountIn | Mapping[str, Any], *, idempotency_key: str | None = None) -> CountOut:
        return self._call(CountOut, "POST", f"{API}/inventory/counts", count, idempotent=True,
                          idempotency_key=idempotency_key)

    def level(self, location_id: str, sku: str) -> LevelOut:
        return self._call(LevelOut, "GET", f"{API}/inventory/{location_id}/{sku}")

    def availability(self, sku: str, *, location: str | None = None, lat: float | None = None,
                     lon: float | None = None, radius_km: float | None = None) -> AvailabilityOut:
        return self._call(AvailabilityOut, "GET", f"{API}/availability/{sku}",
                          params=_params(location=location, lat=lat, lon=lon, radius_km=radius_km))

    # --- customers and carts ----------------------------------------------------------------------------

    def identify(self, request: IdentifyIn | Mapping[str, Any]) -> ProfileOut:
        return self._call(ProfileOut, "POST", f"{API}/customers/identify", request)

    def get_customer(self, customer_id: int) -> ProfileOut:
        return self._call(ProfileOut, "GET", f"{API}/customers/{customer_id}")

    def open_cart(self, request: CartOpenIn | Mapping[str, Any]) -> CartOut:
        return self._call(CartOut, "POST", f"{API}/carts", request)

    def get_cart(self, cart_id: int) -> CartOut:
        return self._call(CartOut, "GET", f"{API}/carts/{cart_id}")

    def customer_cart(self, customer_id: int) -> CartOut:
        return self._call(CartOut, "GET", f"{API}/customers/{customer_id}/cart")

    def add_cart_item(self, cart_id: int, item: ItemIn | Mapping[str, Any]) -> CartOut:
        return self._call(CartOut, "POST", f"{API}/carts/{cart_id}/items", item)

    def checkout_cart(self, cart_id: int, checkout: CheckoutIn | Mapping[str, Any], *,
                      idempotency_key: str | None = None) -> CheckoutOut:
        return self._call(CheckoutOut, "POST", f"{API}/carts/{cart_id}/checkout", checkout, idempotent=True,
                          idempotency_key=idempotency_key)

    # --- orders -------------------------------------------------------------------------------------------

    def place_order(self, order: OrderIn | Mapping[str, Any], *, idempotency_key: str | None = None) -> OrderOut:
        return self._call(OrderOut, "POST", f"{API}/orders", order, idempotent=True, idempotency_key=idempotency_key)

    def get_order(self, order_id: int) -> OrderOut:
        return self._call(OrderOut, "GET", f"{API}/orders/{order_id}")

    def list_orders(self, *, status: str | None = None, customer_id: int | None = None, channel: str | None = None,
                    location_id: str | None = None, newest_first: bool | None = None, limit: int | None = None,
                    cursor: str | None = None) -> OrderList:
        return self._call(OrderList, "GET", f"{API}/orders", params=_params(
            status=status, customer_id=customer_id, channel=channel, location_id=location_id,
            newest_first=newest_first, limit=limit, cursor=cursor))

    def confirm_order(self, order_id: int, confirmation: ConfirmIn | Mapping[str, Any] | None = None, *,
                      idempotency_key: str | None = None) -> OrderOut:
        return self._call(OrderOut, "POST", f"{API}/orders/{order_id}/confirm", confirmation or {},
                          idempotent=True, idempotency_key=idempotency_key)

    def cancel_order(self, order_id: int, cancellation: CancelIn | Mapping[str, Any] | None = None, *,
                     idempotency_key: str | None = None) -> OrderOut:
        return self._call(OrderOut, "POST", f"{API}/orders/{order_id}/cancel", cancellation or {},
                          idempotent=True, idempotency_key=idempotency_key)

    # --- fulfilment, pickups, returns ---------------------------------------------------------------------

    def order_fulfilments(self, order_id: int) -> FulfilmentList:
        return self._call(FulfilmentList, "GET", f"{API}/orders/{order_id}/fulfilments")

    def release_order(self, order_id: int, *, idempotency_key: str | None = None) -> FulfilmentList:
        return self._call(FulfilmentList, "POST", f"{API}/orders/{order_id}/release", idempotent=True,
                          idempotency_key=idempotency_key)

    def get_fulfilment(self, fulfilment_id: int) -> FulfilmentOut:
        return self._call(FulfilmentOut, "GET", f"{API}/fulfilments/{fulfilment_id}")

    def pick(self, fulfilment_id: int, found: PickIn | Mapping[str, Any] | None = None, *,
             idempotency_key: str | None = None) -> FulfilmentOut:
        """Start picking; with `{"lines": [{"sku", "picked"}]}` record what was found."""
        return self._call(FulfilmentOut, "POST", f"{API}/fulfilments/{fulfilment_id}/pick", found, idempotent=True,
                          idempotency_key=idempotency_key)

    def pack(self, fulfilment_id: int, *, idempotency_key: str | None = None) -> FulfilmentOut:
        return self._call(FulfilmentOut, "POST", f"{API}/fulfilments/{fulfilment_id}/pack", idempotent=True,
                          idempotency_key=idempotency_key)

    def ship(self, fulfilment_id: int, shipment: ShipIn | Mapping[str, Any], *,
             idempotency_key: str | None = None) -> FulfilmentOut:
        return self._call(FulfilmentOut, "POST", f"{API}/fulfilments/{fulfilment_id}/ship", shipment,
                          idempotent=True, idempotency_key=idempotency_key)

    def ready(self, fulfilment_id: int, *, idempotency_key: str | None = None) -> FulfilmentOut:
        return self._call(FulfilmentOut, "POST", f"{API}/fulfilments/{fulfilment_id}/ready", idempotent=True,
                          idempotency_key=idempotency_key)

    def collect_pickup(self, code: str, *, idempotency_key: str | None = None) -> FulfilmentOut:
        return self._call(FulfilmentOut, "POST", f"{API}/pickups/{code}/collect", idempotent=True,
                          idempotency_key=idempotency_key)

    def create_return(self, request: ReturnIn | Mapping[str, Any], *, idempotency_key: str | None = None
                      ) -> ReturnOut:
        return self._call(ReturnOut, "POST", f"{API}/returns", request, idempotent=True,
                          idempotency_key=idempotency_key)

    def get_return(self, return_id: int) -> ReturnOut:
        return self._call(ReturnOut, "GET", f"{API}/returns/{return_id}")

    # --- integration --------------------------------------------------------------------------------------

    def create_webhook(self, subscription: WebhookIn | Mapping[str, Any]) -> WebhookOut:
        return self._call(WebhookOut, "POST", f"{API}/webhooks", subscription)

    def list_webhooks(self, *, limit: int | None = None, cursor: str | None = None) -> WebhookList:
        return self._call(WebhookList, "GET", f"{API}/webhooks", params=_params(limit=limit, cursor=cursor))

    def get_webhook(self, webhook_id: int) -> WebhookOut:
        return self._call(WebhookOut, "GET", f"{API}/webhooks/{webhook_id}")

    def delete_webhook(self, webhook_id: int) -> WebhookOut:
        return self._call(WebhookOut, "DELETE", f"{API}/webhooks/{webhook_id}")

    def webhook_deliveries(self, webhook_id: int, *, status: str | None = None, limit: int | None = None,
                           cursor: str | None = None) -> DeliveryList:
        return self._call(DeliveryList, "GET", f"{API}/webhooks/{webhook_id}/deliveries",
                          params=_params(status=status, limit=limit, cursor=cursor))

    def pos_sync(self, batch: PosSyncIn | Mapping[str, Any]) -> PosSyncOut:
        """Upload a till's offline batch; sending it again is safe (entry ids), so it is retried like a read."""
        response = self.request("POST", f"{API}/pos/sync", json=_json(batch), safe=True)
        return PosSyncOut.model_validate(response.json())
