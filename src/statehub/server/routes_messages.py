"""Messages (:mod:`statehub.mailbox`): send, send an update, receive, acknowledge, view.

The caller sends as its own agent and receives from its own inbox only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from statehub.documents import message_json
from statehub.mailbox import DEFAULT_RECEIVE_LIMIT, DEFAULT_VISIBILITY_TIMEOUT, Message
from statehub.server.auth import CallerDep
from statehub.server.errors import ERROR_RESPONSES
from statehub.server.routes_time import check_wait
from statehub.server.wire import MessagesModel, Strict, json_response

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["messages"], responses=ERROR_RESPONSES)


def _messages(sent: Message | list[Message], status: int = 200) -> Response:
    listed = sent if isinstance(sent, list) else [sent]
    return json_response({"messages": [message_json(message) for message in listed]}, status)


class SendBody(Strict):
    """A message to one agent or to several."""

    to: str | list[str]
    body: Any


@router.post("/messages", response_model=MessagesModel, status_code=201)
def send(body: SendBody, who: CallerDep) -> Response:
    """Send ``body`` to the inbox of ``to`` (one agent, or each of a list)."""
    return _messages(who.agent.send(body.to, body.body), 201)


class UpdateBody(Strict):
    """An update of ``key`` in the recipients' views."""

    to: str | list[str]
    key: str
    value: Any


@router.post("/messages/updates", response_model=MessagesModel, status_code=201)
def send_update(body: UpdateBody, who: CallerDep) -> Response:
    """Send an update setting ``key`` to ``value`` in each recipient's view."""
    return _messages(who.agent.send_update(body.to, body.key, body.value), 201)


class ReceiveBody(Strict):
    """How many messages to take, how long to wait for one, and for how long to hold them."""

    limit: int = DEFAULT_RECEIVE_LIMIT
    wait: float | None = Field(default=None, description="seconds to wait while the inbox is empty")
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT


@router.post("/messages/receive", response_model=MessagesModel)
def receive(who: CallerDep, body: ReceiveBody | None = None) -> Response:
    """Take messages from the caller's inbox (each in flight until acknowledged)."""
    body = body or ReceiveBody()
    received = who.agent.receive(
        limit=body.limit,
        wait=check_wait("wait", body.wait),
        visibility_timeout=body.visibility_timeout,
    )
    return _messages(received)


class Acked(BaseModel):
    """Whether the delivery acknowledged was the message's latest."""

    acked: bool


@router.post("/messages/{message_id}/ack", response_model=Acked)
def ack(message_id: str, who: CallerDep) -> Response:
    """Acknowledge a received message: it is deleted, never delivered again."""
    return json_response({"acked": who.agent.ack(message_id)})


class View(BaseModel):
    """The caller's view: ``{key: value}`` built from the updates sent to it."""

    view: dict[str, Any]


@router.get("/view", response_model=View)
def view(who: CallerDep) -> Response:
    """The caller's view (applying waiting updates first)."""
    return json_response({"view": who.agent.view()})
