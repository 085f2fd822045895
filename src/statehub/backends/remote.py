"""A hub served by ``statehub serve``, reached over HTTP (extra ``statehub[server]``).

``statehub.open("http://127.0.0.1:8650?hub=team", token=...)`` gives a hub whose
backend is a :class:`RemoteBackend`: statehub's whole API runs here, as on any other
backend, and each storage call travels to the server's ``/v1/backend/`` routes
(:mod:`statehub.server.backend_api`), which check it against the token before it
reaches the server's own storage. So a remote hub behaves exactly like a local one,
and a client can never do more than its token allows.

Commits carry their ops, not their results: merges and built-in reducers run inside
the server's commit, like on every backend. A reducer that is a function of this
process cannot travel; such an op is applied here to the value read from the
server and sent as its result, on condition that the key is unchanged since the
read, and retried on a conflict (optimistic concurrency, like :meth:`statehub.Agent.update`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import httpx
import orjson

from statehub.backends.base import Backend, CommitOutcome
from statehub.codec import decode, encode
from statehub.errors import (
    BackendError,
    BackendUnavailable,
    ConflictError,
    StatehubError,
    Unauthenticated,
)
from statehub.exchange import Export, RawChange
from statehub.history import ChangeQuery
from statehub.merge import merge_patch
from statehub.model import Change
from statehub.reducers import BUILTINS, builtin_name
from statehub.retry import backoff
from statehub.txn import DELETE, DISPATCH, MERGE, PUT, Op, Stored, Txn, is_expired, run_reducer
from statehub.wire import (
    chain_from_wire,
    change_from_wire,
    error_from_wire,
    export_to_wire,
    outcome_from_wire,
    query_to_wire,
    raw_change_from_wire,
    stored_from_wire,
    txn_to_wire,
)

__all__ = ["CLIENT_REDUCER_RETRIES", "RemoteBackend"]

CLIENT_REDUCER_RETRIES = 100
"""How many times a commit with a client-side reducer is tried before ``ConflictError``."""

_WAIT_SLICE = 20.0
"""The longest one ``wait`` request asks the server to block (it caps it too)."""

_REPLACE = BUILTINS["replace"]


class RemoteBackend(Backend):
    """The storage of a hub on a statehub server.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8650``.
        hub: the hub's name on the server (``None``: the server's own hub).
        token: the bearer token (``statehub token create``).
        timeout: seconds to wait for the server to answer one request.
    """

    def __init__(self, base_url: str, hub: str | None, token: str, *, timeout: float) -> None:
        self._timeout = timeout
        self._client = httpx.Client(
            base_url=base_url,
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
            timeout=httpx.Timeout(timeout, read=timeout + _WAIT_SLICE),
        )
        self._params = {"hub": hub} if hub else {}
        self._shown_as = base_url
        info = self._call("info", {})
        self.hub_name: str = info["hub"]
        """The hub's name on the server."""
        self.agent: str = info["agent"]
        """The agent the token acts as."""
        self.admin: bool = info["admin"]
        """Whether the token is an admin's (it may then act as any agent)."""

    # -- transport -------------------------------------------------------------------

    def _call(self, name: str, arguments: dict[str, Any]) -> Any:
        try:
            response = self._client.post(
                f"/v1/backend/{name}", params=self._params, content=orjson.dumps(arguments)
            )
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"statehub server {self._shown_as!r}: {exc}") from exc
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if response.status_code == 401:
            raise Unauthenticated(f"statehub server {self._shown_as!r} refused the token")
        if response.status_code >= 400:
            raise error_from_wire(body, BackendError)
        return body

    def _read(self, name: str, arguments: dict[str, Any]) -> Any:
        """A read: retried while the server cannot be reached, up to the timeout."""
        deadline = time.monotonic() + self._timeout
        failure: BackendUnavailable | None = None
        for _ in backoff(base=0.01, cap=0.5, deadline=deadline):
            try:
                return self._call(name, arguments)
            except BackendUnavailable as exc:
                failure = exc
        assert failure is not None
        raise failure

    # -- writes ----------------------------------------------------------------------

    def commit(self, txn: Txn, max_bytes: int) -> CommitOutcome:
        """Commit ``txn`` on the server (client-side reducers first, see the module)."""
        local = {op.key for op in txn.ops if op.kind == DISPATCH and _runs_here(op)}
        if not local:
            return self._send(txn, max_bytes)
        conflict: ConflictError | None = None
        for _ in backoff(base=0.0005, cap=0.05, attempts=CLIENT_REDUCER_RETRIES):
            rows = {key: self.load(key) for key in sorted(local)}
            resolved, compared = _resolve_here(txn, rows, max_bytes)
            try:
                return self._send(resolved, max_bytes)
            except ConflictError as exc:
                if exc.key not in compared:
                    raise
                conflict = exc
        assert conflict is not None
        raise conflict

    def _send(self, txn: Txn, max_bytes: int) -> CommitOutcome:
        arguments = {"txn": txn_to_wire(txn), "max_bytes": max_bytes}
        return outcome_from_wire(self._call("commit", arguments))

    def load_export(self, export: Export) -> None:
        """Load an export into the (empty) hub on the server: an admin token's call."""
        self._call("load_export", {"export": export_to_wire(export)})

    def compact(self, oldest: int, keep: list[int]) -> int:
        """Compact the hub's log on the server: an admin token's call."""
        dropped: int = self._call("compact", {"oldest": oldest, "keep": keep})["dropped"]
        return dropped

    # -- reads -----------------------------------------------------------------------

    def load(self, key: str) -> Stored | None:
        """The current row of ``key``."""
        return stored_from_wire(self._read("load", {"key": key})["row"])

    def scan(self, prefix: str, visible_to: str | None) -> list[Stored]:
        """Current rows under ``prefix`` that the token may see."""
        rows = self._read("scan", {"prefix": prefix, "visible_to": visible_to})["rows"]
        return [row for row in map(stored_from_wire, rows) if row is not None]

    def chain(self, key: str, revision: int) -> Iterable[tuple[str, bytes | None, bytes | None]]:
        """``key``'s log rows at or before ``revision``, newest first."""
        return chain_from_wire(self._read("chain", {"key": key, "revision": revision})["chain"])

    def changed_keys(self, prefix: str, until: int, visible_to: str | None) -> list[str]:
        """Keys under ``prefix`` changed at or before ``until``."""
        arguments = {"prefix": prefix, "until": until, "visible_to": visible_to}
        keys: list[str] = self._read("changed_keys", arguments)["keys"]
        return keys

    def changes(self, query: ChangeQuery) -> list[Change]:
        """Log rows matching ``query``, oldest first."""
        changes = self._read("changes", {"query": query_to_wire(query)})["changes"]
        return [change_from_wire(change) for change in changes]

    def raw_changes(self) -> list[RawChange]:
        """Every log row as stored: an admin token's call."""
        return [raw_change_from_wire(row) for row in self._read("raw_changes", {})["changes"]]

    def first_revision_since(self, timestamp: float) -> int:
        """The first revision committed at or after ``timestamp``."""
        revision: int = self._read("first_revision_since", {"timestamp": timestamp})["revision"]
        return revision

    def oldest(self) -> int:
        """The oldest revision still readable."""
        oldest: int = self._read("head", {})["oldest"]
        return oldest

    def head(self) -> int:
        """The hub's current revision."""
        head: int = self._read("head", {})["head"]
        return head

    def wait(self, after: int, timeout: float | None) -> int:
        """Block until the head passes ``after``: long polls of the server."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = _WAIT_SLICE if deadline is None else deadline - time.monotonic()
            slice_ = max(min(remaining, _WAIT_SLICE), 0.0)
            head: int = self._read("wait", {"after": after, "timeout": slice_})["head"]
            if head > after or (deadline is not None and time.monotonic() >= deadline):
                return head

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()


def _runs_here(op: Op) -> bool:
    """Whether ``op``'s reducer is a function of this process (not a built-in)."""
    return op.reducer is not None and builtin_name(op.reducer) is None


