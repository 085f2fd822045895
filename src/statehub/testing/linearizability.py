"""A linearizability checker (Wing & Gong's search, with Lowe's memoization).

A history is a list of :class:`Operation` records, each with the time its client
invoked it and the time the answer came back (``time.monotonic_ns()``: on Linux
``CLOCK_MONOTONIC`` is one clock for every process of the machine, so histories
recorded by several processes can be merged). The history is *linearizable* if every
operation can be given one instant between its invocation and its return such that
applying the operations one at a time, in the order of those instants, to a
sequential model gives exactly the results the clients saw.

:func:`check` searches for such an order the way Wing & Gong's algorithm does, with
the improvement of Lowe ("Testing for linearizability", 2017) that Porcupine and
Knossos also use: a state of the search is the set of operations linearized so far
plus the model's state, and a state seen once is never explored again. Operations
whose outcome is unknown (the client crashed or timed out: ``returned is None``) may
take effect at any instant after their invocation, or never.

:func:`check_history` splits a history by key first: linearizability is *local*
(Herlihy & Wing), so a history of independent registers is linearizable exactly when
each register's sub-history is, and each search stays small.

:class:`RegisterModel` is a versioned register (a statehub key): ``get``, ``put``
(last write wins, reporting the entry it replaced), ``cas`` (put with
``expect_version``), ``update`` (read-modify-write appending a token to a list) and
``delete``.

>>> history = [
...     Operation(0, "global/k", "put", ["a"], (1, None, 0), invoked=0, returned=10),
...     Operation(1, "global/k", "get", None, (encode(["a"]), 1), invoked=20, returned=30),
... ]
>>> check_history(history).ok
True
>>> stale = Operation(1, "global/k", "get", None, (None, 0), invoked=20, returned=30)
>>> check_history([history[0], stale]).ok
False
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

__all__ = [
    "DEFAULT_MAX_STEPS",
    "CheckResult",
    "Model",
    "Operation",
    "RegisterModel",
    "SearchTooLong",
    "append_token",
    "check",
    "check_history",
    "encode",
]

DEFAULT_MAX_STEPS = 2_000_000
"""The most search steps :func:`check` takes before giving up with :class:`SearchTooLong`."""


def encode(value: Any) -> bytes:
    """A JSON value in canonical form (sorted keys, as bytes), so it can be compared and hashed.

    In the register model ``None`` stands for "absent"; a present JSON ``null`` is
    ``b"null"``.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def append_token(value: Any, token: str) -> list[Any]:
    """The function ``update`` operations apply: append ``token`` to a list value.

    Anything that is not a list (an absent key included) counts as ``[]``.
    """
    return [*(value if isinstance(value, list) else []), token]


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation of a history: what was asked, what came back, and when.

    Attributes:
        process: the client that made it (a client does one operation at a time).
        key: the key (the register) it acted on.
        kind: ``get``, ``put``, ``cas``, ``update`` or ``delete``.
        input: ``put``: the value; ``cas``: ``(expected_version, value)``;
            ``update``: the token appended; ``get``, ``delete``: ``None``.
        output: what the client saw (``None`` when ``returned`` is ``None``).
            ``get``: ``(encoded value or None, version)``; ``put``:
            ``(new version, encoded replaced value or None, replaced version)``;
            ``cas``: ``("ok", new version)`` or ``("conflict", actual version)``;
            ``update``: ``(encoded new value, new version)``; ``delete``: the version
            deleted (0: the key was absent).
        invoked: when the client sent it, in ``time.monotonic_ns()``.
        returned: when the answer came back, or ``None`` if it never did (outcome
            unknown: it may have taken effect, or not).
    """

    process: int
    key: str
    kind: str
    input: Any
    output: Any
    invoked: int
    returned: int | None

    def __str__(self) -> str:
        span = f"{self.invoked}..{'?' if self.returned is None else self.returned}"
        return (
            f"p{self.process} {self.kind}({self.key}, {self.input!r}) -> {self.output!r} @ {span}"
        )


class Model(Protocol):
    """A sequential specification: an initial state and a deterministic step."""

    def initial(self) -> Hashable:
        """The state before any operation."""
        ...

    def step(self, state: Any, op: Operation) -> Hashable | None:
        """The state after ``op`` if ``op`` (with its output) is legal in ``state``, else None.

        For an operation with unknown outcome (``op.returned is None``) the output is
        not checked; ``None`` then means it cannot take effect here (it may still
        never take effect at all).
        """
        ...


RegisterState = tuple[bytes | None, int]
"""The register model's state: (encoded value, or None when absent; version, 0 when absent)."""


