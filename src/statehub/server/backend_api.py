"""The storage protocol the Python remote client speaks: ``/v1/backend/<call>``.

:class:`~statehub.backends.remote.RemoteBackend` runs statehub's whole API on the
client and sends these routes the calls of :class:`~statehub.backends.base.Backend`,
in the JSON forms of :mod:`statehub.wire`, for the hub named by ``?hub=`` (the
server's home hub without it). Every call is checked against the token's identity
(:mod:`statehub.server.guard`) before it reaches storage; answers carry only rows
the token may read. Errors are ``{"error": {"type", "message", ...facts}}`` so the
client raises the very exception an in-process hub would.

These routes are not in the OpenAPI document: they are a private protocol between
statehub's client and server, versioned with the package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from statehub.codec import decode, encode
from statehub.errors import InvalidArgument, InvalidValue, StatehubError
from statehub.hub import Hub
from statehub.keys import validate_prefix
from statehub.server import guard
from statehub.server.auth import identify
from statehub.server.errors import ApiError, error_response, statehub_error_response
from statehub.server.hubs import HubRegistry
from statehub.server.tokens import Identity
from statehub.txn import Txn
from statehub.wire import (
    chain_to_wire,
    change_to_wire,
    export_from_wire,
    outcome_to_wire,
    query_from_wire,
    raw_change_to_wire,
    stored_to_wire,
    txn_from_wire,
)

__all__ = ["MAX_WAIT", "router"]

MAX_WAIT = 25.0
"""The longest one ``wait`` call blocks, in seconds (clients call again)."""

_ENVELOPE_BYTES = 1024 * 1024
"""Room in a storage call's body for what surrounds its values."""

router = APIRouter(prefix="/v1/backend", include_in_schema=False)


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status, media_type="application/json")


def _refused(exc: ApiError) -> Response:
    return error_response(exc.status, exc.type_name, exc.message, exc.facts)


def _registry(request: Request) -> HubRegistry:
    registry: HubRegistry = request.app.state.hubs
    return registry


def _identity(request: Request, registry: HubRegistry) -> Identity:
    """Who the request's token is (:data:`~statehub.server.auth.UNAUTHORIZED` if nobody)."""
    return identify(registry.home, request.headers.get("authorization"))


def _body_limit(request: Request, hub: Hub) -> int:
    """The largest body a storage call may have: room for a value at the hub's limit.

    A value travels as JSON text inside a JSON string, which may double its size.
    """
    limit: int = request.app.state.max_body_bytes
    return max(limit, 2 * hub.max_value_bytes + _ENVELOPE_BYTES)


async def _body(request: Request, limit: int) -> Any:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise InvalidArgument(f"the request body is over {limit} bytes")
    try:
        return orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"the request body is not JSON: {exc}") from None


Call = Callable[[Hub, Identity, Any], Any]
"""One storage call: the hub, who asks, the JSON arguments; returns the JSON answer."""


async def _serve(request: Request, call: Call) -> Response:
    try:
        registry = _registry(request)
        arguments = await _body(request, _body_limit(request, registry.home))
        return await run_in_threadpool(_authorized_call, request, registry, call, arguments)
    except StatehubError as exc:
        return statehub_error_response(exc)


def _authorized_call(
    request: Request, registry: HubRegistry, call: Call, arguments: Any
) -> Response:
    """``call``, if the request's token is valid (one trip to the thread pool for both)."""
    try:
        identity = _identity(request, registry)
        hub = registry.get(request.query_params.get("hub"))
        return _json(call(hub, identity, arguments))
    except ApiError as exc:
        return _refused(exc)
    except StatehubError as exc:
        return statehub_error_response(exc)


