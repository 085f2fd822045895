"""statehub benchmarks: one command, one table, medians over several repeats.

Run from the repository root::

    .venv/bin/python benchmarks/run.py            # full run, about 1-2 minutes
    .venv/bin/python benchmarks/run.py --quick    # smoke run, a few seconds

What is measured (every rate is the median over ``--repeats`` runs; statehub and its
raw ``sqlite3`` baseline alternate within each repeat so both see the same noise):

* SQLite ``put``/s, one commit per put, small JSON values cycling over 100 keys,
  beside raw ``sqlite3`` doing what statehub does per commit (an upsert into an
  entries table and an insert into a history table, in one ``BEGIN IMMEDIATE``
  transaction, WAL) at the same ``synchronous`` level, NORMAL and FULL.
* 1,000 puts in one ``agent.transaction()`` vs raw 1,000 upserts + inserts in one
  transaction.
* ``memory://`` ``put``/s.
* 2-process ``update`` contention on one SQLite key: commits/s, latency percentiles.
* Bytes on disk after 1,000 and 2,000 ``append`` dispatches of a 200-byte message
  (random base64: the log is packed, so repeated characters would flatter it).
* PostgreSQL put/s beside raw psycopg, 4 hubs vs 1, async put/s (``postgres_bench.py``).
* LangGraph: ``StatehubSaver`` beside ``SqliteSaver``, ``PostgresSaver`` and
  swarmstate's saver at equal durability, on the issue's 1,000-invocation workload
  (``langgraph_bench.py``; each side in a fresh process).

Database files go to a fresh temporary directory (``--dir`` to choose where: it must
be on the disk you care about; tmpfs makes ``sync=full`` meaningless).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import orjson

import statehub
from statehub.testing.processes import run_together

sys.path.insert(0, str(Path(__file__).resolve().parent))
import langgraph_bench  # sibling scripts, not a package
import postgres_bench
from watch_latency import watch_latency

KEYS = 100
"""Puts cycle over this many keys (so most puts update an existing key)."""
MESSAGE_BYTES = 200
CONTENTION_KEY = "global/counter"
TIMEOUT = 120.0
"""Seconds any wait on a child process may last before the benchmark gives up."""

# -- the raw sqlite3 baseline ---------------------------------------------------

RAW_SCHEMA = (
    """CREATE TABLE entries (
        hub INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
        version INTEGER NOT NULL, created_rev INTEGER NOT NULL,
        modified_rev INTEGER NOT NULL, updated_by TEXT NOT NULL, updated_ts REAL NOT NULL,
        expires_ts REAL, owner TEXT, patch_bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hub, key))""",
    """CREATE TABLE changes (
        hub INTEGER NOT NULL, revision INTEGER NOT NULL, key TEXT NOT NULL,
        op TEXT NOT NULL, agent TEXT NOT NULL, ts REAL NOT NULL, label TEXT,
        prev_version INTEGER NOT NULL, version INTEGER NOT NULL,
        patch BLOB, value BLOB, cause BLOB,
        PRIMARY KEY (hub, revision, key))""",
    "CREATE INDEX changes_by_key ON changes (hub, key, revision)",
)
RAW_UPSERT = """INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?)
    ON CONFLICT (hub, key) DO UPDATE SET value = excluded.value, version = excluded.version,
    modified_rev = excluded.modified_rev, updated_by = excluded.updated_by,
    updated_ts = excluded.updated_ts"""
RAW_INSERT = "INSERT INTO changes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"


def small_value(i: int) -> dict[str, Any]:
    """The small JSON value of put number ``i`` (about 40 bytes encoded)."""
    return {"n": i, "by": "bench", "ok": True}


class RawStore:
    """Raw sqlite3 doing the work of one statehub commit: upsert + history row."""

    def __init__(self, path: Path, sync: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={sync}")
        for statement in RAW_SCHEMA:
            self.conn.execute(statement)
        self.revision = 0
        self.versions: dict[str, int] = {}

    def _rows(self, key: str, value: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        data = orjson.dumps(value)
        now = time.time()
        self.revision += 1
        prev = self.versions.get(key, 0)
        self.versions[key] = version = prev + 1
        rev = self.revision
        entry = (1, key, data, version, rev, rev, "bench", now, None, None, 0)
        change = (1, rev, key, "put", "bench", now, None, prev, version, None, data, None)
        return entry, change

    def put(self, key: str, value: Any) -> None:
        entry, change = self._rows(key, value)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(RAW_UPSERT, entry)
        conn.execute(RAW_INSERT, change)
        conn.execute("COMMIT")

    def put_many(self, items: list[tuple[str, Any]]) -> None:
        rows = [self._rows(key, value) for key, value in items]
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(RAW_UPSERT, [entry for entry, _ in rows])
        conn.executemany(RAW_INSERT, [change for _, change in rows])
        conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


# -- helpers --------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    repeats: int
    puts_normal: int
    puts_full: int
    txn_puts: int
    memory_puts: int
    contention_updates: int
    appends: tuple[int, int]
    watch_changes: int
    postgres_puts: int
    async_puts: int
    langgraph_invocations: int
    langgraph_repeats: int


FULL_SIZES = Sizes(7, 5000, 2000, 1000, 100_000, 1000, (1000, 2000), 200, 2000, 2000, 1000, 3)
QUICK_SIZES = Sizes(3, 300, 100, 1000, 10_000, 100, (1000, 2000), 30, 200, 200, 100, 1)


class Scratch:
    """Fresh database file names in one temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def path(self, stem: str) -> Path:
        self.count += 1
        return self.root / f"{self.count:04d}-{stem}.db"