def _resolve_here(
    txn: Txn, rows: dict[str, Stored | None], max_bytes: int
) -> tuple[Txn, dict[str, int]]:
    """``txn`` with each client-side reducer op replaced by its result, and the compares.

    The ops on the keys of ``rows`` are played here, in order, from the rows read;
    a client-side reducer's op becomes a ``replace`` of its result, keeping its cause
    and label, and the commit requires each such key unchanged since the read.
    """
    now = time.time()
    values: dict[str, bytes | None] = {}
    compared = dict(txn.unchanged_since)
    for key, row in rows.items():
        live = row if row is not None and not is_expired(row, now) else None
        values[key] = None if live is None else live.data
        compared.setdefault(key, 0 if live is None else live.modified_rev)
    ops: list[Op] = []
    for op in txn.ops:
        if op.key in values:
            data = _play(op, values[op.key], max_bytes)
            values[op.key] = data
            if _runs_here(op):
                op = Op(
                    DISPATCH,
                    op.key,
                    operand=decode(data) if data is not None else None,
                    reducer=_REPLACE,
                    cause=op.cause,
                    label=op.label,
                    logged_as=op.logged_as,
                    ttl=op.ttl,
                )
        ops.append(op)
    resolved = Txn(txn.agent, tuple(ops), txn.expect, txn.label, txn.fences, compared)
    return resolved, {key: compared[key] for key in rows if key not in txn.unchanged_since}


def _play(op: Op, data: bytes | None, max_bytes: int) -> bytes | None:
    """The value of ``op.key`` after ``op``, from its value ``data`` before."""
    state = None if data is None else decode(data)
    if op.kind == PUT:
        return op.data
    if op.kind == DELETE:
        return None
    if op.kind == MERGE:
        return encode(op.key, merge_patch(state, op.operand), max_bytes)
    if op.kind == DISPATCH:  # on a copy of the action: the op may still be sent
        return run_reducer(replace(op, operand=copy.deepcopy(op.operand)), state, max_bytes)
    raise StatehubError(f"op {op.kind!r} cannot be played on the client")
