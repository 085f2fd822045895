"""Who a request is: the bearer token's identity, and the view of the hub it gets.

An agent token acts as its agent, always. An admin token acts as its own agent, or as
the agent named by the ``X-Statehub-Agent`` header; while it names none, its reads
(keys, scans, history, diff, watch) see every agent's keys. An agent token naming any
agent but its own in ``X-Statehub-Agent`` gets 403.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from anyio.to_thread import run_sync
from fastapi import Depends, Header, Query, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from statehub import timetravel
from statehub.diff import Diff
from statehub.errors import StatehubError
from statehub.hub import Agent, Hub
from statehub.keys import owner_of, validate_agent_name, validate_prefix
from statehub.model import Change, Entry
from statehub.server.errors import ApiError, error_response, statehub_error_response
from statehub.server.hubs import HubRegistry
from statehub.server.limits import STORAGE_PROTOCOL
from statehub.server.tokens import Identity, authenticate
from statehub.txn import is_expired

__all__ = [
    "ACT_AS_HEADER",
    "AdminDep",
    "Authenticate",
    "Caller",
    "CallerDep",
    "caller",
    "identify",
    "require_admin",
]

ACT_AS_HEADER = "X-Statehub-Agent"
"""The header an admin token names the agent to act as with."""

UNAUTHORIZED = ApiError(401, "Unauthorized", "a valid bearer token is required")

IDENTITY = "statehub_identity"
"""Where :class:`Authenticate` leaves the request's identity (``request.state``)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The request's identity and the agent it acts as.

    Attributes:
        identity: who the token is.
        agent: the hub's own handle of the agent the request acts as: every write goes
            through it, so the hub's policy applies.
        hub_wide: an admin token acting as nobody in particular: its reads see every key.
    """

    identity: Identity
    agent: Agent
    hub_wide: bool

    @property
    def hub(self) -> Hub:
        """The hub served."""
        return self.agent.hub

    def reader(self, key: str) -> Agent:
        """The agent to act on ``key`` (or a prefix) as: its private scope's own, if hub-wide."""
        whole_scope = self.hub_wide and key.count("/") >= 2
        owner = owner_of(key) if whole_scope else None
        return self.agent if not owner else self.hub.agent(owner)

    def scan(self, prefix: str, at: int | str | None) -> dict[str, Any]:
        """``{key: value}`` under ``prefix`` that this caller may see (at ``at``)."""
        if not self.hub_wide:
            return self.agent.scan(prefix, at=at)
        backend = self.hub.backend
        prefix = validate_prefix(prefix)
        if at is None:
            return timetravel.snapshot(backend, prefix, None)
        return timetravel.snapshot_at(backend, prefix, timetravel.resolve(backend, at), None)

    def entries(self, prefix: str) -> list[Entry]:
        """The current entries under ``prefix`` that this caller may see, in key order."""
        if not self.hub_wide:
            return self.agent.entries(prefix)
        now = time.time()
        rows = self.hub.backend.scan(validate_prefix(prefix), None)
        visible = (row for row in rows if not row.key.startswith("_"))
        return [row.to_entry() for row in visible if not is_expired(row, now)]

    def history(self, **query: Any) -> list[Change]:
        """The audit log as this caller may see it (see :meth:`statehub.Hub.history`)."""
        if self.hub_wide:
            return self.hub.history(**query)
        return self.agent.history(**query)

    def diff(self, a: int | str, b: int | str, prefix: str) -> Diff:
        """What changed between ``a`` and ``b`` under ``prefix``, as this caller may see it."""
        if self.hub_wide:
            return self.hub.diff(a, b, prefix=prefix)
        return self.agent.diff(a, b, prefix=prefix)


def identify(hub: Hub, authorization: str | None) -> Identity:
    """The identity of an ``Authorization`` header's bearer token (401 without one)."""
    scheme, _, token = (authorization or "").partition(" ")
    identity = authenticate(hub, token.strip()) if scheme.lower() == "bearer" else None
    if identity is None:
        raise UNAUTHORIZED
    return identity


class Authenticate:
    """ASGI middleware: every ``/v1/`` request needs a valid bearer token, or gets 401.

    Runs before anything else looks at the request (body limits, parameters, routes),
    so an unauthenticated request learns nothing but 401, whatever it sends. The
    identity is left in the request's state for :func:`caller`. The storage protocol
    (``/v1/backend/``) checks tokens itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its identity, or answer 401."""
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith("/v1/")
            or path.startswith(STORAGE_PROTOCOL)
        ):
            await self.app(scope, receive, send)
            return
        hub: Hub = scope["app"].state.hub
        authorization = Headers(scope=scope).get("authorization")
        try:
            identity = await run_sync(identify, hub, authorization)
        except ApiError as exc:
            await error_response(exc.status, exc.type_name, exc.message)(scope, receive, send)
            return
        except StatehubError as exc:  # a closed hub, storage down
            await statehub_error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})[IDENTITY] = identity
        await self.app(scope, receive, send)


async def caller(
    request: Request,
    act_as: Annotated[
        str | None,
        Header(
            alias=ACT_AS_HEADER,
            description="admin tokens: the agent to act as (agent tokens: their own only)",
        ),
    ] = None,
    hub_name: Annotated[
        str | None,
        Query(
            alias="hub",
            description="the hub, among those of the server's storage (default: its own)",
        ),
    ] = None,
) -> Caller:
    """The request's :class:`Caller`: its token's identity, and ``X-Statehub-Agent``.

    Async on purpose: it does no I/O (the token was checked by :class:`Authenticate`),
    and a sync dependency would cost every request a trip through the thread pool.
    """
    hub = await _hub_named(request, hub_name)
    identity: Identity = getattr(request.state, IDENTITY)
    if act_as is None or act_as == identity.agent:
        return Caller(identity, hub.agent(identity.agent), identity.admin and act_as is None)
    if not identity.admin:
        raise ApiError(
            403,
            "AccessDenied",
            f"only admin tokens may act as another agent ({ACT_AS_HEADER})",
            agent=identity.agent,
        )
    return Caller(identity, hub.agent(validate_agent_name(act_as)), False)


async def _hub_named(request: Request, name: str | None) -> Hub:
    """The hub ``?hub=`` names (the server's own without it); opened on first use."""
    registry: HubRegistry = request.app.state.hubs
    if not name or name == registry.home.name:
        return registry.home
    return await run_sync(registry.get, name)


CallerDep = Annotated[Caller, Depends(caller)]


async def require_admin(who: CallerDep) -> Caller:
    """The caller, if its token is an admin token (403 otherwise)."""
    if not who.identity.admin:
        raise ApiError(403, "AccessDenied", "admin token required", agent=who.identity.agent)
    return who


AdminDep = Annotated[Caller, Depends(require_admin)]
