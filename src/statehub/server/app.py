"""The HTTP API over one hub: :func:`create_app` returns a FastAPI application.

Every request but ``GET /health`` carries ``Authorization: Bearer <token>``; it acts
as the agent the token maps to (:mod:`statehub.server.tokens`,
:mod:`statehub.server.auth`), never as anything named in the request, through the
hub's own :class:`~statehub.Agent` handle, so the hub's policy applies. The routes:

- :mod:`~statehub.server.routes_keys`: keys, entries, scans, dispatch, transactions
- :mod:`~statehub.server.routes_time`: revision, wait, history, diff, checkpoints, rollback
- :mod:`~statehub.server.sse`: watch as Server-Sent Events
- :mod:`~statehub.server.routes_locks`, :mod:`~statehub.server.routes_tasks`,
  :mod:`~statehub.server.routes_messages`
- :mod:`~statehub.server.routes_admin`: admin tokens only

Errors are ``{"error": {"type": ..., "message": ..., ...facts}}``
(:mod:`statehub.server.errors`). See ``docs/server.md``.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import FastAPI

from statehub.hub import Hub
from statehub.server import (
    routes_admin,
    routes_keys,
    routes_locks,
    routes_messages,
    routes_tasks,
    routes_time,
    sse,
)
from statehub.server.auth import Authenticate
from statehub.server.backend_api import router as backend_router
from statehub.server.errors import install_error_handlers
from statehub.server.hubs import HubOpener, HubRegistry
from statehub.server.limits import BodyLimit
from statehub.server.routes_keys import MERGE_PATCH
from statehub.server.viewer import mount_viewer

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MERGE_PATCH", "create_app"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""The largest request body accepted by default (1 MiB); larger ones get 413."""


def create_app(
    hub: Hub,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    watch_step: float = sse.STEP,
    watch_threads: int = sse.WATCH_THREADS,
    opener: HubOpener | None = None,
) -> FastAPI:
    """An HTTP API over ``hub``, acting per request as the agent the bearer token maps to.

    Args:
        hub: the open hub to serve (the caller closes it).
        max_body_bytes: the largest request body accepted (413 beyond it).
        watch_step: how long a watch stream waits before it sends a heartbeat (seconds).
        watch_threads: how many watch streams may read new revisions at once.
        opener: opens the other hubs of the storage by name (``?hub=``); without it,
            only ``hub`` is served (see :mod:`statehub.server.hubs`).
    """
    app = FastAPI(
        title="statehub",
        version="0.1.0",
        summary="Shared, durable, concurrency-safe state for teams of agents",
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    app.state.max_body_bytes = max_body_bytes
    app.state.watch_step = watch_step
    app.state.watch_limiter = anyio.CapacityLimiter(watch_threads)
    app.state.watch_streams = 0  # how many watch streams are open (see statehub.server.sse)
    app.state.hubs = HubRegistry(hub, opener)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(Authenticate)  # added last: runs first
    install_error_handlers(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Whether the server is up (no authentication)."""
        return {"status": "ok"}

    for module in (
        routes_keys,
        routes_time,
        sse,
        routes_locks,
        routes_tasks,
        routes_messages,
        routes_admin,
    ):
        app.include_router(module.router)
    app.include_router(backend_router)
    mount_viewer(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, without FastAPI's 422 (invalid requests get 400 here)."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema
