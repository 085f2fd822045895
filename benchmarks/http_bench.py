"""Requests/s for get and put over HTTP (8 concurrent clients) beside the same in-process.

One run measures, on one SQLite file:

- ``http``: ``statehub serve`` in a subprocess; 8 client processes, each with its own
  agent token and a keep-alive ``httpx.Client``, doing ``GET /v1/keys/...`` or
  ``PUT /v1/keys/...`` as fast as they can;
- ``in-process``: 8 processes, each opening the hub itself and calling
  ``agent.get`` / ``agent.put`` on the same keys.

Every client starts together (a barrier) and does ``--requests`` operations; the rate
is all operations over the wall time from the first start to the last finish. Each
measurement is repeated ``--rounds`` times; the median is printed, with HTTP's ratio
to in-process. Run: ``python benchmarks/http_bench.py``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import httpx

import statehub
from statehub.server import create_token
from statehub.testing.server import ServerProcess

_CTX = multiprocessing.get_context("spawn")
CLIENTS = 8
KEYS = 64
VALUE = {"title": "Draft", "tags": ["a", "b"], "words": 1200}


def _client(
    mode: str,
    op: str,
    target: str,
    token: str,
    index: int,
    count: int,
    barrier: Barrier,
    results: Queue[tuple[float, float]],
) -> None:
    keys = [f"global/bench/{(index * 7 + n) % KEYS}" for n in range(count)]
    if mode == "http":
        with httpx.Client(base_url=target, headers={"Authorization": f"Bearer {token}"}) as http:
            http.get("/health")
            barrier.wait()
            start = time.perf_counter()
            for key in keys:
                if op == "get":
                    response = http.get(f"/v1/keys/{key}")
                else:
                    response = http.put(f"/v1/keys/{key}", json=VALUE)
                assert response.status_code < 300, response.text
            results.put((start, time.perf_counter()))
        return
    with statehub.open(target) as hub:
        agent = hub.agent(f"bench-{index}")
        agent.get(keys[0])
        barrier.wait()
        start = time.perf_counter()
        for key in keys:
            if op == "get":
                agent.get(key)
            else:
                agent.put(key, VALUE)
        results.put((start, time.perf_counter()))


def measure(mode: str, op: str, target: str, tokens: list[str], count: int) -> float:
    """Operations per second of ``CLIENTS`` processes doing ``count`` ``op`` each."""
    barrier = _CTX.Barrier(CLIENTS)
    results: Queue[tuple[float, float]] = _CTX.Queue()
    workers = [
        _CTX.Process(target=_client, args=(mode, op, target, tokens[i], i, count, barrier, results))
        for i in range(CLIENTS)
    ]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0, f"a {mode} client failed"
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return CLIENTS * count / wall


def main() -> None:
    """Run the benchmark and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="statehub-http-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        with statehub.open(url) as hub:
            tokens = [create_token(hub, f"bench-{i}") for i in range(CLIENTS)]
            with hub.agent("seed").transaction() as tx:
                for n in range(KEYS):
                    tx.put(f"global/bench/{n}", VALUE)
        server = ServerProcess(url, log=Path(os.devnull), log_level="info")
        server.start()
        base = server.base_url
        try:
            rates: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for op in ("get", "put"):
                    for mode, target in (("http", base), ("in-process", url)):
                        rate = measure(mode, op, target, tokens, args.requests)
                        rates.setdefault((mode, op), []).append(rate)
        finally:
            server.stop()
    print(f"{CLIENTS} concurrent client processes, SQLite, {args.requests} ops each, ", end="")
    print(f"median of {args.rounds} rounds")
    print(f"{'op':<5}{'http req/s':>12}{'in-process ops/s':>19}{'http / in-process':>20}")
    for op in ("get", "put"):
        http = statistics.median(rates[("http", op)])
        local = statistics.median(rates[("in-process", op)])
        print(f"{op:<5}{http:>12,.0f}{local:>19,.0f}{http / local:>20.3f}")


if __name__ == "__main__":
    main()
