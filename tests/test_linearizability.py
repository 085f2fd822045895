"""Linearizability: the checker's own tests, then real histories of real processes.

The checker (:mod:`statehub.testing.linearizability`) is tested first on histories
written by hand, ones it must accept and ones it must reject, and on histories made
by a simulated correct register. Then several spawned processes, each a client that
records the invocation and return time (``time.monotonic_ns()``, one clock for every
process on Linux) of every ``get``, ``put``, compare-and-set and ``update`` it makes
on a few shared keys, run against SQLite and PostgreSQL, and the merged history must
be linearizable. A deliberately broken client (reads served from a stale cache) run
through the same harness must be caught, so a pass means something.
"""

from __future__ import annotations

import itertools
import random
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statehub
from statehub.errors import ConflictError
from statehub.testing.linearizability import (
    Operation,
    RegisterModel,
    SearchTooLong,
    append_token,
    check,
    check_history,
    encode,
)
from statehub.testing.processes import describe, run_together
from tests.conftest import postgres_url

# --------------------------------------------------------------------------- hand-written histories

K = "global/k"
A, B = ["a"], ["b"]


def op(
    process: int,
    kind: str,
    input_: Any,
    output: Any,
    invoked: int,
    returned: int | None,
    key: str = K,
) -> Operation:
    """An operation, times in arbitrary units (only their order matters)."""
    return Operation(process, key, kind, input_, output, invoked, returned)


def put(process: int, value: Any, new: int, replaced: Any, at: tuple[int, int | None]) -> Operation:
    """A put of ``value`` that reported version ``new`` and replaced ``(value, version)``."""
    old_value, old_version = replaced
    output = (new, None if old_value is None else encode(old_value), old_version)
    return op(process, "put", value, None if at[1] is None else output, *at)


def get(process: int, value: Any, version: int, at: tuple[int, int]) -> Operation:
    """A get that saw ``value`` at ``version`` (``None``, 0: absent)."""
    return op(process, "get", None, (None if version == 0 else encode(value), version), *at)


def cas(process: int, expected: int, value: Any, output: Any, at: tuple[int, int]) -> Operation:
    """A put with ``expect_version=expected`` that saw ``output``."""
    return op(process, "cas", (expected, value), output, *at)


def update(process: int, token: str, value: Any, version: int, at: tuple[int, int]) -> Operation:
    """An update appending ``token`` that returned ``value`` at ``version``."""
    return op(process, "update", token, (encode(value), version), *at)


ACCEPTED: dict[str, list[Operation]] = {
    "sequential put then get": [put(0, A, 1, (None, 0), (0, 10)), get(1, A, 1, (20, 30))],
    "overlapping puts, first invoked wins first": [
        put(0, A, 1, (None, 0), (0, 100)),
        put(1, B, 2, (A, 1), (10, 90)),
        get(2, B, 2, (110, 120)),
    ],
    "overlapping puts, ordered the other way": [
        put(0, A, 2, (B, 1), (0, 100)),
        put(1, B, 1, (None, 0), (10, 90)),
        get(2, A, 2, (110, 120)),
    ],
    "read overlapping a put sees the old value": [
        put(0, A, 1, (None, 0), (0, 100)),
        get(1, None, 0, (10, 20)),
    ],
    "read overlapping a put sees the new value": [
        put(0, A, 1, (None, 0), (0, 100)),
        get(1, A, 1, (10, 20)),
    ],
    "cas conflict reports the version it found": [
        put(0, A, 1, (None, 0), (0, 10)),
        cas(1, 0, B, ("conflict", 1), (20, 30)),
        get(1, A, 1, (40, 50)),
    ],
    "cas on the version read succeeds": [
        put(0, A, 1, (None, 0), (0, 10)),
        cas(1, 1, B, ("ok", 2), (20, 30)),
        get(0, B, 2, (40, 50)),
    ],
    "concurrent cas: one wins, the other conflicts": [
        put(0, A, 1, (None, 0), (0, 10)),
        cas(1, 1, B, ("conflict", 2), (20, 60)),
        cas(2, 1, ["c"], ("ok", 2), (25, 50)),
        get(0, ["c"], 2, (70, 80)),
    ],
    "updates never lose one another": [
        update(0, "x", ["x"], 1, (0, 50)),
        update(1, "y", ["x", "y"], 2, (10, 60)),
        get(2, ["x", "y"], 2, (70, 80)),
    ],
    "a put with unknown outcome took effect": [
        put(0, A, 1, (None, 0), (0, None)),
        get(1, A, 1, (20, 30)),
    ],
    "a put with unknown outcome never took effect": [
        put(0, A, 1, (None, 0), (0, None)),
        get(1, None, 0, (20, 30)),
    ],
    "delete then create again starts at version 1": [
        put(0, A, 1, (None, 0), (0, 10)),
        op(0, "delete", None, 1, 20, 30),
        put(1, B, 1, (None, 0), (40, 50)),
        get(1, B, 1, (60, 70)),
    ],
    "calls and returns at the same instant overlap": [
        put(0, A, 1, (None, 0), (0, 10)),
        get(1, None, 0, (10, 20)),
    ],
}

