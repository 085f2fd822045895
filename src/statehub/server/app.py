"""The HTTP API over one hub: :func:`create_app` returns a FastAPI application.

Every request but ``GET /health`` carries ``Authorization: Bearer <token>``; it acts
as the agent the token maps to (:mod:`statehub.server.tokens`), never as anything
named in the request. Errors are ``{"error": {"type": ..., "message": ...}}``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from statehub.errors import (
    AccessDenied,
    BackendBusy,
    BackendUnavailable,
    CompactedError,
    ConflictError,
    HubClosed,
    InvalidArgument,
    InvalidKey,
    InvalidValue,
    LockedError,
    PatchError,
    StaleFenceError,
    StatehubError,
    UnknownCheckpoint,
    ValueTooLarge,
)
from statehub.hub import Agent, Hub
from statehub.model import Change, Entry
from statehub.server.backend_api import router as backend_router
from statehub.server.tokens import authenticate

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MERGE_PATCH", "create_app"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""The largest request body accepted by default (1 MiB); larger ones get 413."""

MERGE_PATCH = "application/merge-patch+json"
"""The content type ``PATCH`` requires (RFC 7396)."""

_STATUS: list[tuple[type[StatehubError], int]] = [
    (ValueTooLarge, 413),
    (InvalidKey, 400),
    (InvalidValue, 400),
    (PatchError, 400),
    (InvalidArgument, 400),
    (AccessDenied, 403),
    (UnknownCheckpoint, 404),
    (ConflictError, 409),
    (StaleFenceError, 409),
    (CompactedError, 410),
    (LockedError, 423),
    (BackendBusy, 503),
    (BackendUnavailable, 503),
    (HubClosed, 503),
]


class _ApiError(Exception):
    """An error answered as is: status, type and message."""

    def __init__(self, status: int, type_name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type_name = type_name
        self.message = message


def _error(status: int, type_name: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_name, "message": message, **extra}
    return JSONResponse({"error": body}, status_code=status)


def _status_of(exc: StatehubError) -> int:
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), 500)


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "value": entry.value,
        "version": entry.version,
        "created_rev": entry.created_rev,
        "modified_rev": entry.modified_rev,
        "updated_by": entry.updated_by,
        "updated_ts": entry.updated_ts,
        "expires_ts": entry.expires_ts,
        "owner": entry.owner,
    }


def _entry_response(entry: Entry, status: int = 200) -> JSONResponse:
    return JSONResponse(
        _entry_json(entry), status_code=status, headers={"ETag": f'"{entry.version}"'}
    )


def _change_json(change: Change) -> dict[str, Any]:
    return asdict(change)


def _precondition(request: Request) -> int | None:
    """The ``expect_version`` of ``If-Match: "<n>"`` or ``If-None-Match: *``."""
    if_match = request.headers.get("if-match")
    if_none_match = request.headers.get("if-none-match")
    if if_match is not None and if_none_match is not None:
        raise InvalidArgument("give If-Match or If-None-Match, not both")
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise InvalidArgument('If-None-Match only accepts "*" (create only)')
        return 0
    if if_match is None:
        return None
    text = if_match.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit() or int(text) < 1:
        raise InvalidArgument(f'If-Match takes one version, as "<n>" (n >= 1), not {if_match!r}')
    return int(text)


def _current_agent(request: Request) -> Agent:
    """The agent the request's bearer token maps to (401 without a valid one)."""
    hub: Hub = request.app.state.hub
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    identity = authenticate(hub, token.strip()) if scheme.lower() == "bearer" else None
    if identity is None:
        raise _ApiError(401, "Unauthorized", "a valid bearer token is required")
    return hub.agent(identity.agent)