def sqlite_url(path: Path, **options: str) -> str:
    query = "&".join(f"{name}={value}" for name, value in options.items())
    return f"sqlite:///{path}" + (f"?{query}" if query else "")


def file_bytes(path: Path) -> int:
    """The database file's size plus any ``-wal`` file that remains."""
    total = path.stat().st_size
    wal = Path(f"{path}-wal")
    if wal.exists():
        total += wal.stat().st_size
    return total


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


@contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t:`` ... then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}/s"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# -- 1. put/s, statehub vs raw, NORMAL and FULL --------------------------------


def statehub_puts(path: Path, sync: str, count: int) -> float:
    with statehub.open(sqlite_url(path, sync=sync)) as hub:
        agent = hub.agent("bench")
        keys = [f"global/k{i}" for i in range(KEYS)]
        values = [small_value(i) for i in range(count)]
        with timer() as elapsed:
            for i in range(count):
                agent.put(keys[i % KEYS], values[i])
    return rate(count, elapsed[0])


def raw_puts(path: Path, sync: str, count: int) -> float:
    store = RawStore(path, sync)
    keys = [f"global/k{i}" for i in range(KEYS)]
    values = [small_value(i) for i in range(count)]
    try:
        with timer() as elapsed:
            for i in range(count):
                store.put(keys[i % KEYS], values[i])
    finally:
        store.close()
    return rate(count, elapsed[0])


# -- 2. one transaction of 1,000 puts -------------------------------------------


def statehub_txn(path: Path, count: int) -> float:
    with statehub.open(sqlite_url(path)) as hub:
        agent = hub.agent("bench")
        items = [(f"global/t{i}", small_value(i)) for i in range(count)]
        with timer() as elapsed, agent.transaction() as tx:
            for key, value in items:
                tx.put(key, value)
    return elapsed[0]


def raw_txn(path: Path, count: int) -> float:
    store = RawStore(path, "NORMAL")
    items = [(f"global/t{i}", small_value(i)) for i in range(count)]
    try:
        with timer() as elapsed:
            store.put_many(items)
    finally:
        store.close()
    return elapsed[0]


# -- 3. memory:// put/s ---------------------------------------------------------