REJECTED: dict[str, list[Operation]] = {
    "stale read after a completed write": [
        put(0, A, 1, (None, 0), (0, 10)),
        get(1, None, 0, (20, 30)),
    ],
    "read goes back in time (new value, then old)": [
        put(0, A, 1, (None, 0), (0, 100)),
        get(1, A, 1, (10, 20)),
        get(2, None, 0, (30, 40)),
    ],
    "lost update: two updates both made version 1": [
        update(0, "x", ["x"], 1, (0, 50)),
        update(1, "y", ["y"], 1, (10, 60)),
    ],
    "lost update: the second update overwrote the first": [
        update(0, "x", ["x"], 1, (0, 10)),
        update(1, "y", ["y"], 2, (20, 30)),
    ],
    "cas success on a wrong version": [
        put(0, A, 1, (None, 0), (0, 10)),
        cas(1, 0, B, ("ok", 1), (20, 30)),
    ],
    "cas success on a version that never existed": [
        put(0, A, 1, (None, 0), (0, 10)),
        cas(1, 5, B, ("ok", 6), (20, 30)),
    ],
    "both concurrent cas on one version succeed": [
        put(0, A, 1, (None, 0), (0, 10)),
        cas(1, 1, B, ("ok", 2), (20, 60)),
        cas(2, 1, ["c"], ("ok", 2), (25, 50)),
    ],
    "cas conflict reporting a wrong version": [
        put(0, A, 1, (None, 0), (0, 10)),
        cas(1, 0, B, ("conflict", 0), (20, 30)),
    ],
    "put says it replaced nothing after a completed put": [
        put(0, A, 1, (None, 0), (0, 10)),
        put(1, B, 1, (None, 0), (20, 30)),
    ],
    "a read of a value nobody wrote": [
        put(0, A, 1, (None, 0), (0, 10)),
        get(1, B, 1, (20, 30)),
    ],
    "an unknown-outcome write seen before it was invoked": [
        get(1, A, 1, (0, 10)),
        put(0, A, 1, (None, 0), (20, None)),
    ],
    "a read of a deleted key": [
        put(0, A, 1, (None, 0), (0, 10)),
        op(0, "delete", None, 1, 20, 30),
        get(1, A, 1, (40, 50)),
    ],
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_checker_accepts_linearizable_history(name: str) -> None:
    result = check(ACCEPTED[name])
    assert result.ok, result.explain()


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_checker_rejects_non_linearizable_history(name: str) -> None:
    result = check(REJECTED[name])
    assert not result.ok
    assert result.stuck is not None
    assert "not linearizable" in result.explain()


def test_checker_names_the_failing_key_and_ignores_other_keys() -> None:
    bad = REJECTED["stale read after a completed write"]
    # The same stale read on another key is fine: that key was never written.
    other = [op(2, "get", None, (None, 0), 20, 30, key="global/other")]
    result = check_history([*bad, *other])
    assert not result.ok
    assert result.key == K
    assert check_history([*ACCEPTED["sequential put then get"], *other]).ok


def test_check_history_counts_operations_per_key() -> None:
    history = [
        *ACCEPTED["sequential put then get"],
        op(2, "get", None, (None, 0), 0, 1, "global/x"),
    ]
    result = check_history(history)
    assert result.ok
    assert result.per_key == {"global/k": 2, "global/x": 1}


def test_search_budget_raises_instead_of_running_forever() -> None:
    with pytest.raises(SearchTooLong):
        check(ACCEPTED["overlapping puts, ordered the other way"], max_steps=2)


def test_operation_returning_before_its_invocation_is_refused() -> None:
    with pytest.raises(ValueError, match="returns before"):
        check([get(0, None, 0, (10, 5))])


# --------------------------------------------------------------------------- simulated histories


def simulate(seed: int, clients: int, per_client: int, keys: int) -> list[Operation]:
    """A history of a correct register: each op takes effect at a random instant inside
    its own interval, in that order, so the result is linearizable by construction."""
    rng = random.Random(seed)
    planned: list[tuple[int, int, int, int, str, Any]] = []
    for client in range(clients):
        clock = rng.randrange(10)
        for n in range(per_client):
            start = clock + rng.randrange(5)
            end = start + 1 + rng.randrange(40)
            point = rng.randrange(start, end)
            key = f"global/k{rng.randrange(keys)}"
            kind = rng.choice(["get", "put", "cas", "update", "delete"])
            planned.append((point, start, end, client, key, (kind, f"c{client}-{n}")))
            clock = end + 1
    state: dict[str, tuple[bytes | None, int]] = {}
    ops: list[Operation] = []
    for point, start, end, client, key, (kind, token) in sorted(planned):
        value, version = state.get(key, (None, 0))
        if kind == "get":
            output: Any = (value, version)
            input_: Any = None
        elif kind == "put":
            input_, output = [token], (version + 1, value, version)
            value, version = encode(input_), version + 1
        elif kind == "cas":
            expected = version if rng.random() < 0.5 else rng.randrange(3)
            input_ = (expected, [token])
            if expected == version:
                output = ("ok", version + 1)
                value, version = encode([token]), version + 1
            else:
                output = ("conflict", version)
        elif kind == "update":
            input_ = token
            current = None if value is None else orjson.loads(value)
            value, version = encode(append_token(current, token)), version + 1
            output = (value, version)
        else:
            input_, output = None, version
            value, version = None, 0
        state[key] = (value, version)
        ops.append(Operation(client, key, kind, input_, output, start, end))
        assert point < end
    return ops


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), clients=st.integers(1, 5), per_client=st.integers(1, 12))
def test_checker_accepts_any_history_of_a_correct_register(
    seed: int, clients: int, per_client: int
) -> None:
    result = check_history(simulate(seed, clients, per_client, keys=2))
    assert result.ok, result.explain()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), victim=st.integers(0, 10**6))
