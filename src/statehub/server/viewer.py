"""The web viewer: a page at ``/``, its static files, and the few routes only it needs.

:func:`mount_viewer` adds to an app made by :func:`statehub.server.app.create_app`:

- ``GET /``: the page (``static/index.html``), and ``GET /static/...``: its scripts and
  styles, shipped in the package (no build step, nothing fetched from elsewhere: the
  page works offline, and its Content-Security-Policy forbids any other origin);
- ``/v1/viewer/...``: what the page needs beyond the public API, under the same bearer
  tokens and the same rules (an agent token sees only what its agent may see):

  ============================  =====================================================
  ``GET /v1/viewer/me``         who the token is, the hub, its head and oldest revision
  ``GET /v1/viewer/changes``    the audit log newest first, filtered by agent, key,
                                prefix, op, revision range and time range, in pages
  ``GET /v1/viewer/activity``   changes per agent per time bucket, for the chart
  ``GET /v1/viewer/versions``   a key's versions, each with its value
  ``GET /v1/viewer/inboxes``    how many messages wait in each inbox (an agent token,
                                or an admin acting as an agent: that agent's only)
  ============================  =====================================================

Everything else the page shows comes from the public API (``/v1/entries``,
``/v1/diff``, ``/v1/checkpoints``, ``/v1/rollback``, ``/v1/locks``, ``/v1/tasks``,
``/v1/watch``).
"""

from __future__ import annotations

import time
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from statehub.codec import decode
from statehub.documents import change_json
from statehub.errors import InvalidArgument
from statehub.mailbox import INBOX_SCOPE
from statehub.model import Change
from statehub.server.auth import Caller, CallerDep
from statehub.server.errors import ERROR_RESPONSES
from statehub.server.wire import ChangeModel, json_response

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAX_ACTIVITY_REVISIONS",
    "MAX_SCANNED",
    "STATIC_DIR",
    "mount_viewer",
    "router",
]

STATIC_DIR = Path(str(files("statehub.server") / "static"))
"""Where the page's files are: ``index.html``, ``viewer.css``, ``js/*.js``."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page loads nothing from anywhere but the server itself."""

MAX_SCANNED = 20_000
"""The most revisions one ``/v1/viewer/changes`` request reads back through."""

MAX_ACTIVITY_REVISIONS = 50_000
"""The most revisions one ``/v1/viewer/activity`` request reads (the newest are kept)."""

_WINDOW = 1_000
"""Revisions read per step when walking the log backwards."""

_HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(prefix="/v1/viewer", tags=["viewer"], responses=ERROR_RESPONSES)

Revision = Annotated[int | None, Query(ge=0, lt=2**63)]
Seconds = Annotated[float | None, Query(ge=0, lt=1e11, description="seconds since the epoch")]


def mount_viewer(app: FastAPI) -> None:
    """Serve the web viewer from ``app``: the page at ``/``, its files, its routes.

    Mounting twice does nothing the second time.

    >>> import statehub
    >>> from statehub.server.app import create_app
    >>> app = create_app(statehub.open("memory://"))
    >>> mount_viewer(app)
    """
    if getattr(app.state, "viewer_mounted", False):
        return
    app.state.viewer_mounted = True
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="viewer-static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The viewer's page (it asks for a token; nothing here is secret)."""
        return FileResponse(STATIC_DIR / "index.html", headers=_HTML_HEADERS)

    app.openapi_schema = None  # the document now lists the viewer's routes too


class Me(BaseModel):
    """Who the token is, what it sees, and where the hub stands."""

    agent: str
    admin: bool
    hub_wide: bool
    hub: str
    revision: int
    oldest: int


@router.get("/me", response_model=Me)
def me(who: CallerDep) -> Response:
    """The agent the request acts as, whether the token is an admin's, the hub and its revisions.

    ``hub_wide``: the reads see every agent's keys (an admin token acting as nobody
    in particular, see ``X-Statehub-Agent``).
    """
    hub = who.hub
    return json_response(
        {
            "agent": who.agent.name,
            "admin": who.identity.admin,
            "hub_wide": who.hub_wide,
            "hub": hub.name,
            "revision": hub.revision,
            "oldest": hub.oldest_revision,
        }
    )


class ChangePage(BaseModel):
    """Changes newest first; ``next_until`` continues with older ones (``null``: no more)."""

    changes: list[ChangeModel]
    head: int
    next_until: int | None


