"""The JSON forms of a backend's arguments and results, for the remote protocol.

The remote backend (:mod:`statehub.backends.remote`) and the server's storage
routes (:mod:`statehub.server.backend_api`) exchange these forms. Stored values are
JSON text already, so they travel as strings and are never parsed in between.

Everything decoded here comes from the network: each ``*_from_wire`` function
checks the shape and types it reads and raises :class:`InvalidArgument` naming the
first thing that is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from statehub import errors
from statehub.errors import InvalidArgument, StatehubError
from statehub.exchange import Export, RawChange
from statehub.history import ChangeQuery
from statehub.model import Change
from statehub.reducers import BUILTINS, builtin_name
from statehub.txn import DISPATCH, Op, Plan, Stored, Txn

__all__ = [
    "chain_from_wire",
    "chain_to_wire",
    "change_from_wire",
    "change_to_wire",
    "error_from_wire",
    "export_from_wire",
    "export_to_wire",
    "outcome_from_wire",
    "outcome_to_wire",
    "query_from_wire",
    "query_to_wire",
    "raw_change_from_wire",
    "raw_change_to_wire",
    "stored_from_wire",
    "stored_to_wire",
    "txn_from_wire",
    "txn_to_wire",
]

_T = TypeVar("_T")

_CHANGE_FIELDS = tuple(field.name for field in dataclass_fields(Change))


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode()


def _json_text(value: Any) -> str:
    """``value`` as JSON text: nested values travel as text, whatever their depth.

    orjson refuses documents nested deeper than 254; statehub's values may be 254
    deep themselves, so a value wrapped in a request would be refused.
    """
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _from_json_text(text: Any, what: str) -> Any:
    if not isinstance(text, str):
        raise InvalidArgument(f"{what} must be JSON text (a string)")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidArgument(f"{what} is not JSON text") from None


def _bytes(text: Any, what: str) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidArgument(f"{what} must be JSON text (a string) or null")
    return text.encode()


def _typed(value: Any, kind: type[_T] | tuple[type, ...], what: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        raise InvalidArgument(f"{what} has the wrong type ({type(value).__name__})")
    return value


def _number(value: Any, what: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{what} must be a number, not {type(value).__name__}")
    return float(value)


def _fields(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object")
    return value


# -- rows ------------------------------------------------------------------------


def stored_to_wire(row: Stored | None) -> list[Any] | None:
    """A row as a JSON array (its value as text), or ``None``."""
    if row is None:
        return None
    columns = list(row.columns())
    columns[1] = row.data.decode()
    return columns


def stored_from_wire(value: Any) -> Stored | None:
    """The row :func:`stored_to_wire` made."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 10:
        raise InvalidArgument("a row is an array of 10 fields")
    key, data, version, created, modified, by, ts, expires, owner, patch_bytes = value
    stored = _bytes(_typed(data, str, "a row's value"), "a row's value")
    assert stored is not None
    return Stored(
        _typed(key, str, "a row's key"),
        stored,
        _typed(version, int, "a row's version"),
        _typed(created, int, "a row's created_rev"),
        _typed(modified, int, "a row's modified_rev"),
        _typed(by, str, "a row's updated_by"),
        float(_number(ts, "a row's updated_ts") or 0.0),
        _number(expires, "a row's expires_ts", optional=True),
        _typed(owner, str, "a row's owner", optional=True),
        _typed(patch_bytes, int, "a row's patch_bytes"),
    )


# -- commits ---------------------------------------------------------------------


def _op_to_wire(op: Op) -> dict[str, Any]:
    reducer = None
    if op.reducer is not None:
        reducer = builtin_name(op.reducer)
        if reducer is None:
            name = getattr(op.reducer, "__name__", "reducer")
            raise InvalidArgument(f"only built-in reducers run in a remote commit, not {name}")
    return {
        "kind": op.kind,
        "key": op.key,
        "data": _text(op.data),
        "operand": _json_text(op.operand),
        "reducer": reducer,
        "cause": _json_text(op.cause),
        "label": op.label,
        "owner": op.owner,
        "logged_as": op.logged_as,
        "ttl": op.ttl,
        "fence": op.fence,
    }