class RegisterModel:
    """A statehub key as a sequential register with versions (see the module docstring)."""

    def initial(self) -> RegisterState:
        """An absent key: no value, version 0."""
        return (None, 0)

    def step(self, state: RegisterState, op: Operation) -> RegisterState | None:
        """Apply ``op`` to ``state`` if what its client saw is consistent with it."""
        value, version = state
        known = op.returned is not None
        if op.kind == "get":
            return state if not known or op.output == state else None
        if op.kind == "put":
            if known and op.output != (version + 1, value, version):
                return None
            return (encode(op.input), version + 1)
        if op.kind == "cas":
            expected, new_value = op.input
            applies = version == expected
            if not known:
                return (encode(new_value), version + 1) if applies else None
            outcome, reported = op.output
            if outcome == "ok":
                ok = applies and reported == version + 1
                return (encode(new_value), version + 1) if ok else None
            return state if not applies and reported == version else None
        if op.kind == "update":
            current = None if value is None else orjson.loads(value)
            after = (encode(append_token(current, op.input)), version + 1)
            return after if not known or op.output == after else None
        if op.kind == "delete":
            if known and op.output != version:
                return None
            return (None, 0)
        raise ValueError(f"unknown operation kind {op.kind!r}")


class SearchTooLong(Exception):
    """The search took more than its step budget: the history is too big or too concurrent."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What :func:`check` found.

    Attributes:
        ok: whether the history is linearizable.
        operations: how many operations were checked.
        steps: how many search steps it took.
        linearized: on failure, the longest order of operations found that explains
            the history so far (the best partial linearization).
        stuck: on failure, an operation that had returned before any remaining one
            could be placed, with no legal instant left for it.
        key: the key whose sub-history failed (:func:`check_history`), if any.
    """

    ok: bool
    operations: int
    steps: int
    linearized: tuple[Operation, ...] = ()
    stuck: Operation | None = None
    key: str | None = None
    per_key: dict[str, int] = field(default_factory=dict)

    def explain(self) -> str:
        """A report for a failed check: the partial linearization and where it stuck."""
        if self.ok:
            return f"linearizable ({self.operations} operations, {self.steps} steps)"
        lines = [
            f"not linearizable{'' if self.key is None else f' on {self.key!r}'}: "
            f"the longest explanation places {len(self.linearized)} of {self.operations} "
            "operations, in this order:"
        ]
        lines.extend(f"  {op}" for op in self.linearized[-20:])
        lines.append(f"and then no legal place is left for: {self.stuck}")
        return "\n".join(lines)


class _Node:
    """An event of the history, in a doubly linked list (so it can be lifted out)."""

    __slots__ = ("call", "index", "match", "next", "prev")

    def __init__(self, index: int, call: bool) -> None:
        self.index = index
        self.call = call
        self.match: _Node | None = None
        self.prev: _Node | None = None
        self.next: _Node | None = None


def _unlink(node: _Node) -> None:
    assert node.prev is not None
    node.prev.next = node.next
    if node.next is not None:
        node.next.prev = node.prev


def _relink(node: _Node) -> None:
    assert node.prev is not None
    node.prev.next = node
    if node.next is not None:
        node.next.prev = node