def test_checker_rejects_a_read_that_saw_a_value_never_written(seed: int, victim: int) -> None:
    history = simulate(seed, 4, 8, keys=1)
    reads = [i for i, o in enumerate(history) if o.kind == "get"]
    if not reads:
        history.append(Operation(9, "global/k0", "get", None, None, 0, 1))
        reads = [len(history) - 1]
    index = reads[victim % len(reads)]
    history[index] = Operation(
        history[index].process,
        history[index].key,
        "get",
        None,
        (encode(["forged"]), 1),
        history[index].invoked,
        history[index].returned,
    )
    assert not check_history(history).ok


def test_checker_handles_a_few_hundred_concurrent_operations_quickly() -> None:
    history = simulate(seed=7, clients=8, per_client=50, keys=3)
    started = time.monotonic()
    result = check_history(history, max_steps=200_000)
    assert result.ok, result.explain()
    assert result.operations == 400
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------- recording real clients

PROCESSES = 4
OPS_PER_CLIENT = 150
KEYS = [f"global/lin/k{i}" for i in range(3)]
BARRIER_TIMEOUT = 60.0
RUN_TIMEOUT = 120.0

KINDS, WEIGHTS = ["get", "put", "cas", "update", "delete"], [35, 20, 25, 15, 5]
"""The operations the clients draw, and how often."""

