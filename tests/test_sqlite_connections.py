"""The SQLite backend pools its connections: short-lived threads leave none behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import statehub
from statehub.backends.sqlite import MAX_IDLE_CONNECTIONS


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _in_a_new_thread(agent: statehub.Agent, n: int) -> None:
    thread = threading.Thread(target=lambda: agent.put(f"global/k{n % 10}", n))
    thread.start()
    thread.join()


def test_a_new_thread_per_call_does_not_grow_the_open_descriptors(tmp_path: Path) -> None:
    with statehub.open(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        agent = hub.agent("worker")
        for n in range(20):  # warm up: the pool and SQLite's own files are open now
            _in_a_new_thread(agent, n)
        before = _open_descriptors()
        for n in range(300):
            _in_a_new_thread(agent, n)
        assert _open_descriptors() <= before
        assert agent.get("global/k9") == 299


def test_bursts_of_threads_reuse_their_descriptors(tmp_path: Path) -> None:
    with statehub.open(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        agent = hub.agent("worker")
        agent.put("global/x", 0)

        def burst() -> int:
            start = threading.Barrier(16)

            def read() -> None:
                start.wait(10)
                for _ in range(20):
                    agent.get("global/x")

            threads = [threading.Thread(target=read) for _ in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return _open_descriptors()

        # Beyond MAX_IDLE_CONNECTIONS, a burst's connections are closed when given back
        # (SQLite may keep a closed connection's descriptor while others hold the file,
        # and hands it to the next connection it opens): however many bursts of new
        # threads come, the descriptors stay within what one burst of 16 needs, about
        # two per connection (the file and its WAL).
        before = _open_descriptors()
        assert all(burst() <= before + 2 * 16 for _ in range(5))
        assert MAX_IDLE_CONNECTIONS < 16