def _events(history: Sequence[Operation]) -> _Node:
    """The list of call and return events in time order, behind a head sentinel.

    At equal times calls come first: the operations then overlap, which only ever
    allows more orders (a tie never makes a correct history fail).
    """
    order: list[tuple[int, int, int]] = []
    for index, op in enumerate(history):
        order.append((op.invoked, 0, index))
        if op.returned is not None:
            if op.returned < op.invoked:
                raise ValueError(f"operation returns before it is invoked: {op}")
            order.append((op.returned, 1, index))
    order.sort()
    head = _Node(-1, False)
    calls: dict[int, _Node] = {}
    last = head
    for _, kind, index in order:
        node = _Node(index, kind == 0)
        if kind == 0:
            calls[index] = node
        else:
            calls[index].match = node
        node.prev, last.next = last, node
        last = node
    return head


def check(
    history: Sequence[Operation],
    model: Model | None = None,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> CheckResult:
    """Tell whether ``history`` is linearizable with respect to ``model``.

    Args:
        history: the operations, in any order.
        model: the sequential specification (default: :class:`RegisterModel`).
        max_steps: the search budget.

    Raises:
        SearchTooLong: the search needed more than ``max_steps`` steps.
    """
    spec: Model = RegisterModel() if model is None else model
    # An unanswered read changed nothing and told nobody anything: leave it out.
    ops = [op for op in history if not (op.kind == "get" and op.returned is None)]
    head = _events(ops)
    pending = sum(1 for op in ops if op.returned is not None)
    state: Any = spec.initial()
    linearized = 0
    seen: set[tuple[int, Any]] = set()
    stack: list[tuple[_Node, Any]] = []
    best: tuple[tuple[Operation, ...], Operation | None] = ((), None)
    steps = 0
    node = head.next
    while pending:
        steps += 1
        if steps > max_steps:
            raise SearchTooLong(f"no answer after {max_steps} steps ({len(ops)} operations)")
        assert node is not None  # a return event is always left while pending > 0
        if node.call:
            op = ops[node.index]
            after = spec.step(state, op)
            if after is not None:
                marked = linearized | (1 << node.index)
                if (marked, after) not in seen:
                    seen.add((marked, after))
                    stack.append((node, state))
                    state, linearized = after, marked
                    _unlink(node)
                    if node.match is not None:
                        _unlink(node.match)
                        pending -= 1
                    node = head.next
                    continue
            node = node.next
            continue
        # A return whose call is still in the list: that operation has no legal
        # instant before now, given the choices made so far. Undo the last choice.
        if best[1] is None or len(stack) > len(best[0]):
            best = (tuple(ops[call.index] for call, _ in stack), ops[node.index])
        if not stack:
            return CheckResult(False, len(ops), steps, best[0], best[1])
        call, state = stack.pop()
        linearized &= ~(1 << call.index)
        if call.match is not None:
            _relink(call.match)
            pending += 1
        _relink(call)
        node = call.next
    return CheckResult(True, len(ops), steps)


def check_history(
    history: Iterable[Operation],
    model: Model | None = None,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> CheckResult:
    """Check each key's sub-history on its own (linearizability is local).

    Returns the first failing key's result (its ``key`` set), else a combined success
    whose ``per_key`` counts each key's operations.

    Raises:
        SearchTooLong: one key's search needed more than ``max_steps`` steps.
    """
    by_key: dict[str, list[Operation]] = defaultdict(list)
    for op in history:
        by_key[op.key].append(op)
    steps = 0
    for key in sorted(by_key):
        result = check(by_key[key], model, max_steps=max_steps)
        if not result.ok:
            return CheckResult(
                False, result.operations, result.steps, result.linearized, result.stuck, key
            )
        steps += result.steps
    counts = {key: len(ops) for key, ops in sorted(by_key.items())}
    return CheckResult(True, sum(counts.values()), steps, per_key=counts)
