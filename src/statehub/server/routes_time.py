"""Time: the head revision, waiting for one, history, diff, checkpoints, rollback."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from statehub.arguments import check_seconds
from statehub.documents import change_json, checkpoint_json, diff_json
from statehub.errors import InvalidArgument
from statehub.server.auth import Caller, CallerDep
from statehub.server.errors import ERROR_RESPONSES, ApiError
from statehub.server.sse import head_notifier
from statehub.server.wire import (
    ChangesModel,
    CheckpointModel,
    DiffModel,
    Strict,
    json_response,
    revision_of,
)

__all__ = ["MAX_WAIT", "HistoryDep", "HistoryQuery", "check_wait", "history_response", "router"]

MAX_WAIT = 60.0
"""The longest a request may block (``wait=``, ``timeout=``), in seconds."""

router = APIRouter(prefix="/v1", tags=["time"], responses=ERROR_RESPONSES)


def check_wait(name: str, seconds: float | None) -> float | None:
    """``seconds`` if it is ``None`` or within 0..:data:`MAX_WAIT` (else 400)."""
    if seconds is None:
        return None
    if check_seconds(name, seconds) > MAX_WAIT:
        raise InvalidArgument(f"{name} must be at most {MAX_WAIT:g} seconds, not {seconds}")
    return seconds


class RevisionModel(BaseModel):
    """The head revision and the oldest one still readable."""

    revision: int
    oldest: int


@router.get("/revision", response_model=RevisionModel)
def revision(who: CallerDep) -> Response:
    """The head revision (+1 per commit) and the oldest one compaction kept."""
    hub = who.hub
    return json_response({"revision": hub.revision, "oldest": hub.oldest_revision})


class WaitModel(BaseModel):
    """Whether the head reached the revision asked for, and the head."""

    reached: bool
    revision: int


@router.get("/wait", response_model=WaitModel)
async def wait(
    request: Request,
    who: CallerDep,
    revision: Annotated[int, Query(ge=0, lt=2**63)],
    timeout: Annotated[float, Query(description=f"seconds, at most {MAX_WAIT:g}")] = 10.0,
) -> Response:
    """Block until the head reaches ``revision`` (read-after-write across agents).

    Holds no thread while it waits (see :mod:`statehub.server.sse`).
    """
    seconds = check_wait("timeout", timeout)
    assert seconds is not None
    head = await head_notifier(request, who.hub).wait_past(revision - 1, seconds)
    return json_response({"reached": head >= revision, "revision": head})


Revision = Annotated[int | None, Query(ge=0, lt=2**63)]


@dataclass
class HistoryQuery:
    """The filters of a history read (``since`` exclusive, ``until`` inclusive)."""

    key: str | None = None
    prefix: str | None = None
    agent: str | None = None
    since: Revision = None
    until: Revision = None
    limit: Revision = None


HistoryDep = Annotated[HistoryQuery, Depends()]


def history_response(who: Caller, query: HistoryQuery) -> Response:
    """The changes ``query`` selects, as ``who`` may see them."""
    changes = who.history(**asdict(query))
    return json_response({"changes": [change_json(change) for change in changes]})


@router.get("/history", response_model=ChangesModel)
def history(who: CallerDep, query: HistoryDep) -> Response:
    """The audit log as this caller may see it, oldest first (``since`` exclusive)."""
    return history_response(who, query)


@router.get("/diff", response_model=DiffModel)
def diff(
    who: CallerDep,
    a: Annotated[str, Query(description="a revision, a checkpoint name, or head")],
    b: Annotated[str, Query(description="a revision, a checkpoint name, or head")] = "head",
    prefix: str = "",
) -> Response:
    """What changed from ``a`` to ``b`` under ``prefix``: added, removed, changed (patches)."""
    return json_response(diff_json(who.diff(revision_of(a), revision_of(b), prefix)))


class Checkpoints(BaseModel):
    """Every checkpoint, oldest first."""

    checkpoints: list[CheckpointModel]


@router.get("/checkpoints", response_model=Checkpoints)
def list_checkpoints(who: CallerDep) -> Response:
    """Every checkpoint, oldest first."""
    return json_response({"checkpoints": [checkpoint_json(c) for c in who.hub.checkpoints()]})


class CheckpointBody(Strict):
    """A checkpoint to make."""

    name: str = Field(description="one key segment, not 'head'")


@router.post("/checkpoints", response_model=CheckpointModel, status_code=201)
def create_checkpoint(body: CheckpointBody, who: CallerDep) -> Response:
    """Name the head revision (400 if the name is taken)."""
    return json_response(checkpoint_json(who.agent.checkpoint(body.name)), 201)


class CheckpointDeleted(BaseModel):
    """The checkpoint was deleted."""

    deleted: str


@router.delete("/checkpoints/{name}", response_model=CheckpointDeleted)
def delete_checkpoint(name: str, who: CallerDep) -> Response:
    """Forget a checkpoint (404 if there is none by that name)."""
    if not who.agent.delete_checkpoint(name):
        raise ApiError(404, "UnknownCheckpoint", f"no checkpoint named {name!r}", name=name)
    return json_response({"deleted": name})


class RollbackBody(Strict):
    """Where to roll back to, and which keys."""

    to: int | str = Field(description="a revision or a checkpoint name")
    prefix: str = ""


class RollbackResult(BaseModel):
    """The rollback's revision, or ``null`` if nothing differed."""

    revision: int | None


@router.post("/rollback", response_model=RollbackResult)
def rollback(body: RollbackBody, who: CallerDep) -> Response:
    """Restore every key under ``prefix`` to its value at ``to``, in one new commit.

    An admin token acting as nobody in particular rolls back ``agent/<name>/...``
    prefixes as that agent; an agent token may roll back only what it may write.
    """
    to = body.to if isinstance(body.to, int) else revision_of(body.to)
    return json_response({"revision": who.reader(body.prefix).rollback(to, prefix=body.prefix)})
