"""Tasks (:mod:`statehub.tasks`) over HTTP.

Create, list, get, claim, next, progress, renew, complete, fail, release, retry.
Each transition is one commit by the caller's agent; a claim's ``fence`` (returned
in the task) makes later calls of a holder whose claim was taken over fail with 409
(``StaleClaim``) instead of overwriting.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from statehub.documents import task_json
from statehub.server.auth import CallerDep
from statehub.server.errors import ERROR_RESPONSES, ApiError
from statehub.server.wire import Strict, TaskModel, json_response
from statehub.tasks import DEFAULT_LEASE, Task

__all__ = ["router"]

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)


def _task(task: Task, status: int = 200) -> Response:
    return json_response(task_json(task), status)


class CreateBody(Strict):
    """A task to create."""

    title: str
    payload: Any = None
    id: str | None = Field(default=None, description="an id of your own (one key segment)")


@router.post("", response_model=TaskModel, status_code=201)
def create(body: CreateBody, who: CallerDep) -> Response:
    """Create a pending task (409 if the id is taken)."""
    return _task(who.agent.tasks.create(body.title, body.payload, task_id=body.id), 201)


class TaskList(BaseModel):
    """Tasks, in id order."""

    tasks: list[TaskModel]


@router.get("", response_model=TaskList)
def list_tasks(
    who: CallerDep,
    status: Literal["pending", "claimed", "completed", "failed"] | None = None,
    assignee: str | None = None,
) -> Response:
    """The tasks, in id (creation) order, optionally by status and assignee."""
    tasks = who.agent.tasks.list(status, assignee=assignee)
    return json_response({"tasks": [task_json(task) for task in tasks]})


class LeaseBody(Strict):
    """How long a claim lasts unless renewed."""

    lease: float = Field(default=DEFAULT_LEASE, description="seconds")


@router.post(
    "/next",
    response_model=TaskModel,
    responses={204: {"description": "no pending task"}},
)
def next_task(who: CallerDep, body: LeaseBody | None = None) -> Response:
    """Claim the oldest pending task (204 if there is none)."""
    task = who.agent.tasks.next(lease=(body or LeaseBody()).lease)
    return Response(status_code=204) if task is None else _task(task)


@router.get("/{task_id}", response_model=TaskModel)
def get(task_id: str, who: CallerDep) -> Response:
    """The task (404 if there is none)."""
    task = who.agent.tasks.get(task_id)
    if task is None:
        raise ApiError(404, "TaskNotFound", f"no task {task_id!r}", task_id=task_id)
    return _task(task)


@router.post("/{task_id}/claim", response_model=TaskModel)
def claim(task_id: str, who: CallerDep, body: LeaseBody | None = None) -> Response:
    """Claim the task (409 ``TaskClaimed`` naming the holder if another holds it)."""
    return _task(who.agent.tasks.claim(task_id, lease=(body or LeaseBody()).lease))


class Fenced(Strict):
    """The fence of the caller's claim (checked when given)."""

    fence: int | None = None


class ProgressBody(Fenced):
    """How far the holder has got; ``result`` is kept as is when omitted."""

    fraction: float = Field(description="0.0 to 1.0")
    result: Any = None


@router.post("/{task_id}/progress", response_model=TaskModel)
def progress(task_id: str, body: ProgressBody, who: CallerDep) -> Response:
    """Report progress (and an intermediate result); renews the claim."""
    tasks = who.agent.tasks
    if "result" in body.model_fields_set:
        task = tasks.progress(task_id, body.fraction, result=body.result, fence=body.fence)
    else:
        task = tasks.progress(task_id, body.fraction, fence=body.fence)
    return _task(task)


class RenewBody(Fenced):
    """The claim's new lease (default: its length)."""

    lease: float | None = None


@router.post("/{task_id}/renew", response_model=TaskModel)
def renew(task_id: str, who: CallerDep, body: RenewBody | None = None) -> Response:
    """Extend the holder's claim."""
    body = body or RenewBody()
    return _task(who.agent.tasks.renew(task_id, lease=body.lease, fence=body.fence))


class CompleteBody(Fenced):
    """The task's result."""

    result: Any = None


@router.post("/{task_id}/complete", response_model=TaskModel)
def complete(task_id: str, who: CallerDep, body: CompleteBody | None = None) -> Response:
    """Complete the task held by the caller."""
    body = body or CompleteBody()
    return _task(who.agent.tasks.complete(task_id, body.result, fence=body.fence))


class FailBody(Fenced):
    """Why the task failed."""

    error: str


@router.post("/{task_id}/fail", response_model=TaskModel)
def fail(task_id: str, body: FailBody, who: CallerDep) -> Response:
    """Fail the task held by the caller."""
    return _task(who.agent.tasks.fail(task_id, body.error, fence=body.fence))


@router.post("/{task_id}/release", response_model=TaskModel)
def release(task_id: str, who: CallerDep, body: Fenced | None = None) -> Response:
    """Give the claim up: the task is pending again."""
    return _task(who.agent.tasks.release(task_id, fence=(body or Fenced()).fence))


@router.post("/{task_id}/retry", response_model=TaskModel)
def retry(task_id: str, who: CallerDep) -> Response:
    """Make a failed task pending again."""
    return _task(who.agent.tasks.retry(task_id))