def memory_puts(count: int) -> float:
    with statehub.open("memory://") as hub:
        agent = hub.agent("bench")
        keys = [f"global/k{i}" for i in range(KEYS)]
        values = [small_value(i) for i in range(count)]
        with timer() as elapsed:
            for i in range(count):
                agent.put(keys[i % KEYS], values[i])
    return rate(count, elapsed[0])


# -- 4. 2-process update contention ---------------------------------------------

ContentionReport = tuple[int, list[float], int, list[str], float, float]
"""(index, latencies in seconds, attempts, errors, monotonic start, monotonic end)."""


def contention_worker(
    index: int, url: str, count: int, barrier: Barrier, reports: Queue[ContentionReport]
) -> None:
    """One process: ``count`` increments of one key, timing each ``update`` call."""
    latencies: list[float] = []
    errors: list[str] = []
    attempts = 0
    start = end = 0.0

    def increment(value: Any) -> int:
        nonlocal attempts
        attempts += 1
        return int(value or 0) + 1

    try:
        with statehub.open(url) as hub:
            agent = hub.agent(f"p{index}")
            barrier.wait(TIMEOUT)
            start = time.monotonic()
            for _ in range(count):
                t0 = time.perf_counter()
                try:
                    agent.update(CONTENTION_KEY, increment)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                latencies.append(time.perf_counter() - t0)
            end = time.monotonic()
    except BaseException as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    reports.put((index, latencies, attempts, errors, start, end))


@dataclass(frozen=True)
class ContentionResult:
    commits_per_s: float
    p50: float
    p99: float
    max: float
    attempts_per_update: float
    errors: list[str]


def contention(path: Path, count: int, processes: int = 2) -> ContentionResult:
    url = sqlite_url(path)
    statehub.open(url).close()  # create the schema before the race
    together = run_together(contention_worker, processes, url, count, timeout=TIMEOUT)
    received: list[ContentionReport] = together.reports
    errors = [error for report in received for error in report[3]]
    if len(received) < processes:
        errors.append(f"only {len(received)} of {processes} children reported")
    latencies = sorted(lat for report in received for lat in report[1])
    if not latencies:
        return ContentionResult(0.0, 0.0, 0.0, 0.0, 0.0, errors)
    with statehub.open(url) as hub:
        final = hub.agent("checker").get(CONTENTION_KEY)
    if final != processes * count:
        errors.append(f"counter ended at {final}, not {processes * count}")
    window = max(r[5] for r in received) - min(r[4] for r in received)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    attempts = sum(r[2] for r in received)
    return ContentionResult(
        rate(len(latencies), window),
        statistics.median(latencies),
        cuts[98],
        latencies[-1],
        attempts / len(latencies),
        errors,
    )


# -- 5. bytes on disk after n appends -------------------------------------------


@dataclass(frozen=True)
class DiskResult:
    appends: int
    bytes_on_disk: int
    seconds: float
    tables: dict[str, int]
    columns: dict[str, int]


