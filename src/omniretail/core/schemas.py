"""Shapes shared by every domain's API."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path, Response
from pydantic import BaseModel, ConfigDict, Field

from omniretail.core.money import from_minor

#: Upper bounds that keep every number inside a 32-bit database integer.
MAX_ID = 2**31 - 1
MAX_QUANTITY = 1_000_000_000
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(examples=["12.30"])
    currency: str | None = Field(default=None, min_length=3, max_length=3, examples=["EUR"],
                                 description="ISO 4217; the retailer's default currency when left out")


class Money(BaseModel):
    amount: str = Field(examples=["12.30"])
    currency: str = Field(examples=["EUR"])

    @classmethod
    def of_minor(cls, minor: int, currency: str) -> Money:
        """`minor` units of `currency` (as stored) as the API shows money."""
        return cls(amount=from_minor(minor, currency), currency=currency)


class Problem(BaseModel):
    """An RFC 9457 problem document; `code` is stable, `errors` lists offending fields."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, str]] | None = None


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI response documented as `application/problem+json` with the Problem schema."""
    return {"description": description,
            "content": {"application/problem+json": {"schema": Problem.model_json_schema()}}}


#: Documented error responses, added to every router.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem("Missing or unknown API key"),
    403: problem("The key's role or scope does not allow this"),
    422: problem("Invalid input; `errors` lists the fields"),
}


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialise a response model once (FastAPI would validate it again on the hot paths)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