Report = tuple[int, list[Operation], list[str]]
"""What a client sends back: its index, its history, the unexpected errors it saw."""


class RecordingClient:
    """Does random operations through an agent and records each with its timing.

    With ``stale_reads`` it is a deliberately broken client: a ``get`` answers from a
    cache filled by its first read of the key (and by its own writes), never from the
    store again. Run through the same harness, the checker must reject its history.
    """

    def __init__(
        self,
        index: int,
        agent: statehub.Agent,
        *,
        stale_reads: bool = False,
    ) -> None:
        self.index = index
        self.agent = agent
        self.stale_reads = stale_reads
        self.cache: dict[str, tuple[bytes | None, int]] = {}
        self.seen: dict[str, int] = {}
        self.errors: list[str] = []

    def run(self, rng: random.Random, count: int) -> list[Operation]:
        """Do ``count`` random operations on random keys; their history."""
        history: list[Operation] = []
        for n in range(count):
            key = rng.choice(KEYS)
            kind = rng.choices(KINDS, WEIGHTS)[0]
            history.append(self.one(rng, key, kind, f"p{self.index}-{n}"))
        return history

    def one(self, rng: random.Random, key: str, kind: str, token: str) -> Operation:
        """Do one operation of ``kind`` and record it (unknown outcome if it raised)."""
        input_: Any = {"get": None, "put": [token], "update": token, "delete": None}.get(kind)
        if kind == "cas":
            seen = self.seen.get(key, 0)
            input_ = (seen if rng.random() < 0.8 else rng.choice([0, seen + 1]), [token])
        invoked = time.monotonic_ns()
        try:
            output = self._do(key, kind, input_)
        except Exception as exc:
            self.errors.append(describe(exc))
            return Operation(self.index, key, kind, input_, None, invoked, None)
        return Operation(self.index, key, kind, input_, output, invoked, time.monotonic_ns())

    def _do(self, key: str, kind: str, input_: Any) -> Any:
        agent = self.agent
        if kind == "get":
            if self.stale_reads and key in self.cache:
                return self.cache[key]
            entry = agent.entry(key)
            return self._saw(key, None if entry is None else encode(entry.value), entry)
        if kind == "put":
            entry = agent.put(key, input_)
            self._saw(key, encode(entry.value), entry)
            old = entry.replaced
            return (
                (entry.version, None, 0)
                if old is None
                else (entry.version, encode(old.value), old.version)
            )
        if kind == "cas":
            expected, value = input_
            try:
                entry = agent.put(key, value, expect_version=expected)
            except ConflictError as exc:
                self.seen[key] = exc.actual
                return ("conflict", exc.actual)
            self._saw(key, encode(entry.value), entry)
            return ("ok", entry.version)
        if kind == "update":
            entry = agent.update(key, lambda value: append_token(value, input_))
            return self._saw(key, encode(entry.value), entry)
        deleted = agent.delete(key)
        self._saw(key, None, None)
        return 0 if deleted is None else deleted.version

    def _saw(
        self, key: str, value: bytes | None, entry: statehub.Entry | None
    ) -> tuple[bytes | None, int]:
        version = 0 if entry is None else entry.version
        self.seen[key] = version
        self.cache[key] = (value, version)
        return (value, version)


def _client(
    index: int,
    url: str,
    seed: int,
    options: dict[str, Any],
    barrier: Barrier,
    reports: Queue[Report],
) -> None:
    """One client process: open the hub, wait for the others, run, report."""
    history: list[Operation] = []
    errors: list[str] = []
    try:
        with statehub.open(url) as hub:
            client = RecordingClient(index, hub.agent(f"p{index}"), **options)
            barrier.wait(BARRIER_TIMEOUT)
            history = client.run(random.Random(seed * 1000 + index), OPS_PER_CLIENT)
            errors = client.errors
    except BaseException as exc:
        errors.append(describe(exc))
    reports.put((index, history, errors))


