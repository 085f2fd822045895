"""Where statehub's time goes: cProfile of the hot paths, plus SQL-vs-Python split.

Run from the repository root::

    .venv/bin/python benchmarks/profile_hotspots.py            # every scenario
    .venv/bin/python benchmarks/profile_hotspots.py put memory # some of them

Scenarios: ``put`` (SQLite put, one commit each), ``memory`` (``memory://`` put),
``txn`` (1,000 puts in one transaction), ``append`` (``dispatch(..., reducer=
"append")`` on a list of ~1,500 items), ``split`` (time inside ``sqlite3`` calls vs
in Python per SQLite put, without the profiler's distortion), ``objects`` (the
cost of building the value objects a put creates), ``breakdown`` (where the
microseconds of one ``memory://`` put go, stage by stage, without a profiler).

cProfile inflates small Python functions; read its output for *where*, and the
``split`` and ``objects`` numbers for *how much*.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import importlib
import io
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import statehub

TOP = 18


def small_value(i: int) -> dict[str, Any]:
    return {"n": i, "by": "bench", "ok": True}


def profile(title: str, setup: Callable[[], Callable[[], None]]) -> None:
    """Profile the callable ``setup`` returns (setup itself is not profiled)."""
    work = setup()
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(work)
    elapsed = time.perf_counter() - start
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(TOP)
    print(f"== {title} (profiled wall time {elapsed:.3f} s)")
    lines = [line for line in text.getvalue().splitlines() if line.strip()]
    print("\n".join(lines[2:]))
    print()


def sqlite_hub(root: Path, name: str, sync: str = "normal") -> statehub.Hub:
    return statehub.open(f"sqlite:///{root / name}.db?sync={sync}")


def scenario_put(root: Path) -> None:
    def setup() -> Callable[[], None]:
        agent = sqlite_hub(root, "put").agent("bench")
        for i in range(300):
            agent.put(f"global/k{i % 100}", small_value(i))

        def work() -> None:
            for i in range(5000):
                agent.put(f"global/k{i % 100}", small_value(i))

        return work

    profile("SQLite put x 5,000 (sync=NORMAL, 100 keys)", setup)


def scenario_memory(root: Path) -> None:
    def setup() -> Callable[[], None]:
        agent = statehub.open("memory://").agent("bench")

        def work() -> None:
            for i in range(50_000):
                agent.put(f"global/k{i % 100}", small_value(i))

        return work

    profile("memory:// put x 50,000", setup)


def scenario_txn(root: Path) -> None:
    def setup() -> Callable[[], None]:
        agent = sqlite_hub(root, "txn").agent("bench")
        items = [(f"global/t{i}", small_value(i)) for i in range(1000)]

        def work() -> None:
            with agent.transaction() as tx:
                for key, value in items:
                    tx.put(key, value)

        return work

    profile("1,000 puts in one transaction (fresh keys)", setup)


def scenario_append(root: Path) -> None:
    def setup() -> Callable[[], None]:
        agent = sqlite_hub(root, "append").agent("bench")
        message = "m" * 200
        for _ in range(1500):
            agent.dispatch("global/log", message, reducer="append")

        def work() -> None:
            for _ in range(200):
                agent.dispatch("global/log", message, reducer="append")

        return work

    profile("append dispatch x 200 on a list of ~1,500 x 200 B", setup)


class _TimedConnection(sqlite3.Connection):
    """A connection that adds the time spent in ``execute``/``executemany`` to a total."""

    spent = 0.0
    calls = 0

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        start = time.perf_counter()
        try:
            return super().execute(sql, parameters)
        finally:
            _TimedConnection.spent += time.perf_counter() - start
            _TimedConnection.calls += 1

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        start = time.perf_counter()
        try:
            return super().executemany(sql, parameters)
        finally:
            _TimedConnection.spent += time.perf_counter() - start
            _TimedConnection.calls += 1


def scenario_split(root: Path) -> None:
    """Per SQLite put: microseconds inside sqlite3 calls, and in Python around them."""
    real_connect = sqlite3.connect

    def timed_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs["factory"] = _TimedConnection
        return cast(sqlite3.Connection, real_connect(*args, **kwargs))

    count = 5000
    totals: list[float] = []
    in_sql: list[float] = []
    calls: list[float] = []
    # statehub calls sqlite3.connect(...) through the module attribute.
    sqlite3.connect = timed_connect  # type: ignore[assignment]
    try:
        for repeat in range(5):
            with statehub.open(f"sqlite:///{root / f'split{repeat}.db'}") as hub:
                agent = hub.agent("bench")
                for i in range(200):
                    agent.put(f"global/k{i % 100}", small_value(i))
                _TimedConnection.spent, _TimedConnection.calls = 0.0, 0
                start = time.perf_counter()
                for i in range(count):
                    agent.put(f"global/k{i % 100}", small_value(i))
                totals.append((time.perf_counter() - start) / count * 1e6)
                in_sql.append(_TimedConnection.spent / count * 1e6)
                calls.append(_TimedConnection.calls / count)
    finally:
        sqlite3.connect = real_connect
    total, sql = statistics.median(totals), statistics.median(in_sql)
    print("== SQL vs Python per SQLite put (medians of 5 x 5,000 puts; includes ~0.3 us/call")
    print("   of timing wrapper)")
    print(f"   total {total:.1f} us, inside sqlite3 {sql:.1f} us, Python {total - sql:.1f} us, ")
    print(f"   sqlite3 calls per put {statistics.median(calls):.1f}")
    print()


@dataclass(frozen=True, slots=True)
class _Frozen10:
    a: Any
    b: Any
    c: Any
    d: Any
    e: Any
    f: Any
    g: Any
    h: Any
    i: Any
    j: Any


@dataclass(slots=True)
class _Slots10:
    a: Any
    b: Any
    c: Any
    d: Any
    e: Any
    f: Any
    g: Any
    h: Any
    i: Any
    j: Any


def _per_call(make: Callable[[], object], number: int = 200_000) -> float:
    return min(timeit.repeat(make, number=number, repeat=5)) / number * 1e6


def scenario_objects(root: Path) -> None:
    """What building the objects of one put costs: frozen dataclasses are slow to build."""
    print("== object construction, us per object (best of 5)")
    ten = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("frozen slots dataclass, 10 fields", lambda: _Frozen10(*ten)),
        ("slots dataclass (not frozen), 10 fields", lambda: _Slots10(*ten)),
        ("tuple, 10 items", lambda: tuple(ten)),
    ]
    for module_name, class_name in _STATEHUB_CLASSES:
        module = importlib.import_module(module_name)
        cls: Any = getattr(module, class_name, None)
        if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
            continue
        arity = sum(
            1
            for f in dataclasses.fields(cls)
            if f.init and f.default is MISSING and f.default_factory is MISSING
        )
        frozen = bool(vars(cls)["__dataclass_params__"].frozen)
        args = (None,) * arity
        label = f"{module_name}.{class_name} ({'frozen' if frozen else 'not frozen'})"
        cases.append((label, partial(cls, *args)))
    for name, make in cases:
        print(f"   {name:45s} {_per_call(make):5.2f}")
    print()


def _best_us(work: Callable[[], object], number: int = 20_000) -> float:
    """Microseconds per call of ``work``: the best of 7 runs (the least disturbed)."""
    return min(timeit.repeat(work, number=number, repeat=7)) / number * 1e6


def scenario_breakdown(root: Path) -> None:
    """One ``memory://`` put of an existing key, stage by stage (best of 7, us per call).

    Each stage is timed alone on prepared inputs; the glue between stages (calls,
    argument passing) is what the whole put costs beyond their sum.
    """
    from statehub.txn import Txn, plan_commit, plan_with_expiry

    hub = statehub.open("memory://")
    agent = hub.agent("bench")
    backend: Any = hub.backend
    key, value = "global/k1", small_value(1)
    agent.put(key, value)
    writes = agent._writes
    op = writes.put(key, value, None, None, None)
    txn = Txn(agent.name, (op,))
    before = {name: backend.load(name) for name in txn.keys}
    head, limit = hub.revision, hub.max_value_bytes
    plan = plan_commit(txn, before, head + 1, time.time(), limit)
    assert plan is not None
    stages: list[tuple[str, float]] = [
        ("agent.put, whole call", _best_us(lambda: agent.put(key, value))),
        (
            "  Writes.put: argument and key checks, encode, Op",
            _best_us(lambda: writes.put(key, value, None, None, None)),
        ),
        (
            "    of which encode (orjson dumps, loads, ==)",
            _best_us(lambda: statehub.codec.encode(key, value, limit)),
        ),
        ("  Txn(...)", _best_us(lambda: Txn(agent.name, (op,)))),
        ("  backend.commit(txn)", _best_us(lambda: backend.commit(txn, limit))),
        ("    txn.keys", _best_us(lambda: txn.keys)),
        (
            "    plan_with_expiry (expiry check + plan_commit)",
            _best_us(lambda: plan_with_expiry(txn, before, head, time.time(), limit)),
        ),
        (
            "      plan_commit",
            _best_us(lambda: plan_commit(txn, before, head + 1, time.time(), limit)),
        ),
        ("    _persist (rows, log tuple)", _best_us(lambda: backend._persist(plan))),
        (
            "  plan.entry (the Entry and its replaced Entry)",
            _best_us(lambda: plan.entry(key, before[key])),
        ),
    ]
    print("== memory:// put, stage by stage (us per call, best of 7 x 20,000)")
    for name, micros in stages:
        print(f"   {name:52s} {micros:5.2f}")
    print()


_STATEHUB_CLASSES = (
    ("statehub.model", "Entry"),
    ("statehub.txn", "Op"),
    ("statehub.txn", "Txn"),
    ("statehub.txn", "Stored"),
    ("statehub.txn", "LogRow"),
    ("statehub.txn", "Plan"),
)
"""Value classes a put builds (each one once or twice per put); missing ones are skipped."""


SCENARIOS: dict[str, Callable[[Path], None]] = {
    "put": scenario_put,
    "memory": scenario_memory,
    "txn": scenario_txn,
    "append": scenario_append,
    "split": scenario_split,
    "objects": scenario_objects,
    "breakdown": scenario_breakdown,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="profile statehub's hot paths")
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    chosen: list[str] = args.scenarios or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    print(f"statehub from {Path(statehub.__file__).resolve().parent}")
    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}\n")
    with tempfile.TemporaryDirectory(prefix="statehub-profile-") as tmp:
        for name in chosen:
            SCENARIOS[name](Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
