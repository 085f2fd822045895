"""Soak: 8 processes, a mixed workload, a bounded time, on SQLite and on PostgreSQL.

Run from the repository root::

    .venv/bin/python benchmarks/soak.py                      # 60 s per backend, both
    .venv/bin/python benchmarks/soak.py --seconds 5 --backend sqlite --json

Each backend gets a fresh hub. ``--workers`` processes (default 8, ``spawn``) open it
and, for ``--seconds``, each picks operations at random:

=========  ======================================================================
get        read one of 20 shared keys
put        last-write-wins put to one of them
cas        read one, write it back +1 with ``expect_version`` (``ConflictError``
           when another process wrote in between: a documented conflict)
merge      merge its own field ``{p<i>: n}`` into one shared document
dispatch   ``add`` 1 to one shared counter (a reducer, inside the commit)
lock       take the lease on one of 2 keys (no wait; ``LockedError`` when another
           holds it: a documented conflict), put with its fence, release
=========  ======================================================================

One more process watches the whole hub (``hub.watch("")``) for the whole run,
checks that it sees every revision once, in order, with no gap, up to the final
head, and samples its own resident memory (RSS) every second.

It prints ops/s, p50/p99 latency per operation, the documented conflicts, the
errors (anything else: must be 0), the watcher's findings and RSS (first, last,
max), and checks the end state: the counter equals the dispatches acknowledged, and
each worker's merged field holds its last acknowledged merge. The exit status is 1
if any error or check failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import orjson

import statehub
from statehub.testing.processes import describe

DEFAULT_POSTGRES = os.environ.get(
    "STATEHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
KEYS = 20
LOCK_KEYS = 2
DOC_KEY = "global/doc"
COUNTER_KEY = "global/counter"
WEIGHTS = {"get": 30, "put": 15, "cas": 15, "merge": 10, "dispatch": 10, "lock": 5}
"""How often each operation is picked, relative to the others."""
DOCUMENTED = (statehub.ConflictError, statehub.LockedError)
"""The errors a caller of this workload must expect: counted as conflicts, not errors."""
START_TIMEOUT = 60.0
RSS_INTERVAL = 1.0

_CTX = multiprocessing.get_context("spawn")


def rss_bytes() -> int:
    """This process's resident set size now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- the workers ----------------------------------------------------------------


@dataclass
class WorkerReport:
    """What one worker did: latencies (seconds) per op, conflicts, errors, last values."""

    index: int
    latencies: dict[str, list[float]] = field(default_factory=dict)
    conflicts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    dispatched: int = 0
    last_merge: int = -1


class _Workload:
    def __init__(self, agent: statehub.Agent, index: int, rng: random.Random) -> None:
        self.agent = agent
        self.index = index
        self.rng = rng
        self.merges = 0
        self.report = WorkerReport(index, {kind: [] for kind in WEIGHTS})

    def _key(self) -> str:
        return f"global/k/{self.rng.randrange(KEYS)}"

    def get(self) -> None:
        self.agent.get(self._key())

    def put(self) -> None:
        self.agent.put(self._key(), {"by": self.index, "n": self.rng.random()})

    def cas(self) -> None:
        key = self._key()
        entry = self.agent.entry(key)
        count = entry.value.get("cas", 0) if entry is not None else 0
        expect = 0 if entry is None else entry.version
        self.agent.put(key, {"by": self.index, "cas": count + 1}, expect_version=expect)

    def merge(self) -> None:
        self.agent.merge(DOC_KEY, {f"p{self.index}": self.merges})
        self.report.last_merge = self.merges
        self.merges += 1

    def dispatch(self) -> None:
        self.agent.dispatch(COUNTER_KEY, 1, reducer="add")
        self.report.dispatched += 1

    def lock(self) -> None:
        key = f"global/locked/{self.rng.randrange(LOCK_KEYS)}"
        with self.agent.lock(key, ttl=10) as lease:
            self.agent.put(key, {"holder": self.index}, fence=lease.fence)


def worker(
    index: int,
    url: str,
    seconds: float,
    barrier: Barrier,
    reports: Queue[WorkerReport],
) -> None:
    """Run the mixed workload for ``seconds`` as agent ``p<index>``, then report."""
    rng = random.Random(index)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    with statehub.open(url) as hub:
        work = _Workload(hub.agent(f"p{index}"), index, rng)
        report = work.report
        barrier.wait(START_TIMEOUT)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            started = time.perf_counter()
            try:
                getattr(work, kind)()
            except DOCUMENTED as exc:
                report.conflicts[f"{kind}: {type(exc).__name__}"] += 1
            except Exception as exc:
                report.errors.append(f"{kind}: {describe(exc)}")
            else:
                report.latencies[kind].append(time.perf_counter() - started)
    reports.put(report)


# -- the watcher ----------------------------------------------------------------