def record_processes(url: str, seed: int, **options: Any) -> list[Report]:
    """Run PROCESSES spawned clients on ``url`` at once; their reports, by index.

    ``options`` go to each :class:`RecordingClient` (``stale_reads``).
    """
    statehub.open(url).close()  # the schema in place before the clients race to it
    received = run_together(_client, PROCESSES, url, seed, options, timeout=RUN_TIMEOUT).reports
    assert len(received) == PROCESSES, f"{len(received)} of {PROCESSES} clients reported"
    return sorted(received, key=lambda report: report[0])


def record_threads(hub: statehub.Hub, seed: int) -> list[Report]:
    """The same clients as threads sharing one hub (for the in-process memory backend)."""
    barrier = threading.Barrier(PROCESSES)
    reports: list[Report] = []

    def run(index: int) -> None:
        client = RecordingClient(index, hub.agent(f"p{index}"))
        barrier.wait(BARRIER_TIMEOUT)
        history = client.run(random.Random(seed * 1000 + index), OPS_PER_CLIENT)
        reports.append((index, history, client.errors))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(PROCESSES)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # else one thread runs all its (short) operations at once
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(RUN_TIMEOUT)
    finally:
        sys.setswitchinterval(interval)
    return sorted(reports, key=lambda report: report[0])


def _merged(reports: list[Report]) -> list[Operation]:
    errors = {index: errs for index, _, errs in reports if errs}
    assert not errors, f"clients saw unexpected errors: {errors}"
    history = [op for _, ops, _ in reports for op in ops]
    assert len(history) == PROCESSES * OPS_PER_CLIENT
    return history


def _assert_contended(history: list[Operation]) -> None:
    """The run exercised what it claims to: CAS both won and lost, ops overlapped."""
    outcomes = {o.output[0] for o in history if o.kind == "cas" and o.output is not None}
    assert outcomes == {"ok", "conflict"}
    spans = sorted((o.invoked, o.returned or o.invoked, o.process) for o in history)
    overlapping = sum(
        1 for (_, end, p), (start, _, q) in itertools.pairwise(spans) if start < end and p != q
    )
    assert overlapping > 0


RECORDERS: dict[str, Callable[[Path, int], list[Report]]] = {
    "memory": lambda tmp_path, seed: record_threads(statehub.open("memory://"), seed),
    "sqlite": lambda tmp_path, seed: record_processes(f"sqlite:///{tmp_path}/hub.db", seed),
    "postgres": lambda tmp_path, seed: record_processes(postgres_url(), seed),
}


@pytest.mark.parametrize("backend", sorted(RECORDERS))
def test_concurrent_clients_history_is_linearizable(backend: str, tmp_path: Path) -> None:
    history = _merged(RECORDERS[backend](tmp_path, 1))

    result = check_history(history, RegisterModel())

    assert result.ok, result.explain()
    if backend != "memory":  # threads under the GIL may well take turns, op by op
        _assert_contended(history)
    assert set(result.per_key) == set(KEYS)
    assert any(o.kind == "delete" and o.output for o in history), "no delete removed anything"


def test_stale_cache_client_is_caught_by_the_checker(tmp_path: Path) -> None:
    history = _merged(record_processes(f"sqlite:///{tmp_path}/hub.db", 2, stale_reads=True))

    result = check_history(history)

    assert not result.ok
    assert result.stuck is not None


# --------------------------------------------------------------------------- what the checker found


# Found by the checker: update() compared the version only, and a key deleted and
# created again is back at version 1 (ABA); it now compares the key's modified_rev.
@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_update_is_not_fooled_by_a_delete_and_recreate(backend: str, tmp_path: Path) -> None:
    urls = {
        "memory": "memory://",
        "sqlite": f"sqlite:///{tmp_path}/hub.db",
        "postgres": postgres_url(),
    }
    with statehub.open(urls[backend]) as hub:
        mine, other = hub.agent("mine"), hub.agent("other")
        mine.put(K, ["first"])
        calls: list[Any] = []

        def append_mine(value: Any) -> list[Any]:
            if not calls:  # between update's read and its commit, once:
                other.delete(K)
                other.put(K, ["theirs"])  # version 1 again
            calls.append(value)
            return append_token(value, "mine")

        entry = mine.update(K, append_mine)

        # Linearizable: fn saw the value it replaced, so "theirs" was not lost.
        assert entry.value == ["theirs", "mine"]