def _check_range(name: str, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise InvalidArgument(f"{name}: the start ({low}) is after the end ({high})")


def _matches(change: Change, op: str | None, own: bool, after: float | None) -> bool:
    return (
        (op is None or change.op == op)
        and (own or not change.key.startswith("_"))
        and (after is None or change.timestamp >= after)
    )


@router.get("/changes", response_model=ChangePage)
def changes(
    who: CallerDep,
    key: str | None = None,
    prefix: str | None = None,
    agent: str | None = None,
    op: Annotated[str | None, Query(max_length=32)] = None,
    since: Revision = None,
    until: Revision = None,
    after_ts: Seconds = None,
    before_ts: Seconds = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    own: Annotated[bool, Query(description="include statehub's own rows (_locks/, ...)")] = False,
) -> Response:
    """The audit log as this caller may see it, newest first, in pages of ``limit``.

    ``since`` is exclusive and ``until`` inclusive (revisions); ``after_ts`` and
    ``before_ts`` bound the commit time (inclusive). At most :data:`MAX_SCANNED`
    revisions are read per request: ``next_until`` says where to go on.
    """
    _check_range("since/until", since, until)
    _check_range("after_ts/before_ts", after_ts, before_ts)
    hub = who.hub
    head = hub.revision
    floor = max(since or 0, hub.oldest_revision)
    top = head if until is None else min(until, head)
    if before_ts is not None:
        top = min(top, hub.backend.first_revision_since(before_ts + 1e-6) - 1)
    if after_ts is not None:
        floor = max(floor, hub.backend.first_revision_since(after_ts) - 1)
    found: list[Change] = []
    stop = max(floor, top - MAX_SCANNED)
    while top > stop and len(found) < limit:
        low = max(stop, top - _WINDOW)
        window = who.history(key=key, prefix=prefix, agent=agent, since=low, until=top)
        found.extend(c for c in reversed(window) if _matches(c, op, own, after_ts))
        top = low
    if len(found) > limit:
        # Whole revisions only: a page never ends half-way through a revision.
        last = found[limit - 1].revision
        found = [change for change in found if change.revision >= last]
        top = last - 1
    next_until = top if top > floor else None
    body = {"changes": [change_json(c) for c in found], "head": head, "next_until": next_until}
    return json_response(body)


class Activity(BaseModel):
    """Changes per agent per time bucket: ``agents[name][i]`` counts bucket ``i``."""

    start_ts: float
    bucket_seconds: float
    buckets: int
    agents: dict[str, list[int]]
    total: int
    truncated: bool


@router.get("/activity", response_model=Activity)
def activity(
    who: CallerDep,
    span: Annotated[float, Query(gt=0, le=366 * 86400, description="seconds")] = 3600.0,
    buckets: Annotated[int, Query(ge=1, le=500)] = 60,
    own: bool = False,
) -> Response:
    """How many changes each agent made in each of ``buckets`` slices of the last ``span`` s.

    Counts what this caller may see; ``truncated`` says the oldest changes were left
    out (more than :data:`MAX_ACTIVITY_REVISIONS` revisions in the span).
    """
    hub = who.hub
    now = time.time()
    start = now - span
    width = span / buckets
    first = hub.backend.first_revision_since(start)
    head = hub.revision
    since = max(first - 1, hub.oldest_revision, head - MAX_ACTIVITY_REVISIONS)
    rows = who.history(since=since, until=head)
    counts: dict[str, list[int]] = {}
    total = 0
    for change in rows:
        if (not own and change.key.startswith("_")) or change.timestamp < start:
            continue
        index = min(buckets - 1, max(0, int((change.timestamp - start) / width)))
        counts.setdefault(change.agent, [0] * buckets)[index] += 1
        total += 1
    body = {
        "start_ts": start,
        "bucket_seconds": width,
        "buckets": buckets,
        "agents": dict(sorted(counts.items())),
        "total": total,
        "truncated": since > max(first - 1, hub.oldest_revision),
    }
    return json_response(body)


class Version(BaseModel):
    """One change of a key, with the value it left (``null`` after a delete)."""

    revision: int
    version: int
    op: str
    agent: str
    timestamp: float
    label: str | None
    exists: bool
    value: Any


class Versions(BaseModel):
    """A key's changes, newest first, each with its value."""

    key: str
    versions: list[Version]


_ABSENT: Any = object()


@router.get("/versions", response_model=Versions)
def versions(
    who: CallerDep,
    key: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """The key's last ``limit`` changes, newest first, each with the value it left."""
    reader = who.reader(key)
    log = reader.history(key=key)[-limit:]
    listed = []
    for change in reversed(log):
        value = reader.get(key, _ABSENT, at=change.revision)
        listed.append(
            {
                "revision": change.revision,
                "version": change.version,
                "op": change.op,
                "agent": change.agent,
                "timestamp": change.timestamp,
                "label": change.label,
                "exists": value is not _ABSENT,
                "value": None if value is _ABSENT else value,
            }
        )
    return json_response({"key": key, "versions": listed})


class InboxSize(BaseModel):
    """How many messages an inbox holds: ``waiting`` to be received, ``in_flight`` unacked."""

    waiting: int
    in_flight: int


class Inboxes(BaseModel):
    """Inbox sizes by agent (an agent token: its own inbox only)."""

    inboxes: dict[str, InboxSize]


def _inbox_sizes(who: Caller) -> dict[str, dict[str, int]]:
    scope = INBOX_SCOPE if who.hub_wide else f"{INBOX_SCOPE}{who.agent.name}/"
    now = time.time()
    sizes: dict[str, dict[str, int]] = {}
    if not who.hub_wide:
        sizes[who.agent.name] = {"waiting": 0, "in_flight": 0}
    for row in who.hub.backend.scan(scope, None):
        agent = row.key.removeprefix(INBOX_SCOPE).split("/", 1)[0]
        visible_ts = decode(row.data).get("visible_ts")
        state: Literal["waiting", "in_flight"] = (
            "in_flight" if visible_ts is not None and visible_ts > now else "waiting"
        )
        sizes.setdefault(agent, {"waiting": 0, "in_flight": 0})[state] += 1
    return dict(sorted(sizes.items()))


@router.get("/inboxes", response_model=Inboxes)
def inboxes(who: CallerDep) -> Response:
    """How many messages wait (and are in flight) in each inbox this caller may see."""
    return json_response({"inboxes": _inbox_sizes(who)})
