"""The OpenAPI document matches reality: schemathesis fuzzes every documented operation.

Checks: no 5xx, every status and content type documented, every response body valid
against its documented schema. ``/v1/watch`` streams without end, so it is left to
the watch tests; the storage protocol (``/v1/backend/``) is not in the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import statehub
from statehub.server import create_token, routes_time
from statehub.server.app import create_app
from tests.server_support import bearer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

EXAMPLES = 12
"""Examples per operation: about 45 operations, so a few hundred requests in all."""


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Any, dict[str, str], dict[str, str]]]:
    with pytest.MonkeyPatch.context() as patch, statehub.open("memory://") as hub:
        patch.setattr(routes_time, "MAX_WAIT", 0.2)  # generated waits stay short
        agent = hub.agent("fuzzer")
        agent.put("global/doc", {"title": "Draft"})
        agent.checkpoint("cp")
        agent.tasks.create("a task", task_id="t1")
        app = create_app(hub, max_body_bytes=64 * 1024)
        yield app, bearer(create_token(hub, "fuzzer")), bearer(create_token(hub, "ops", admin=True))


def _operations() -> list[tuple[str, str]]:
    with statehub.open("memory://") as hub:
        paths = create_app(hub).openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path != "/v1/watch"
    )


@pytest.mark.parametrize("operation", _operations(), ids=" ".join)
def test_the_api_matches_its_openapi_document(
    operation: tuple[str, str], served: tuple[Any, dict[str, str], dict[str, str]]
) -> None:
    app, agent, admin = served
    method, path = operation
    headers = admin if path.startswith("/v1/admin/") else agent
    api = schemathesis.openapi.from_asgi("/openapi.json", app)

    @given(case=api[path][method].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def conforms(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    conforms()


def test_the_document_leaves_out_the_storage_protocol_and_422(
    served: tuple[Any, dict[str, str], dict[str, str]],
) -> None:
    document = served[0].openapi()
    assert not [path for path in document["paths"] if path.startswith("/v1/backend")]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
            if path != "/health":
                assert "401" in operation["responses"], (method, path)


def test_every_operation_is_documented_in_docs_server_md(
    served: tuple[Any, dict[str, str], dict[str, str]],
) -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "server.md").read_text()
    for path, operations in served[0].openapi()["paths"].items():
        for method in operations:
            assert f"| {method.upper()} {path} |" in text, (method, path)