def random_message(noise: random.Random) -> str:
    """MESSAGE_BYTES characters of random base64: statehub packs its log with DEFLATE,
    so a repeated character would measure the compressor, not the storage layout."""
    return base64.b64encode(noise.randbytes(MESSAGE_BYTES * 3 // 4)).decode()


def disk_after_appends(path: Path, count: int) -> DiskResult:
    noise = random.Random(count)
    messages = [random_message(noise) for _ in range(count)]
    with statehub.open(sqlite_url(path)) as hub:
        agent = hub.agent("bench")
        with timer() as elapsed:
            for message in messages:
                agent.dispatch("global/log", message, reducer="append")
    size = file_bytes(path)  # after close: the WAL is checkpointed
    tables: dict[str, int] = {}
    columns: dict[str, int] = {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        tables = {str(name): int(total) for name, total in rows}
        tables["(free pages)"] = int(conn.execute("PRAGMA freelist_count").fetchone()[0]) * int(
            conn.execute("PRAGMA page_size").fetchone()[0]
        )
        sums = conn.execute(
            "SELECT sum(length(patch)), sum(length(value)), sum(length(cause)) FROM changes"
        ).fetchone()
        columns = {
            name: int(total or 0)
            for name, total in zip(("patch", "value", "cause"), sums, strict=True)
        }
    except sqlite3.Error as exc:
        tables = {f"(breakdown unavailable: {exc})": 0}
    finally:
        conn.close()
    return DiskResult(count, size, elapsed[0], tables, columns)


# -- the run --------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    """``git describe`` of the checkout statehub was imported from, if it is one."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(statehub.__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def machine_lines() -> list[str]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"- date: {now}",
        f"- cpu: {cpu_model()}, {os.cpu_count()} cores",
        f"- os: {platform.platform()}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"statehub {statehub.__version__} (git {git_revision()}, "
        f"from {Path(statehub.__file__).resolve().parent})",
    ]


def paired(
    ours: Callable[[], float], raw: Callable[[], float], repeats: int
) -> tuple[list[float], list[float]]:
    """Run both measurements ``repeats`` times, back to back, alternating which goes first.

    Ratios are then taken pair by pair (then the median), so that a burst of noise
    from other work on the machine hits both sides of a pair alike.
    """
    ours_samples: list[float] = []
    raw_samples: list[float] = []
    for i in range(repeats):
        if i % 2:
            raw_samples.append(raw())
            ours_samples.append(ours())
        else:
            ours_samples.append(ours())
            raw_samples.append(raw())
    return ours_samples, raw_samples


def median_of(samples: list[float]) -> float:
    return statistics.median(samples)


def spread(samples: list[float]) -> str:
    return f"{min(samples):,.0f}-{max(samples):,.0f}"


def run(sizes: Sizes, root: Path) -> str:
    scratch = Scratch(root)
    out: list[str] = []
    started = time.perf_counter()

    def say(line: str) -> None:
        print(f"# {line}", file=sys.stderr, flush=True)

    # Warm up both paths once (imports, page cache), unrecorded.
    statehub_puts(scratch.path("warm"), "normal", 200)
    raw_puts(scratch.path("warm-raw"), "NORMAL", 200)

    table: list[tuple[str, str, str, str]] = []
    targets: list[str] = []

    for sync, count in (("normal", sizes.puts_normal), ("full", sizes.puts_full)):
        say(f"put/s at synchronous={sync.upper()} ...")

        def ours_once(sync: str = sync, count: int = count) -> float:
            return statehub_puts(scratch.path(f"put-{sync}"), sync, count)

        def raw_once(sync: str = sync, count: int = count) -> float:
            return raw_puts(scratch.path(f"raw-{sync}"), sync.upper(), count)

        ours, raws = paired(ours_once, raw_once, sizes.repeats)
        ratio = median_of([a / b for a, b in zip(ours, raws, strict=True)])
        label = f"SQLite put, 1 commit each, sync={sync.upper()}"
        table.append(
            (
                label,
                fmt_rate(median_of(ours)),
                fmt_rate(median_of(raws)),
                f"{ratio:.2f} (target >= 0.70)",
            )
        )
        targets.append(
            f"- put/s at {sync.upper()}: statehub/raw = {ratio:.2f}, target >= 0.70: "
            f"{verdict(ratio >= 0.70)} ({ratio / 0.70:.0%} of target; ranges over repeats: "
            f"statehub {spread(ours)}/s, raw {spread(raws)}/s)"
        )

    say("1,000 puts in one transaction ...")
    ours_s, raws_s = paired(
        lambda: statehub_txn(scratch.path("txn"), sizes.txn_puts),
        lambda: raw_txn(scratch.path("txn-raw"), sizes.txn_puts),
        sizes.repeats,
    )
    ours_t, raws_t = median_of(ours_s), median_of(raws_s)
    txn_ratio = median_of([b / a for a, b in zip(ours_s, raws_s, strict=True)])
    table.append(
        (
            f"{sizes.txn_puts:,} puts in 1 transaction (time; puts/s)",
            f"{fmt_ms(ours_t)}; {fmt_rate(sizes.txn_puts / ours_t)}",
            f"{fmt_ms(raws_t)}; {fmt_rate(sizes.txn_puts / raws_t)}",
            f"{txn_ratio:.2f} (no target)",
        )
    )
    targets.append(
        f"- {sizes.txn_puts:,} puts in one transaction: statehub/raw throughput = "
        f"{txn_ratio:.2f} (no target set; statehub {fmt_ms(ours_t)} vs raw {fmt_ms(raws_t)})"
    )

    say("memory:// put/s ...")
    mem = [memory_puts(sizes.memory_puts) for _ in range(sizes.repeats)]
    mem_rate = median_of(mem)
    table.append(("memory:// put", fmt_rate(mem_rate), "-", "target >= 300,000/s"))
    targets.append(
        f"- memory:// put/s = {mem_rate:,.0f}, target >= 300,000/s: "
        f"{verdict(mem_rate >= 300_000)} ({mem_rate / 300_000:.0%} of target; "
        f"range {spread(mem)}/s)"
    )

    say("2-process update contention ...")
    results = [
        contention(scratch.path("contention"), sizes.contention_updates)
        for _ in range(sizes.repeats)
    ]
    errors = [error for result in results for error in result.errors]
    c_rate = median_of([r.commits_per_s for r in results])
    table.append(
        (
            f"2 processes x {sizes.contention_updates:,} update, one key: commits/s",
            fmt_rate(c_rate),
            "-",
            f"errors: {len(errors)}",
        )
    )
    table.append(
        (
            "  update latency p50 / p99 / max (median of repeats)",
            f"{fmt_ms(median_of([r.p50 for r in results]))} / "
            f"{fmt_ms(median_of([r.p99 for r in results]))} / "
            f"{fmt_ms(median_of([r.max for r in results]))}",
            "-",
            f"worst max {fmt_ms(max(r.max for r in results))}",
        )
    )
    table.append(
        (
            "  attempts per update (1.00 = no conflict retries)",
            f"{median_of([r.attempts_per_update for r in results]):.2f}",
            "-",
            "",
        )
    )

    say("bytes on disk after appends ...")
    first, second = (disk_after_appends(scratch.path(f"append-{n}"), n) for n in sizes.appends)
    raw_first = first.appends * MESSAGE_BYTES
    ratio_first = first.bytes_on_disk / raw_first
    ratio_second = second.bytes_on_disk / (second.appends * MESSAGE_BYTES)
    growth = second.bytes_on_disk / first.bytes_on_disk
    for result, ratio in ((first, ratio_first), (second, ratio_second)):
        table.append(
            (
                f"disk after {result.appends:,} appends of {MESSAGE_BYTES} B",
                f"{result.bytes_on_disk:,} B",
                f"{result.appends * MESSAGE_BYTES:,} B",
                f"{ratio:.2f}x raw (target <= 6x)",
            )
        )
    table.append(
        (
            f"  disk {second.appends:,} / {first.appends:,} appends",
            f"{growth:.2f}",
            "-",
            "target <= 2.3",
        )
    )
    table.append(
        (
            f"  append dispatch rate ({first.appends:,} / {second.appends:,} appends)",
            f"{fmt_rate(first.appends / first.seconds)} / "
            f"{fmt_rate(second.appends / second.seconds)}",
            "-",
            "",
        )
    )
    targets.append(
        f"- disk after {first.appends:,} appends = {ratio_first:.2f}x raw, target <= 6x: "
        f"{verdict(ratio_first <= 6)}; after {second.appends:,}: {ratio_second:.2f}x raw"
    )
    targets.append(
        f"- disk growth {second.appends:,}/{first.appends:,} = {growth:.2f}, target <= 2.3: "
        f"{verdict(growth <= 2.3)}"
    )
    targets.append(
        f"- 2-process contention: {len(errors)} errors"
        + (f" (first: {errors[0]})" if errors else " (none: no lock error reached a caller)")
    )

    say("watch latency across processes ...")
    runs = [
        watch_latency(scratch.path(f"watch-{i}"), sizes.watch_changes) for i in range(sizes.repeats)
    ]
    p50 = median_of([run.p50 for run in runs])
    p99 = median_of([run.p99 for run in runs])
    worst = max(run.maximum for run in runs)
    table.append(
        (
            "watch latency, writer process -> watcher process: p50 / p99 / max",
            f"{fmt_ms(p50)} / {fmt_ms(p99)} / {fmt_ms(worst)}",
            "-",
            "p50 target <= 20 ms",
        )
    )
    targets.append(
        f"- watch latency p50 = {fmt_ms(p50)}, target <= 20 ms: {verdict(p50 <= 0.020)} "
        f"(p99 {fmt_ms(p99)}, max {fmt_ms(worst)}; {sizes.watch_changes} changes x "
        f"{sizes.repeats} repeats)"
    )

    say("PostgreSQL put/s beside raw psycopg ...")
    pg_ours, pg_raws = paired(
        lambda: postgres_bench.statehub_puts(sizes.postgres_puts),
        lambda: postgres_bench.raw_puts(sizes.postgres_puts),
        sizes.repeats,
    )
    pg_ratio = median_of([a / b for a, b in zip(pg_ours, pg_raws, strict=True)])
    table.append(
        (
            "PostgreSQL put, 1 commit each (raw: 1 statement)",
            fmt_rate(median_of(pg_ours)),
            fmt_rate(median_of(pg_raws)) + " (psycopg)",
            f"{pg_ratio:.2f} (target >= 0.70)",
        )
    )
    targets.append(
        f"- PostgreSQL put/s: statehub/raw psycopg = {pg_ratio:.2f}, target >= 0.70: "
        f"{verdict(pg_ratio >= 0.70)} (statehub {spread(pg_ours)}/s, raw {spread(pg_raws)}/s)"
    )
    for label, measure, driver in (
        (
            "  raw psycopg, 1 statement, on statehub's own tables",
            postgres_bench.raw_same_schema_puts,
            "psycopg",
        ),
        (
            "  raw, its statement prepared and run through libpq as statehub runs its own",
            postgres_bench.raw_prepared_puts,
            "libpq",
        ),
    ):
        baseline = median_of([measure(sizes.postgres_puts) for _ in range(sizes.repeats)])
        table.append(
            (
                label,
                "-",
                f"{fmt_rate(baseline)} ({driver})",
                f"statehub = {median_of(pg_ours) / baseline:.2f} of it",
            )
        )
    say("PostgreSQL: 4 processes on 1 hub vs on 4 hubs ...")
    hub_runs = [postgres_bench.hubs_in_parallel(sizes.postgres_puts // 4) for _ in range(3)]
    one_hub = median_of([one for one, _ in hub_runs])
    four_hubs = median_of([four for _, four in hub_runs])
    scaling = median_of([four / one for one, four in hub_runs])
    table.append(
        (
            "PostgreSQL, 4 processes: 1 shared hub / 4 hubs (total put/s)",
            f"{fmt_rate(one_hub)} / {fmt_rate(four_hubs)}",
            "-",
            f"{scaling:.2f}x (target >= 2.5x)",
        )
    )
    targets.append(
        f"- 4 hubs in parallel vs 1 hub: {scaling:.2f}x, target >= 2.5x: {verdict(scaling >= 2.5)}"
    )
    say("async put/s ...")
    async_cases: list[tuple[str, Callable[[str], str], int]] = [
        ("SQLite", lambda name: sqlite_url(scratch.path(name)), sizes.async_puts),
        ("PostgreSQL", lambda name: postgres_bench.hub_url(), sizes.async_puts // 2),
    ]
    for label, make_url, count in async_cases:
        rates = [
            postgres_bench.async_puts(make_url(f"async-{label}-{tasks}"), count, tasks)
            for tasks in (1, 8)
        ]
        table.append(
            (
                f"async put ({label}): 1 task / 8 tasks",
                f"{fmt_rate(rates[0])} / {fmt_rate(rates[1])}",
                "-",
                "",
            )
        )

    say("LangGraph savers (each run in a fresh process) ...")
    table.extend(langgraph_rows(sizes))

    widths = [max(len(row[i]) for row in [*table, HEADER]) for i in range(4)]

    def line(cells: tuple[str, str, str, str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out.append("Machine:")
    out.extend(machine_lines())
    out.append(
        f"- repeats: {sizes.repeats} (medians quoted; statehub/raw ratios are medians of "
        "back-to-back pairs); puts per repeat: "
        f"{sizes.puts_normal:,} NORMAL, {sizes.puts_full:,} FULL, {sizes.memory_puts:,} memory"
    )
    out.append("")
    out.append(line(HEADER))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out.extend(line(row) for row in table)
    out.append("")
    out.append("Targets:")
    out.extend(targets)
    out.append("")
    out.append("Disk breakdown (bytes per table or index, after close):")
    for result in (first, second):
        parts = ", ".join(f"{name} {size:,}" for name, size in sorted(result.tables.items()))
        cols = ", ".join(f"{name} {size:,}" for name, size in result.columns.items())
        out.append(f"- {result.appends:,} appends: {parts}; changes columns: {cols}")
    out.append("")
    out.append(f"Total run time: {time.perf_counter() - started:.0f} s")
    return "\n".join(out)


HEADER = ("measurement", "statehub", "baseline", "ratio / target")


def langgraph_rows(sizes: Sizes) -> list[tuple[str, str, str, str]]:
    """StatehubSaver beside each other saver at equal durability (langgraph_bench.py)."""
    runs, missing = langgraph_bench.compare(sizes.langgraph_invocations, sizes.langgraph_repeats)
    rows = []
    for theirs, ours in langgraph_bench.PAIRS.items():
        durability = langgraph_bench.SIDES[theirs][1]
        label = f"LangGraph, {sizes.langgraph_invocations:,} invocations: vs {theirs}, {durability}"
        if theirs in missing or ours in missing:
            rows.append((label, "-", "-", missing.get(theirs) or missing.get(ours, "")))
            continue
        (rate, size, _), (their_rate, their_size, _) = (
            langgraph_bench.summary(runs[ours]),
            langgraph_bench.summary(runs[theirs]),
        )
        speed = langgraph_bench.ratio(runs, theirs) or "-"
        rows.append(
            (
                label,
                f"{rate:,.0f}/s, {size / 1e6:,.1f} MB",
                f"{their_rate:,.0f}/s, {their_size / 1e6:,.1f} MB",
                f"{speed} the speed (target >= 3x), {size / their_size:.3f} of the bytes"
                if their_size
                else speed,
            )
        )
    ceiling, worst = langgraph_bench.CEILING, langgraph_bench.RANDOM
    if ceiling in runs:
        rate = langgraph_bench.summary(runs[ceiling])[0]
        limits = ", ".join(
            f"{langgraph_bench.ratio(runs, side, ceiling)} {side}"
            for side in ("SqliteSaver FULL", "SqliteSaver NORMAL", "PostgresSaver")
            if side in runs
        )
        rows.append(
            (
                "  LangGraph alone (a saver that stores nothing): the ceiling",
                "-",
                f"{rate:,.0f}/s",
                f"the most any saver can reach: {limits}",
            )
        )
    if worst in runs:
        rate, size, _ = langgraph_bench.summary(runs[worst])
        rows.append(
            (
                "  StatehubSaver NORMAL, random (incompressible) 200-char messages",
                f"{rate:,.0f}/s, {size / 1e6:,.2f} MB",
                "-",
                "bytes on disk at worst (target <= 3 MB)",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--dir", type=Path, help="where to put the database files")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats is not None:
        sizes = replace(sizes, repeats=args.repeats)
    root = Path(tempfile.mkdtemp(prefix="statehub-bench-", dir=args.dir))
    try:
        print(run(sizes, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