def _op_from_wire(value: Any) -> Op:
    fields = _fields(value, "an op")
    kind = _typed(fields.get("kind"), str, "an op's kind")
    reducer = None
    name = _typed(fields.get("reducer"), str, "an op's reducer", optional=True)
    if kind == DISPATCH:
        reducer = BUILTINS.get(name or "")
        if reducer is None:
            raise errors.UnknownReducer(str(fields.get("key")), name or "")
    elif name is not None:
        raise InvalidArgument(f"a {kind} op takes no reducer")
    return Op(
        kind,
        _typed(fields.get("key"), str, "an op's key"),
        _bytes(fields.get("data"), "an op's data"),
        operand=_from_json_text(fields.get("operand", "null"), "an op's operand"),
        reducer=reducer,
        cause=_from_json_text(fields.get("cause", "null"), "an op's cause"),
        label=_typed(fields.get("label"), str, "an op's label", optional=True),
        owner=_typed(fields.get("owner"), bool, "an op's owner", optional=True),
        logged_as=_typed(fields.get("logged_as"), str, "an op's logged_as", optional=True),
        ttl=_number(fields.get("ttl"), "an op's ttl", optional=True),
        fence=_typed(fields.get("fence"), int, "an op's fence", optional=True),
    )


def _versions(value: Any, what: str) -> dict[str, int]:
    fields = _fields(value, what)
    return {str(key): _typed(number, int, f"{what} of {key!r}") for key, number in fields.items()}


def txn_to_wire(txn: Txn) -> dict[str, Any]:
    """A transaction as JSON (built-in reducers by name; others cannot travel)."""
    return {
        "agent": txn.agent,
        "ops": [_op_to_wire(op) for op in txn.ops],
        "expect": dict(txn.expect),
        "label": txn.label,
        "fences": dict(txn.fences),
        "unchanged_since": dict(txn.unchanged_since),
    }


def txn_from_wire(value: Any) -> Txn:
    """The transaction :func:`txn_to_wire` made (reducers resolved to built-ins)."""
    fields = _fields(value, "a transaction")
    ops = _typed(fields.get("ops"), list, "a transaction's ops")
    return Txn(
        _typed(fields.get("agent"), str, "a transaction's agent"),
        tuple(_op_from_wire(op) for op in ops),
        _versions(fields.get("expect", {}), "expect"),
        _typed(fields.get("label"), str, "a transaction's label", optional=True),
        _versions(fields.get("fences", {}), "fences"),
        _versions(fields.get("unchanged_since", {}), "unchanged_since"),
    )


def outcome_to_wire(plan: Plan | None, before: Mapping[str, Stored | None]) -> dict[str, Any]:
    """A commit's outcome: what it wrote (not its log rows) and the rows it read."""
    return {
        "plan": None
        if plan is None
        else {
            "revision": plan.revision,
            "timestamp": plan.timestamp,
            "agent": plan.agent,
            "writes": {key: stored_to_wire(row) for key, row in plan.writes.items()},
        },
        "before": {key: stored_to_wire(row) for key, row in before.items()},
    }


def _rows(value: Any, what: str) -> dict[str, Stored | None]:
    return {str(key): stored_from_wire(row) for key, row in _fields(value, what).items()}


def outcome_from_wire(value: Any) -> tuple[Plan | None, dict[str, Stored | None]]:
    """The outcome :func:`outcome_to_wire` made (a plan without log rows)."""
    fields = _fields(value, "a commit's outcome")
    before = _rows(fields.get("before", {}), "before")
    if fields.get("plan") is None:
        return None, before
    plan = _fields(fields["plan"], "a plan")
    return Plan(
        _typed(plan.get("revision"), int, "a plan's revision"),
        float(_number(plan.get("timestamp"), "a plan's timestamp") or 0.0),
        _typed(plan.get("agent"), str, "a plan's agent"),
        _rows(plan.get("writes", {}), "writes"),
        [],
    ), before


# -- the log ---------------------------------------------------------------------


Chain = list[tuple[str, bytes | None, bytes | None]]
"""A key's log rows as :meth:`~statehub.backends.base.Backend.chain` gives them."""


def chain_to_wire(chain: Iterable[tuple[str, bytes | None, bytes | None]]) -> list[list[Any]]:
    """A key's chain of log rows: ``[op, patch, value]`` each, as text."""
    return [[op, _text(patch), _text(value)] for op, patch, value in chain]


def chain_from_wire(value: Any) -> Chain:
    """The chain :func:`chain_to_wire` made."""
    if not isinstance(value, list) or not all(
        isinstance(row, list) and len(row) == 3 for row in value
    ):
        raise InvalidArgument("a chain is a list of [op, patch, value]")
    return [
        (_typed(op, str, "a chain's op"), _bytes(patch, "a patch"), _bytes(whole, "a value"))
        for op, patch, whole in value
    ]