def _field(arguments: Any, name: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
    value = arguments.get(name) if isinstance(arguments, dict) else None
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InvalidArgument(f"argument {name!r} is missing or of the wrong type")
    return value


def _checked_data(txn: Txn, max_bytes: int) -> Txn:
    """``txn`` with every op's value parsed and encoded again: JSON, and within limits."""
    for op in txn.ops:
        if op.data is not None:
            try:
                value = decode(op.data)
            except orjson.JSONDecodeError:
                raise InvalidValue(op.key, "", "str", "the value is not JSON text") from None
            op.data = encode(op.key, value, max_bytes)
    return txn


# -- the calls -------------------------------------------------------------------


def _info(hub: Hub, identity: Identity, _: Any) -> Any:
    return {
        "hub": hub.name,
        "agent": identity.agent,
        "admin": identity.admin,
        "max_value_bytes": hub.max_value_bytes,
    }


def _commit(hub: Hub, identity: Identity, arguments: Any) -> Any:
    txn = txn_from_wire(_field(arguments, "txn", dict))
    guard.check_txn(identity, txn)
    asked = _field(arguments, "max_bytes", int, optional=True)
    limit = hub.max_value_bytes if asked is None else max(min(asked, hub.max_value_bytes), 1)
    plan, before = hub.backend.commit(_checked_data(txn, limit), limit)
    return outcome_to_wire(plan, before)


def _load(hub: Hub, identity: Identity, arguments: Any) -> Any:
    key = guard.check_readable(identity, _field(arguments, "key", str))
    return {"row": stored_to_wire(hub.backend.load(key))}


def _scan(hub: Hub, identity: Identity, arguments: Any) -> Any:
    prefix = validate_prefix(_field(arguments, "prefix", str))
    wanted = _field(arguments, "visible_to", str, optional=True)
    if wanted is None:
        rows = [row for row in hub.backend.scan(prefix, None) if guard.readable(identity, row.key)]
    else:
        rows = hub.backend.scan(prefix, guard.check_visible_to(identity, wanted))
    return {"rows": [stored_to_wire(row) for row in rows]}


def _chain(hub: Hub, identity: Identity, arguments: Any) -> Any:
    key = guard.check_readable(identity, _field(arguments, "key", str))
    revision = _field(arguments, "revision", int)
    return {"chain": chain_to_wire(hub.backend.chain(key, revision))}


def _changed_keys(hub: Hub, identity: Identity, arguments: Any) -> Any:
    prefix = validate_prefix(_field(arguments, "prefix", str))
    until = _field(arguments, "until", int)
    wanted = _field(arguments, "visible_to", str, optional=True)
    visible_to = guard.check_visible_to(identity, wanted)
    return {"keys": hub.backend.changed_keys(prefix, until, visible_to)}


def _changes(hub: Hub, identity: Identity, arguments: Any) -> Any:
    query = guard.check_query(identity, query_from_wire(_field(arguments, "query", dict)))
    return {"changes": [change_to_wire(change) for change in hub.backend.changes(query)]}


def _head(hub: Hub, identity: Identity, _: Any) -> Any:
    return {"head": hub.backend.head(), "oldest": hub.backend.oldest()}


def _first_revision_since(hub: Hub, identity: Identity, arguments: Any) -> Any:
    timestamp = _field(arguments, "timestamp", (int, float))
    return {"revision": hub.backend.first_revision_since(float(timestamp))}


def _raw_changes(hub: Hub, identity: Identity, _: Any) -> Any:
    guard.check_admin(identity, "reading the raw log")
    return {"changes": [raw_change_to_wire(row) for row in hub.backend.raw_changes()]}


def _load_export(hub: Hub, identity: Identity, arguments: Any) -> Any:
    guard.check_admin(identity, "importing")
    hub.backend.load_export(export_from_wire(_field(arguments, "export", dict)))
    return {}


def _compact(hub: Hub, identity: Identity, arguments: Any) -> Any:
    guard.check_admin(identity, "compaction")
    oldest = _field(arguments, "oldest", int)
    keep = _field(arguments, "keep", list)
    if not all(isinstance(revision, int) for revision in keep):
        raise InvalidArgument("argument 'keep' must be a list of revisions")
    return {"dropped": hub.backend.compact(oldest, keep)}


_CALLS: dict[str, Call] = {
    "info": _info,
    "commit": _commit,
    "load": _load,
    "scan": _scan,
    "chain": _chain,
    "changed_keys": _changed_keys,
    "changes": _changes,
    "head": _head,
    "first_revision_since": _first_revision_since,
    "raw_changes": _raw_changes,
    "load_export": _load_export,
    "compact": _compact,
}


@router.post("/wait")
async def wait(request: Request) -> Response:
    """Block until the hub's head passes ``after`` (at most ``timeout``, capped)."""
    try:
        registry = _registry(request)
        await run_in_threadpool(_identity, request, registry)
        hub = await run_in_threadpool(registry.get, request.query_params.get("hub"))
        arguments = await _body(request, _body_limit(request, hub))
        after = _field(arguments, "after", int)
        timeout = _field(arguments, "timeout", (int, float))
        notifier = registry.notifier(hub)
        head = await notifier.wait_past(after, min(max(float(timeout), 0.0), MAX_WAIT))
        return _json({"head": head})
    except ApiError as exc:
        return _refused(exc)
    except StatehubError as exc:
        return statehub_error_response(exc)


@router.post("/{call}")
async def call(call: str, request: Request) -> Response:
    """One storage call (see :data:`_CALLS`)."""
    handler = _CALLS.get(call)
    if handler is None:
        return _json({"error": {"type": "NotFound", "message": f"no call {call!r}"}}, 404)
    return await _serve(request, handler)
