"""Schemathesis drives every operation of the OpenAPI document with generated input.

Checks: never a server error, every status code and content type is documented, responses
match their schemas. Runs against the app on each backend with an admin key.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from omniretail.app import create_app
from tests.conftest import bearer, make_key

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_no_operation_answers_with_a_server_error_or_an_undocumented_response(db, settings):  # type: ignore[no-untyped-def]
    headers = bearer(make_key(db))
    app = create_app(settings, db)
    operations = [(m, p) for p, item in app.openapi()["paths"].items() for m in item if m != "delete"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "DELETE":
            continue  # revoking keys: the fuzzer would revoke its own key

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def exercise(case):  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers, checks=CHECKS)

        exercise()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) == len(operations), tested