@dataclass
class WatchReport:
    """What the watcher saw: changes, revisions, whether gap-free, and its RSS over time."""

    changes: int = 0
    first_revision: int = 0
    last_revision: int = 0
    gaps: list[str] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    """Python objects' memory blocks at each RSS sample: flat while RSS grows means the
    growth is native (SQLite's page cache), not Python objects piling up."""
    errors: list[str] = field(default_factory=list)


def watcher(
    url: str,
    since: int,
    barrier: Barrier,
    stop: Event,
    final_head: Queue[int],
    reports: Queue[WatchReport],
) -> None:
    """Watch every change after ``since`` until ``stop``, then up to the final head."""
    report = WatchReport(first_revision=since + 1, last_revision=since)
    try:
        with statehub.open(url) as hub:
            barrier.wait(START_TIMEOUT)
            next_sample = 0.0
            head: int | None = None
            while head is None or report.last_revision < head:
                if head is None and stop.is_set():
                    head = final_head.get(timeout=START_TIMEOUT)
                for change in hub.watch("", since=report.last_revision, timeout=0.2):
                    _follow(report, change)
                    if time.monotonic() >= next_sample:
                        _sample(report)
                        next_sample = time.monotonic() + RSS_INTERVAL
                    if stop.is_set() and head is None:
                        break
            _sample(report)
    except Exception as exc:
        report.errors.append(describe(exc))
    reports.put(report)


def _sample(report: WatchReport) -> None:
    report.rss.append(rss_bytes())
    report.blocks.append(sys.getallocatedblocks())


def _follow(report: WatchReport, change: statehub.Change) -> None:
    if change.revision == report.last_revision:
        report.changes += 1
        return
    if change.revision != report.last_revision + 1:
        report.gaps.append(f"{report.last_revision} -> {change.revision}")
    report.last_revision = change.revision
    report.changes += 1


# -- one run --------------------------------------------------------------------


@dataclass
class SoakResult:
    """The figures of one soak run on one backend."""

    backend: str
    url: str
    workers: int
    seconds: float
    ops: int
    ops_per_second: float
    by_op: dict[str, dict[str, float]]
    conflicts: dict[str, int]
    errors: list[str]
    watcher: dict[str, Any]
    checks: list[str]

    @property
    def ok(self) -> bool:
        """No error, and every check passed."""
        return not self.errors and not self.checks


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def soak(backend: str, url: str, workers: int, seconds: float) -> SoakResult:
    """Run the soak on the fresh hub at ``url`` and return its figures."""
    with statehub.open(url) as hub:
        since = hub.revision
    barrier = _CTX.Barrier(workers + 1)
    stop = _CTX.Event()
    worker_reports: Queue[WorkerReport] = _CTX.Queue()
    watch_reports: Queue[WatchReport] = _CTX.Queue()
    final_head: Queue[int] = _CTX.Queue()
    watch_process = _CTX.Process(
        target=watcher, args=(url, since, barrier, stop, final_head, watch_reports)
    )
    processes = [
        _CTX.Process(target=worker, args=(i, url, seconds, barrier, worker_reports))
        for i in range(workers)
    ]
    watch_process.start()
    for process in processes:
        process.start()
    try:
        reports = [worker_reports.get(timeout=seconds + START_TIMEOUT) for _ in processes]
        for process in processes:
            process.join(START_TIMEOUT)
        with statehub.open(url) as hub:
            head = hub.revision
            end_state = hub.agent("soak").scan("global/")
        stop.set()
        final_head.put(head)
        watched = watch_reports.get(timeout=START_TIMEOUT)
        watch_process.join(START_TIMEOUT)
    finally:
        for process in [watch_process, *processes]:
            if process.is_alive():
                process.terminate()
                process.join(10)
    return _result(backend, url, workers, seconds, reports, watched, head, since, end_state)


