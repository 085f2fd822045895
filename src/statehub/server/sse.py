"""Watch as Server-Sent Events: ``GET /v1/watch?prefix=&since=``.

Each change is one event (``event: change``, ``data:`` the change as JSON). Changes
come in whole revisions, and the last change of each revision carries ``id: <revision>``
(the others carry no ``id``, so by the SSE rules a client's last event id stays at the
previous whole revision): resuming with ``Last-Event-ID`` (or ``since``) therefore
never skips nor repeats a change. Only keys the caller may see are sent.

No worker thread waits for a client: the stream awaits the hub's
:class:`~statehub.server.notifier.HeadNotifier` (one thread per hub wakes every waiting
coroutine when the head moves, decision 32) for at most :data:`STEP` seconds at a time,
then reads the new revisions on a worker thread (a limiter of its own, so watchers never
starve the routes). When nothing happened it sends a comment as a heartbeat; a client
that has gone ends the stream (the server cancels it when it sees the disconnect).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import orjson
from anyio.to_thread import run_sync
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from statehub import timetravel
from statehub.documents import change_json
from statehub.errors import InvalidArgument
from statehub.hub import Hub
from statehub.model import Change
from statehub.server.auth import Caller, CallerDep, identify
from statehub.server.errors import ERROR_RESPONSES, ApiError
from statehub.server.hubs import HubRegistry
from statehub.server.notifier import HeadNotifier

__all__ = ["STEP", "WATCH_THREADS", "head_notifier", "router"]

STEP = 1.0
"""The longest a stream waits for a new revision before it sends a heartbeat, in seconds."""

WATCH_THREADS = 16
"""How many streams read new revisions at once (the others queue for a moment)."""

router = APIRouter(prefix="/v1", tags=["watch"], responses=ERROR_RESPONSES)

_EVENTS = {
    200: {
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
        "description": "a stream of `change` events, each `id:` a whole revision",
    }
}


def _read(who: Caller, prefix: str, position: int, head: int) -> tuple[list[Change], int]:
    """What ``who`` may see after ``position`` up to ``head``: whole revisions, new position."""
    until = min(head, position + timetravel.WATCH_BATCH)
    return who.history(prefix=prefix, since=position, until=until), until


def head_notifier(request: Request, hub: Hub) -> HeadNotifier:
    """The head notifier of ``hub`` (one of those the app serves)."""
    registry: HubRegistry = request.app.state.hubs
    return registry.notifier(hub)


def _events(changes: list[Change]) -> bytes:
    """The SSE events of whole revisions: ``id:`` on the last change of each."""
    events: list[bytes] = []
    for index, change in enumerate(changes):
        last_of_revision = (
            index + 1 == len(changes) or changes[index + 1].revision != change.revision
        )
        marker = b"id: %d\n" % change.revision if last_of_revision else b""
        events.append(
            b"event: change\n%sdata: %s\n\n" % (marker, orjson.dumps(change_json(change)))
        )
    return b"".join(events)


def _start(since: int | None, last_event_id: str | None) -> int | None:
    if last_event_id is None or not last_event_id.strip():
        return since
    text = last_event_id.strip()
    if not text.isdigit() or len(text) > 19:
        raise InvalidArgument(f"Last-Event-ID must be a revision, not {last_event_id!r}")
    return int(text)


@router.get("/watch", responses=_EVENTS)  # type: ignore[arg-type]
async def watch(
    request: Request,
    who: CallerDep,
    prefix: str = "",
    since: Annotated[int | None, Query(ge=0, lt=2**63, description="start after this")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Stream every change under ``prefix`` after ``since`` (default: the head) as SSE."""
    start = _start(since, last_event_id)
    # Checks the prefix, the privacy of its scope and compaction before the stream starts.
    first = await run_sync(lambda: _first(who, prefix, start))
    limiter: anyio.CapacityLimiter = request.app.state.watch_limiter
    step: float = request.app.state.watch_step

    notifier = head_notifier(request, who.hub)
    registry: HubRegistry = request.app.state.hubs
    authorization = request.headers.get("authorization")
    state = request.app.state

    def revoked() -> bool:
        """Whether the stream's token stopped working (revoked) since it started."""
        try:
            identify(registry.home, authorization)
        except ApiError:
            return True
        return False

    async def stream() -> AsyncIterator[bytes]:
        position = first
        state.watch_streams += 1  # the event loop's thread only: no lock needed
        try:
            yield b": watching from revision %d\n\n" % position
            while True:  # ends when the client goes, or its token is revoked
                head = await notifier.wait_past(position, step)
                if await run_sync(revoked):
                    yield b": token revoked\n\n"
                    return
                if head <= position:
                    yield b": idle\n\n"
                    continue
                changes, position = await run_sync(
                    _read, who, prefix, position, head, limiter=limiter, abandon_on_cancel=True
                )
                if changes:
                    yield _events(changes)
        finally:
            state.watch_streams -= 1

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def _first(who: Caller, prefix: str, since: int | None) -> int:
    """The position the stream starts after, once the request is known to be allowed."""
    hub = who.hub
    start = hub.revision if since is None else since
    who.history(prefix=prefix, since=start, limit=1)
    return start
