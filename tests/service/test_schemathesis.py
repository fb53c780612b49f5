"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis).

Bad input must always be a 4xx with a JSON error, never a 500. Bounded: a fixed number of
examples per operation, no deadlines, on the SQLite database of the ``api`` fixture (and on
PostgreSQL too when the suite runs there).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from tests.service.conftest import Api  # noqa: E402

EXAMPLES = int(os.environ.get("HASHWALL_FUZZ_EXAMPLES", "25"))


def test_no_server_errors_and_json_errors(api: Api) -> None:
    bank = api.create_bank("fuzz")
    api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        json={"hashes": [{"signal_type": "md5", "signal_value": "0" * 32}]},
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    headers = api.headers("admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])
            if 400 <= response.status_code < 500:
                body = response.json()
                assert "error" in body, (case.method, case.path, body)
                errors = body["error"] if isinstance(body["error"], list) else [body["error"]]
                assert all("message" in e and "field" in e for e in errors), body

        fuzz()
