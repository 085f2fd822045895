"""LangGraph checkpointers on one workload: StatehubSaver against LangGraph's and a peer's.

Run from the repository root::

    .venv/bin/python benchmarks/langgraph_bench.py            # 1,000 invocations, 3 repeats
    .venv/bin/python benchmarks/langgraph_bench.py --quick    # 200 invocations, 1 repeat

The workload (the issue's): a 1-node graph whose state is a ``messages`` list with an
``operator.add`` reducer, invoked N times on one thread; each invocation appends one
200-byte message, ``"x" * 200`` (3 checkpoints and 2 ``put_writes`` per invocation).
statehub packs large log payloads (DEFLATE), so one more StatehubSaver run appends
200 characters of random base64 instead, the worst case for its bytes on disk. A
saver that stores nothing measures LangGraph's own cost: no saver can be faster.
Measured per saver, each run in a fresh process and on a fresh file or database:

* invocations/s (checkpoints/s is 3x that), the median over the repeats;
* bytes on disk at the end: the SQLite file plus its WAL after
  ``wal_checkpoint(TRUNCATE)``, or what the run added to a fresh PostgreSQL database;
* the durability of each side: SQLite ``synchronous`` FULL survives power loss, NORMAL
  (in WAL mode) survives any process crash; PostgreSQL ``synchronous_commit=on``.

Sides: ``SqliteSaver`` (FULL, its default; and NORMAL), ``StatehubSaver`` on SQLite
(``sync=full`` and ``sync=normal``), swarmstate's ``SwarmStateSaver`` on its
``DiskStore`` (NORMAL, fixed) where it installs, ``PostgresSaver`` and
``StatehubSaver`` on PostgreSQL (``STATEHUB_TEST_POSTGRES``'s server).
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import operator
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

POSTGRES = os.environ.get("STATEHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class Messages(TypedDict):
    messages: Annotated[list[str], operator.add]


def node(state: Messages) -> dict[str, list[str]]:
    return {"messages": ["x" * 200]}


_NOISE = random.Random(7)


def random_node(state: Messages) -> dict[str, list[str]]:
    """Appends 200 characters of random base64: a message no compressor can shrink much."""
    return {"messages": [base64.b64encode(_NOISE.randbytes(150)).decode()]}


def sqlite_bytes(path: Path) -> int:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database on the test server, dropped afterwards."""
    import psycopg

    name = f"lgbench_{uuid.uuid4().hex[:12]}"
    base = POSTGRES.rsplit("/", 1)[0]
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def postgres_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return int(row[0])


# -- the sides: each yields a checkpointer and afterwards says how many bytes it left --

Side = Callable[[Path], AbstractContextManager[tuple[Any, Callable[[], int]]]]

CEILING = "no saver (LangGraph alone)"
"""The side that stores nothing: LangGraph's own speed on the workload."""

RANDOM = "StatehubSaver sync=normal, random messages"
"""StatehubSaver appending incompressible messages: its bytes on disk at worst."""


@contextmanager
def sqlite_saver(directory: Path, synchronous: str) -> Iterator[tuple[Any, Callable[[], int]]]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = directory / "langgraph.db"
    connection = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(connection)
    saver.setup()
    connection.execute(f"PRAGMA synchronous={synchronous}")
    yield saver, lambda: sqlite_bytes(path)
    connection.close()


@contextmanager
def statehub_sqlite(directory: Path, sync: str) -> Iterator[tuple[Any, Callable[[], int]]]:
    from statehub.integrations.langgraph import StatehubSaver

    path = directory / "statehub.db"
    with StatehubSaver.from_url(f"sqlite:///{path}?sync={sync}") as saver:
        yield saver, lambda: sqlite_bytes(path)


