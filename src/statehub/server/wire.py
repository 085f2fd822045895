"""What goes over the wire: JSON bodies in, statehub objects out, and their schemas.

The response models document the API (``/openapi.json``); routes build the JSON
themselves (the plain documents of :mod:`statehub.documents`, re-exported here) and
send it with orjson (:func:`json_response`), so what is documented is checked by
the schemathesis test, not by validating every response at run time.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from statehub.documents import (
    change_json,
    checkpoint_json,
    diff_json,
    entry_json,
    lease_json,
    message_json,
    task_json,
)
from statehub.errors import InvalidArgument
from statehub.server.errors import ApiError

__all__ = [
    "JSON_BODY",
    "BodyDep",
    "ChangeModel",
    "ChangesModel",
    "CheckpointModel",
    "DiffModel",
    "EntryModel",
    "LeaseModel",
    "MessageModel",
    "MessagesModel",
    "Strict",
    "TaskModel",
    "change_json",
    "checkpoint_json",
    "diff_json",
    "entry_json",
    "json_response",
    "lease_json",
    "message_json",
    "parse_at",
    "read_json",
    "revision_of",
    "task_json",
]

JSON_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}
}
"""``openapi_extra`` of a route whose body is any JSON value (read by :func:`read_json`)."""

_REVISION_RE = re.compile(r"-?[0-9]+")


class Strict(BaseModel):
    """A request body: unknown members are refused (400), not ignored."""

    model_config = ConfigDict(extra="forbid")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``data`` as a JSON response, encoded by orjson."""
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


async def read_json(request: Request) -> Any:
    """The request body as JSON (400 if it is not; the size limit is the middleware's)."""
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "InvalidValue", f"the body is not JSON: {exc}") from None


BodyDep = Annotated[Any, Depends(read_json)]


def parse_at(text: str | None) -> int | str | None:
    """:func:`revision_of` an optional query parameter."""
    return None if text is None else revision_of(text)


def revision_of(text: str) -> int | str:
    """A revision (digits) or a checkpoint name (or ``head``), from a query parameter."""
    if not _REVISION_RE.fullmatch(text):
        return text
    if len(text) > 19:
        raise InvalidArgument(f"revision {text} is out of range")
    return int(text)


class EntryModel(BaseModel):
    """A key's value with its metadata."""

    key: str
    value: Any
    version: int
    created_rev: int
    modified_rev: int
    updated_by: str
    updated_ts: float
    expires_ts: float | None
    owner: str | None


class ChangeModel(BaseModel):
    """One row of the audit log."""

    revision: int
    key: str
    op: str
    agent: str
    timestamp: float
    label: str | None
    prev_version: int
    version: int
    patch: list[dict[str, Any]]
    cause: Any = None


class ChangesModel(BaseModel):
    """A list of changes, oldest first."""

    changes: list[ChangeModel]


class CheckpointModel(BaseModel):
    """A name for a revision."""

    name: str
    revision: int
    agent: str
    timestamp: float


class KeyChangeModel(BaseModel):
    """How one key differs between the two sides of a diff."""

    old: Any
    new: Any
    patch: list[dict[str, Any]]


class DiffModel(BaseModel):
    """What changed from revision ``a`` to revision ``b`` under ``prefix``."""

    a: int
    b: int
    prefix: str
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, KeyChangeModel]
    lines: list[str]


class LeaseModel(BaseModel):
    """A lock held: its key, holder, fencing token and expiry."""

    key: str
    holder: str
    fence: int
    expires_ts: float


class MessageModel(BaseModel):
    """One message, as sent or as received."""

    id: str
    sender: str
    recipient: str
    body: Any
    sent_ts: float
    deliveries: int
    kind: str
    revision: int


class MessagesModel(BaseModel):
    """A list of messages."""

    messages: list[MessageModel]


class TaskModel(BaseModel):
    """A task record as read."""

    id: str
    title: str
    payload: Any
    status: str
    assignee: str | None
    fence: int
    lease: float | None
    lease_expires_ts: float | None
    attempts: int
    progress: float
    result: Any
    error: str | None
    created_by: str
    created_ts: float
    version: int
    modified_rev: int
    updated_by: str
    updated_ts: float
