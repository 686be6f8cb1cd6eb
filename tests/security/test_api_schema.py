"""schemathesis against /api/v1/openapi.json, on PostgreSQL (the stricter database): generated
requests for every operation, no 5xx, and every answer matching the document (status codes,
content types, bodies). Bounded so that it runs in about a minute."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from herald.core.accounts import create_token
from tests.conftest import make_settings

MAX_EXAMPLES = int(os.environ.get("HERALD_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def settings_(tmp_path, database_url):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, database_url, api_rate_limit="100000 per minute")


@pytest.fixture
def api_app(settings_, db):  # type: ignore[no-untyped-def]
    from herald.web.app import create_app

    app = create_app(settings_, db)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def admin_token(db) -> str:  # type: ignore[no-untyped-def]
    with db.session() as session:
        _, plain = create_token(session, "schemathesis", "admin")
    return plain


def test_the_api_answers_generated_requests_as_its_openapi_document_says(api_app, admin_token):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    headers = {"Authorization": f"Bearer {admin_token}"}
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # every operation is tried; all failures are reported together
            failures[operation.label] = str(exc)[:2000]
    assert operations > 25
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