async def _json_body(request: Request) -> Any:
    """The request body as JSON (400 if it is not, 413 over the app's limit)."""
    limit: int = request.app.state.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _ApiError(413, "BodyTooLarge", f"the body is over {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _ApiError(413, "BodyTooLarge", f"the body is over {limit} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _ApiError(400, "InvalidValue", f"the body is not JSON: {exc}") from None


AgentDep = Annotated[Agent, Depends(_current_agent)]
BodyDep = Annotated[Any, Depends(_json_body)]


def create_app(hub: Hub, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """An HTTP API over ``hub``, acting per request as the agent the bearer token maps to.

    Args:
        hub: the open hub to serve (the caller closes it).
        max_body_bytes: the largest request body accepted (413 beyond it).
    """
    app = FastAPI(title="statehub", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.hub = hub
    app.state.max_body_bytes = max_body_bytes

    @app.exception_handler(StatehubError)
    async def _statehub_error(request: Request, exc: StatehubError) -> JSONResponse:
        status = _status_of(exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, ConflictError):
            extra["current_version"] = exc.actual
            if request.headers.get("if-match") or request.headers.get("if-none-match"):
                status = 412
        if status == 500:
            return _error(500, type(exc).__name__, "internal error")
        return _error(status, type(exc).__name__, str(exc), **extra)

    @app.exception_handler(_ApiError)
    async def _api_error(request: Request, exc: _ApiError) -> JSONResponse:
        return _error(exc.status, exc.type_name, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
        return _error(400, "InvalidArgument", f"invalid request parameters: {where}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "HTTPError", str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "InternalError", "internal error")

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Whether the server is up (no authentication)."""
        return {"status": "ok"}

    @app.get("/v1/keys/{key:path}")
    def get_key(key: str, agent: AgentDep) -> Response:
        """The key's value (the JSON as written), with its version as the ETag."""
        entry = agent.entry(key)
        if entry is None:
            raise _ApiError(404, "NotFound", f"no key {key!r}")
        return Response(
            entry.data, media_type="application/json", headers={"ETag": f'"{entry.version}"'}
        )

    @app.put("/v1/keys/{key:path}")
    def put_key(key: str, request: Request, agent: AgentDep, value: BodyDep) -> Response:
        """Write the JSON body to the key (``If-Match``, ``If-None-Match: *``)."""
        entry = agent.put(key, value, expect_version=_precondition(request))
        return _entry_response(entry, 201 if entry.version == 1 else 200)

    @app.patch("/v1/keys/{key:path}")
    def patch_key(key: str, request: Request, agent: AgentDep, patch: BodyDep) -> Response:
        """Merge the body into the key (RFC 7396 JSON Merge Patch)."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != MERGE_PATCH:
            raise _ApiError(415, "UnsupportedMediaType", f"PATCH takes {MERGE_PATCH}")
        entry = agent.merge(key, patch, expect_version=_precondition(request))
        return _entry_response(entry)

    @app.delete("/v1/keys/{key:path}")
    def delete_key(key: str, request: Request, agent: AgentDep) -> Response:
        """Delete the key (404 if it does not exist); ``If-Match`` makes it conditional."""
        expect = _precondition(request)
        if expect == 0:
            raise InvalidArgument("If-None-Match does not apply to DELETE")
        entry = agent.delete(key, expect_version=expect)
        if entry is None:
            raise _ApiError(404, "NotFound", f"no key {key!r}")
        return JSONResponse({"deleted": _entry_json(entry)})

    @app.get("/v1/scan")
    def scan(agent: AgentDep, prefix: str = "") -> dict[str, Any]:
        """Every key under ``prefix`` this agent may see: ``{"entries": {key: value}}``."""
        return {"entries": agent.scan(prefix)}

    @app.get("/v1/history")
    def history(
        agent: AgentDep,
        key: str | None = None,
        prefix: str | None = None,
        since: Annotated[int | None, Query()] = None,
        until: Annotated[int | None, Query()] = None,
        limit: Annotated[int | None, Query()] = None,
    ) -> dict[str, Any]:
        """The audit log as this agent may see it: ``{"changes": [...]}``, oldest first."""
        changes = agent.history(key=key, prefix=prefix, since=since, until=until, limit=limit)
        return {"changes": [_change_json(change) for change in changes]}

    app.include_router(backend_router)
    return app