def query_to_wire(query: ChangeQuery) -> dict[str, Any]:
    """A change query as JSON."""
    return asdict(query)


def query_from_wire(value: Any) -> ChangeQuery:
    """The query :func:`query_to_wire` made."""
    fields = _fields(value, "a change query")
    text = ("key", "prefix", "agent", "visible_to")
    numbers = ("since", "until", "limit")
    unknown = set(fields) - set(text) - set(numbers)
    if unknown:
        raise InvalidArgument(f"a change query has no field {sorted(unknown)[0]!r}")
    return ChangeQuery(
        **{name: _typed(fields.get(name), str, name, optional=True) for name in text},
        **{name: _typed(fields.get(name), int, name, optional=True) for name in numbers},
    )


def change_to_wire(change: Change) -> dict[str, Any]:
    """A change as JSON (its dataclass fields; its patch and cause as JSON text)."""
    fields = {name: getattr(change, name) for name in _CHANGE_FIELDS}
    fields["patch"] = _json_text(change.patch)
    fields["cause"] = _json_text(change.cause)
    return fields


def change_from_wire(value: Any) -> Change:
    """The change :func:`change_to_wire` made."""
    fields = dict(_fields(value, "a change"))
    fields["patch"] = _from_json_text(fields.get("patch"), "a change's patch")
    fields["cause"] = _from_json_text(fields.get("cause"), "a change's cause")
    try:
        return Change(**fields)
    except TypeError as exc:
        raise InvalidArgument(f"not a change: {exc}") from None


def raw_change_to_wire(row: RawChange) -> list[Any]:
    """A raw log row as JSON (its byte fields as text)."""
    *head, patch, value, cause = row
    return [*head, _text(patch), _text(value), _text(cause)]


def raw_change_from_wire(value: Any) -> RawChange:
    """The raw log row :func:`raw_change_to_wire` made."""
    if not isinstance(value, list) or len(value) != 11:
        raise InvalidArgument("a raw change is an array of 11 fields")
    revision, key, op, agent, ts, label, prev, version, patch, whole, cause = value
    return (
        _typed(revision, int, "revision"),
        _typed(key, str, "key"),
        _typed(op, str, "op"),
        _typed(agent, str, "agent"),
        float(_number(ts, "ts") or 0.0),
        _typed(label, str, "label", optional=True),
        _typed(prev, int, "prev_version"),
        _typed(version, int, "version"),
        _bytes(patch, "patch"),
        _bytes(whole, "value"),
        _bytes(cause, "cause"),
    )


def export_to_wire(export: Export) -> dict[str, Any]:
    """A parsed export as JSON, ready for another backend to load."""
    return {
        "hub": export.hub,
        "revision": export.revision,
        "oldest": export.oldest,
        "history": export.history,
        "entries": [stored_to_wire(row) for row in export.entries],
        "changes": [raw_change_to_wire(row) for row in export.changes],
    }


def export_from_wire(value: Any) -> Export:
    """The export :func:`export_to_wire` made."""
    fields = _fields(value, "an export")
    entries = [stored_from_wire(row) for row in _typed(fields.get("entries"), list, "entries")]
    return Export(
        _typed(fields.get("hub"), str, "hub"),
        _typed(fields.get("revision"), int, "revision"),
        _typed(fields.get("oldest"), int, "oldest"),
        _typed(fields.get("history"), bool, "history"),
        [row for row in entries if row is not None],
        [raw_change_from_wire(row) for row in _typed(fields.get("changes"), list, "changes")],
    )


# -- errors ----------------------------------------------------------------------

_ERRORS: dict[str, type[StatehubError]] = {
    name: kind
    for name in errors.__all__
    if isinstance(kind := getattr(errors, name), type) and issubclass(kind, StatehubError)
}


def error_from_wire(body: Any, fallback: Callable[[str], StatehubError]) -> StatehubError:
    """The statehub error a server answered with, rebuilt with its message and facts.

    An error type this release does not know becomes ``fallback(message)``.
    """
    fields = body.get("error") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        return fallback(f"the server answered without an error body: {body!r}"[:500])
    message = str(fields.get("message", ""))
    kind = _ERRORS.get(str(fields.get("type")))
    if kind is None:
        return fallback(f"{fields.get('type')}: {message}")
    exc = kind.__new__(kind)
    Exception.__init__(exc, message)
    facts = {name: value for name, value in fields.items() if name not in ("type", "message")}
    vars(exc).update(facts)
    if isinstance(exc, errors.LockedError):
        exc.expires_at = datetime.fromtimestamp(exc.expires_ts, UTC)
    return exc
