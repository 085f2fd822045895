"""Watch latency across processes: a commit in one process, seen by a watcher in another.

The watcher is a real process (``spawn``) iterating ``hub.watch(prefix, since=...)``;
for every change it records ``time.time() - change.timestamp`` (the commit time,
stamped inside the commit), so the latency includes the commit's own tail, the
watcher's poll and the read of the log. The writer spaces its commits out so that
latency, not throughput, is measured.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import statehub

_CTX = multiprocessing.get_context("spawn")
TIMEOUT = 120.0


def _watcher(url: str, count: int, ready: Event, results: Queue[list[float]]) -> None:
    latencies: list[float] = []
    with statehub.open(url) as hub:
        since = hub.revision
        ready.set()
        for change in hub.watch("global/", since=since, timeout=TIMEOUT):
            latencies.append(time.time() - change.timestamp)
            if len(latencies) == count:
                break
    results.put(latencies)


@dataclass(frozen=True)
class Latency:
    """Watch latency over one run, in seconds."""

    p50: float
    p99: float
    maximum: float
    count: int


def watch_latency(path: Path, count: int, spacing: float = 0.01) -> Latency:
    """Commit ``count`` changes ``spacing`` s apart; return the watcher's latencies."""
    url = f"sqlite:///{path}"
    with statehub.open(url) as hub:
        writer = hub.agent("writer")
        writer.put("global/warm", 0)
        ready = _CTX.Event()
        results: Queue[list[float]] = _CTX.Queue()
        process = _CTX.Process(target=_watcher, args=(url, count, ready, results))
        process.start()
        if not ready.wait(TIMEOUT):
            raise RuntimeError("the watcher process did not start")
        for i in range(count):
            writer.put(f"global/item/{i % 10}", i)
            time.sleep(spacing)
        latencies = results.get(timeout=TIMEOUT)
        process.join(TIMEOUT)
    latencies.sort()
    return Latency(
        statistics.median(latencies),
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        latencies[-1],
        len(latencies),
    )