def _result(
    backend: str,
    url: str,
    workers: int,
    seconds: float,
    reports: list[WorkerReport],
    watched: WatchReport,
    head: int,
    since: int,
    end_state: dict[str, Any],
) -> SoakResult:
    by_op: dict[str, dict[str, float]] = {}
    for kind in WEIGHTS:
        values = sorted(v for report in reports for v in report.latencies[kind])
        by_op[kind] = {
            "count": len(values),
            "per_second": len(values) / seconds,
            "p50_ms": 1000 * _percentile(values, 0.50),
            "p99_ms": 1000 * _percentile(values, 0.99),
        }
    ops = sum(int(figures["count"]) for figures in by_op.values())
    conflicts: Counter[str] = Counter()
    for report in reports:
        conflicts.update(report.conflicts)
    errors = [error for report in reports for error in report.errors] + watched.errors
    checks = _end_checks(reports, watched, head, end_state)
    rss = watched.rss or [0]
    return SoakResult(
        backend=backend,
        url=url,
        workers=workers,
        seconds=seconds,
        ops=ops,
        ops_per_second=ops / seconds,
        by_op=by_op,
        conflicts=dict(sorted(conflicts.items())),
        errors=errors,
        watcher={
            "changes": watched.changes,
            "revisions": watched.last_revision - since,
            "final_head": head,
            "gaps": watched.gaps,
            "rss_samples": len(watched.rss),
            "rss_first_mb": rss[0] / 2**20,
            "rss_warm_mb": rss[len(rss) // 10] / 2**20,
            "rss_last_mb": rss[-1] / 2**20,
            "rss_max_mb": max(rss) / 2**20,
            "rss_mb": [round(sample / 2**20, 2) for sample in rss],
            "python_blocks_first": watched.blocks[0] if watched.blocks else 0,
            "python_blocks_warm": watched.blocks[len(watched.blocks) // 10]
            if watched.blocks
            else 0,
            "python_blocks_last": watched.blocks[-1] if watched.blocks else 0,
        },
        checks=checks,
    )


def _end_checks(
    reports: list[WorkerReport], watched: WatchReport, head: int, end_state: dict[str, Any]
) -> list[str]:
    """What is wrong with the end state or the watch (empty when all is well)."""
    failed: list[str] = []
    dispatched = sum(report.dispatched for report in reports)
    counter = end_state.get(COUNTER_KEY, 0)
    if counter != dispatched:
        failed.append(f"counter is {counter}, {dispatched} dispatches were acknowledged")
    doc = end_state.get(DOC_KEY, {})
    for report in reports:
        if report.last_merge >= 0 and doc.get(f"p{report.index}") != report.last_merge:
            failed.append(f"p{report.index}'s merged field is {doc.get(f'p{report.index}')}")
    if watched.gaps:
        failed.append(f"the watcher saw gaps: {watched.gaps[:5]}")
    if watched.last_revision != head:
        failed.append(f"the watcher stopped at revision {watched.last_revision}, head {head}")
    return failed


# -- the command ----------------------------------------------------------------


def _print(result: SoakResult) -> None:
    print(
        f"\nsoak on {result.backend}: {result.workers} worker processes + 1 watcher, "
        f"{result.seconds:g} s — {result.ops_per_second:,.0f} ops/s ({result.ops:,} ops)"
    )
    print(f"{'op':<10}{'count':>10}{'ops/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, figures in result.by_op.items():
        print(
            f"{kind:<10}{int(figures['count']):>10,}{figures['per_second']:>10,.0f}"
            f"{figures['p50_ms']:>10.2f}{figures['p99_ms']:>10.2f}"
        )
    conflicts = ", ".join(f"{name} {n:,}" for name, n in result.conflicts.items()) or "none"
    print(f"documented conflicts: {conflicts}")
    print(f"errors: {len(result.errors)}")
    for error in result.errors[:10]:
        print(f"  {error}")
    w = result.watcher
    print(
        f"watcher: {w['changes']:,} changes over {w['revisions']:,} revisions, "
        f"up to head {w['final_head']:,}, gaps {len(w['gaps'])}; RSS first "
        f"{w['rss_first_mb']:.1f} MB, after the first tenth {w['rss_warm_mb']:.1f} MB, last "
        f"{w['rss_last_mb']:.1f} MB, max {w['rss_max_mb']:.1f} MB ({w['rss_samples']} samples); "
        f"Python blocks first {w['python_blocks_first']:,}, after the first tenth "
        f"{w['python_blocks_warm']:,}, last {w['python_blocks_last']:,}"
    )
    print("end-state checks: " + ("passed" if not result.checks else "; ".join(result.checks)))


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0, help="per backend (default 60)")
    parser.add_argument("--workers", type=int, default=8, help="worker processes (default 8)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both", help="default both"
    )
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server URL")
    parser.add_argument("--dir", type=Path, help="where to put the SQLite file")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if not args.seconds > 0 or args.workers < 1:
        parser.error(
            f"--seconds must be positive and --workers at least 1, "
            f"not {args.seconds} and {args.workers}"
        )
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: list[SoakResult] = []
    with tempfile.TemporaryDirectory(prefix="statehub-soak-", dir=args.dir) as workdir:
        for backend in backends:
            if backend == "sqlite":
                url = f"sqlite:///{Path(workdir).resolve() / 'soak.db'}"
            else:
                separator = "&" if "?" in args.postgres else "?"
                url = f"{args.postgres}{separator}hub=soak-{uuid.uuid4().hex[:12]}"
            result = soak(backend, url, args.workers, args.seconds)
            results.append(result)
            if not args.json:
                _print(result)
    if args.json:
        print(orjson.dumps([asdict(r) for r in results], option=orjson.OPT_INDENT_2).decode())
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
