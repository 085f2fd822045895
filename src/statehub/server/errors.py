"""One error mapping for the whole API: ``{"error": {"type", "message", ...facts}}``.

Every statehub error becomes its HTTP status (:data:`STATUS`) with the facts it
carries (``key``, ``holder``, ``expires_ts``, ``current_version``...) as extra members;
anything unexpected becomes a bare 500 with no detail, never a stack trace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from statehub.errors import (
    AccessDenied,
    BackendError,
    CompactedError,
    ConflictError,
    HubClosed,
    InvalidArgument,
    InvalidKey,
    InvalidValue,
    LockedError,
    PatchError,
    ReducerError,
    StaleFenceError,
    StatehubError,
    UnknownCheckpoint,
    UnknownReducer,
    ValueTooLarge,
)
from statehub.tasks import IllegalTransition, TaskExists, TaskNotFound

__all__ = [
    "ERROR_RESPONSES",
    "STATUS",
    "ApiError",
    "ErrorBody",
    "error_response",
    "install_error_handlers",
    "statehub_error_response",
    "status_of",
]

STATUS: list[tuple[type[StatehubError], int]] = [
    (ValueTooLarge, 413),
    (InvalidKey, 400),
    (InvalidValue, 400),
    (PatchError, 400),
    (UnknownReducer, 400),
    (ReducerError, 400),
    (InvalidArgument, 400),
    (AccessDenied, 403),
    (UnknownCheckpoint, 404),
    (TaskNotFound, 404),
    (ConflictError, 409),
    (StaleFenceError, 409),
    (TaskExists, 409),
    (IllegalTransition, 409),
    (CompactedError, 410),
    (LockedError, 423),
    (BackendError, 503),
    (HubClosed, 503),
]
"""Each statehub error's status, the first match wins (subclasses before bases)."""


class ApiError(Exception):
    """An error of the HTTP layer itself, answered as is: status, type, message."""

    def __init__(self, status: int, type_name: str, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.status = status
        self.type_name = type_name
        self.message = message
        self.facts = facts


class ErrorDetail(BaseModel):
    """The ``error`` member: its type, a message, and the facts the error carries."""

    model_config = ConfigDict(extra="allow")
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {"type": ..., "message": ..., ...facts}}``."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "bad input: key, value, argument or header (nothing was written)",
    401: "no valid bearer token",
    403: "the acting agent may not do this (privacy, ownership, admin only)",
    404: "no such key, checkpoint, task or route",
    409: "a conflict: version, fence, or task state",
    410: "the revision was dropped by compaction",
    412: "an If-Match or If-None-Match precondition failed",
    413: "the body or the value is too large",
    415: "wrong content type",
    423: "the key is locked by another agent",
    500: "internal error (no detail is given)",
    503: "the hub is closed or its storage is busy or unreachable",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DESCRIPTIONS.items()
}
"""The error responses every route documents (for ``responses=``)."""


def error_response(
    status: int, type_name: str, message: str, facts: dict[str, Any] | None = None
) -> JSONResponse:
    """The JSON error response: ``facts`` are extra members of ``error``."""
    body: dict[str, Any] = {**(facts or {}), "type": type_name, "message": message}
    return JSONResponse({"error": body}, status_code=status)


def status_of(exc: StatehubError) -> int:
    """The HTTP status of a statehub error (500 for one with no mapping)."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def _facts(exc: StatehubError) -> dict[str, Any]:
    """The public attributes of ``exc`` that are plain JSON (datetimes as ISO 8601)."""
    found: dict[str, Any] = {}
    for name, value in vars(exc).items():
        if name.startswith("_") or name in ("type", "message", "args"):
            continue
        if isinstance(value, datetime):
            found[name] = value.isoformat()
        elif value is None or isinstance(value, str | int | float | bool):
            found[name] = value
    return found


def statehub_error_response(exc: StatehubError, *, conditional: bool = False) -> JSONResponse:
    """The response to a statehub error; a conflict is 412 on a ``conditional`` request."""
    status = status_of(exc)
    if status == 500:
        return error_response(500, "InternalError", "internal error")
    facts = _facts(exc)
    if isinstance(exc, ConflictError):
        facts["current_version"] = exc.actual
        if conditional:
            status = 412
    return error_response(status, type(exc).__name__, str(exc), facts)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every exception raised by a route with :func:`error_response`."""

    @app.exception_handler(StatehubError)
    async def _statehub_error(request: Request, exc: StatehubError) -> JSONResponse:
        conditional = "if-match" in request.headers or "if-none-match" in request.headers
        return statehub_error_response(exc, conditional=conditional)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.type_name, exc.message, exc.facts)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
        return error_response(400, "InvalidArgument", f"invalid request: {where}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "HTTPError", str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "InternalError", "internal error")
