"""The OpenAPI document describes every operation completely: what it answers, and every error as problem+json
with its codes, so clients (omniretail.client among them) can rely on it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from omniretail.app import create_app
from omniretail.core.config import Settings
from omniretail.core.errors import PROBLEM_JSON

METHODS = ("get", "post", "put", "patch", "delete")
CODE = re.compile(r"`[a-z][a-z0-9_]+`")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite:///:memory:", secret_key="test-secret-key-0123456789"))
    return app.openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()
            if method in METHODS]


def is_problem(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get(PROBLEM_JSON, {}).get("schema", {})
    return {"type", "title", "status", "code", "detail"} <= set(schema.get("properties", {}))


def test_every_operation_answers_a_2xx_with_a_schema(spec):
    missing = []
    for method, path, op in operations(spec):
        ok = {status: r for status, r in op["responses"].items() if status.startswith("2")}
        described = [status for status, r in ok.items()
                     if status == "204" or any(media.get("schema") for media in r.get("content", {}).values())]
        if not described:
            missing.append(f"{method} {path}")
    assert missing == []


def test_every_authenticated_operation_documents_401_and_403_as_problems(spec):
    missing = [f"{method} {path} {status}" for method, path, op in operations(spec) if op.get("security")
               for status in ("401", "403") if not is_problem(op["responses"].get(status, {}))]
    assert missing == []


def test_every_operation_with_input_documents_422_as_a_problem(spec):
    missing = [f"{method} {path}" for method, path, op in operations(spec)
               if (op.get("parameters") or op.get("requestBody")) and not is_problem(op["responses"].get("422", {}))]
    assert missing == []


def test_every_operation_on_a_named_object_documents_404_with_its_codes(spec):
    missing = []
    for method, path, op in operations(spec):
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            response = op["responses"].get("404", {})
            if not (is_problem(response) and CODE.search(response.get("description", ""))):
                missing.append(f"{method} {path}")
    assert missing == []


def test_every_error_response_is_a_problem_naming_its_codes_or_has_a_schema(spec):
    wrong = []
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            if status.startswith("4"):
                if not is_problem(response):
                    wrong.append(f"{method} {path} {status}: not problem+json")
                elif status in ("404", "409") and not CODE.search(response["description"]):
                    wrong.append(f"{method} {path} {status}: names no code")
            elif status.startswith("5") and not any(m.get("schema") for m in response.get("content", {}).values()):
                wrong.append(f"{method} {path} {status}: no schema")
    assert wrong == []


def test_operations_that_accept_an_idempotency_key_declare_it_and_its_409(spec):
    honouring = []
    for method, path, op in operations(spec):
        if any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op.get("parameters", [])):
            honouring.append(f"{method} {path}")
            assert "`idempotency_key_reused`" in op["responses"]["409"]["description"], path
            assert is_problem(op["responses"]["409"])
    assert {"POST /api/v1/orders", "POST /api/v1/returns", "POST /api/v1/inventory/receipts",
            "POST /api/v1/inventory/counts", "POST /api/v1/orders/{order_id}/cancel",
            "POST /api/v1/pickups/{code}/collect"} <= set(honouring)
    assert "POST /api/v1/pos/sync" not in honouring  # entry ids make a batch idempotent
    assert "GET /api/v1/orders" not in honouring


def test_every_operation_says_what_it_does(spec):
    assert [f"{method} {path}" for method, path, op in operations(spec) if not op.get("description")] == []


def test_pos_sync_is_documented_with_its_shapes_and_refusals(spec):
    op = spec["paths"]["/api/v1/pos/sync"]["post"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/"
                                                                                       "PosSyncOut"}
    entries = spec["components"]["schemas"]["PosSyncIn"]["properties"]["entries"]["items"]
    assert sorted(entries["discriminator"]["mapping"]) == ["count", "return", "sale"]
    assert "`duplicate_entry_id`" in op["description"] and "`pos.conflict`" in op["description"]