@contextmanager
def nothing_saver(directory: Path) -> Iterator[tuple[Any, Callable[[], int]]]:
    """A saver that keeps each thread's latest checkpoint in a dict, and nothing else.

    Not a checkpointer (no history, no writes, no copies): the speed LangGraph itself
    allows, the ceiling for every saver on this workload.
    """
    from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

    latest: dict[str, CheckpointTuple] = {}

    class NothingSaver(BaseCheckpointSaver[str]):
        def get_tuple(self, config: Any) -> CheckpointTuple | None:
            return latest.get(config["configurable"]["thread_id"])

        def put(self, config: Any, checkpoint: Any, metadata: Any, versions: Any) -> Any:
            thread_id = config["configurable"]["thread_id"]
            ids = {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": checkpoint["id"]}
            stored = {"configurable": ids}
            latest[thread_id] = CheckpointTuple(stored, checkpoint, metadata, config, [])  # type: ignore[arg-type]
            return stored

        def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
            return None

    yield NothingSaver(), lambda: 0


@contextmanager
def swarmstate_disk(directory: Path) -> Iterator[tuple[Any, Callable[[], int]]]:
    # Imported by name: the peer is optional (the bench extra), typed or not.
    disk = importlib.import_module("swarmstate.backends.disk")
    peer = importlib.import_module("swarmstate.integrations.langgraph")
    path = directory / "swarmstate.db"
    store = disk.DiskStore(str(path))
    yield peer.SwarmStateSaver(store), lambda: sqlite_bytes(path)
    store.close()


@contextmanager
def postgres_saver(directory: Path) -> Iterator[tuple[Any, Callable[[], int]]]:
    from langgraph.checkpoint.postgres import PostgresSaver

    with fresh_database() as url, PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        empty = postgres_bytes(url)
        yield saver, lambda: postgres_bytes(url) - empty


@contextmanager
def statehub_postgres(directory: Path) -> Iterator[tuple[Any, Callable[[], int]]]:
    import statehub
    from statehub.integrations.langgraph import StatehubSaver

    with fresh_database() as url, statehub.open(url) as hub:
        empty = postgres_bytes(url)
        with StatehubSaver(hub) as saver:
            yield saver, lambda: postgres_bytes(url) - empty


SIDES: dict[str, tuple[str, str, Side]] = {
    # name: (storage, durability, factory)
    CEILING: ("none", "none (stores nothing)", nothing_saver),
    "SqliteSaver FULL": ("SQLite", "FULL (power loss)", lambda d: sqlite_saver(d, "FULL")),
    "StatehubSaver sync=full": (
        "SQLite",
        "FULL (power loss)",
        lambda d: statehub_sqlite(d, "full"),
    ),
    "SqliteSaver NORMAL": (
        "SQLite",
        "NORMAL (process crash)",
        lambda d: sqlite_saver(d, "NORMAL"),
    ),
    "StatehubSaver sync=normal": (
        "SQLite",
        "NORMAL (process crash)",
        lambda d: statehub_sqlite(d, "normal"),
    ),
    "swarmstate SwarmStateSaver(DiskStore)": (
        "SQLite",
        "NORMAL (process crash)",
        swarmstate_disk,
    ),
    "PostgresSaver": ("PostgreSQL", "synchronous_commit=on", postgres_saver),
    "StatehubSaver on PostgreSQL": (
        "PostgreSQL",
        "synchronous_commit=on",
        statehub_postgres,
    ),
    RANDOM: ("SQLite", "NORMAL (process crash)", lambda d: statehub_sqlite(d, "normal")),
}


def measure(side: str, invocations: int) -> dict[str, Any]:
    """Run the workload once with one side, in this process."""
    from langgraph.graph import START, StateGraph

    graph = StateGraph(Messages)
    graph.add_node("node", random_node if side == RANDOM else node)
    graph.add_edge(START, "node")
    with (
        tempfile.TemporaryDirectory(prefix="lgbench-") as directory,
        SIDES[side][2](Path(directory)) as (saver, size),
    ):
        app = graph.compile(checkpointer=saver)
        config: Any = {"configurable": {"thread_id": "bench"}}
        start = time.perf_counter()
        done = 0
        error = ""
        try:
            for done in range(1, invocations + 1):  # noqa: B007 - read after the loop
                app.invoke({"messages": []}, config)
        except Exception as exc:  # a side that breaks down is reported, not hidden
            error = f"{type(exc).__name__}: {exc}"[:120]
            done -= 1
        elapsed = time.perf_counter() - start
        length = len(app.get_state(config).values["messages"]) if not error else done
        return {
            "rate": done / elapsed,
            "bytes": size(),
            "done": done,
            "messages": length,
            "error": error,
        }


def run_in_child(side: str, invocations: int) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter (no cache, descriptors or memory shared)."""
    result = subprocess.run(
        [sys.executable, __file__, "--one", side, "--invocations", str(invocations)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["failed"])[-1]
        return {"rate": 0.0, "bytes": 0, "done": 0, "messages": 0, "error": last[:120]}
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def available(side: str) -> str:
    """Why a side cannot run here ("" if it can)."""
    if side.startswith("swarmstate"):
        try:
            importlib.import_module("msgpack")
            importlib.import_module("swarmstate")
        except ImportError as exc:
            return f"not installed ({exc.name})"
    return ""


PAIRS = {
    "SqliteSaver FULL": "StatehubSaver sync=full",
    "SqliteSaver NORMAL": "StatehubSaver sync=normal",
    "swarmstate SwarmStateSaver(DiskStore)": "StatehubSaver sync=normal",
    "PostgresSaver": "StatehubSaver on PostgreSQL",
}
"""Each other saver, and the StatehubSaver compared with it at equal durability."""


def ratio(runs: dict[str, list[dict[str, Any]]], side: str, ours: str | None = None) -> str:
    """``ours``' speed over ``side``'s (StatehubSaver at equal durability by default).

    The median of the ratios within each repeat.
    """
    ours = ours or PAIRS.get(side)
    if ours not in runs or side not in runs:
        return ""
    ratios = [
        mine["rate"] / theirs["rate"]
        for mine, theirs in zip(runs[ours], runs[side], strict=True)
        if theirs["rate"] and not (mine["error"] or theirs["error"])
    ]
    return f"{statistics.median(ratios):.2f}x" if ratios else ""


Runs = dict[str, list[dict[str, Any]]]
"""Each side's measurements, one per repeat."""


def compare(invocations: int, repeats: int) -> tuple[Runs, dict[str, str]]:
    """Every side that can run here, ``repeats`` times; and why the others cannot."""
    missing = {side: available(side) for side in SIDES if available(side)}
    order = [side for side in SIDES if side not in missing]
    runs: Runs = {side: [] for side in order}
    for repeat in range(repeats):
        # Every side once per repeat, the order reversed every other repeat, so that
        # a burst of noise on this shared machine hits the sides of a pair alike.
        for side in order if repeat % 2 == 0 else order[::-1]:
            print(f"{side}: run {repeat + 1}/{repeats}", file=sys.stderr, flush=True)
            runs[side].append(run_in_child(side, invocations))
    return runs, missing


def summary(measured: list[dict[str, Any]]) -> tuple[float, float, str]:
    """A side's median invocations/s, median bytes on disk, and a note (errors, if any)."""
    rate = statistics.median(run["rate"] for run in measured)
    size = statistics.median(run["bytes"] for run in measured)
    errors = {run["error"] for run in measured if run["error"]}
    note = "; ".join(sorted(errors)) or f"{measured[0]['messages']} messages kept"
    if errors:
        note += f" (after {min(run['done'] for run in measured)} invocations)"
    return rate, size, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 invocations, 1 repeat")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.invocations)))
        return
    if args.quick:
        args.invocations, args.repeats = 200, 1
    runs, missing = compare(args.invocations, args.repeats)
    print(f"\n{args.invocations} invocations on one thread, median of {args.repeats} runs\n")
    print(
        "| saver | storage | durability | invocations/s | StatehubSaver's speed over it "
        "| bytes on disk | note |"
    )
    print("| --- | --- | --- | ---: | --- | ---: | --- |")
    for side, (storage, durability, _) in SIDES.items():
        if side in missing:
            print(f"| {side} | {storage} | {durability} | - | | - | {missing[side]} |")
            continue
        rate, size, note = summary(runs[side])
        print(
            f"| {side} | {storage} | {durability} | {rate:,.0f} | {ratio(runs, side)} "
            f"| {size / 1e6:,.2f} MB | {note} |"
        )


if __name__ == "__main__":
    main()
