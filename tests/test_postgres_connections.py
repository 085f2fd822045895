"""The PostgreSQL backend's spare connection (decision 70): kept outside the pool, safely.

Calls one at a time reuse one spare connection instead of the pool's; these tests check
that more threads than the pool holds still all get through, that a spare the server
dropped is replaced without a write applied twice, that a spare kept for the pool's
``max_lifetime`` goes back to the pool, and that closing the hub closes it.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg

import statehub
from statehub.backends.postgres import _MAX_CONNECTIONS, PostgresBackend
from tests.conftest import POSTGRES_URL, postgres_url

TIMEOUT = 120.0


def _backend(hub: statehub.Hub) -> PostgresBackend:
    backend = hub.backend
    assert isinstance(backend, PostgresBackend)
    return backend


def _spare(hub: statehub.Hub) -> psycopg.Connection[Any]:
    spare = _backend(hub)._spare
    assert len(spare) == 1
    return spare[0]


def test_more_threads_than_connections_all_commit() -> None:
    threads, puts = _MAX_CONNECTIONS + 4, 25
    errors: list[BaseException] = []
    with statehub.open(postgres_url(), busy_timeout=TIMEOUT) as hub:
        start = threading.Barrier(threads)

        def writer(number: int) -> None:
            agent = hub.agent(f"w{number}")
            start.wait()
            try:
                for i in range(puts):
                    agent.update("global/counter", lambda v: (v or 0) + 1)
                    agent.put(f"global/w{number}/{i}", i)
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(TIMEOUT)
        assert not any(worker.is_alive() for worker in workers)
        assert errors == []
        reader = hub.agent("reader")
        assert reader.get("global/counter") == threads * puts
        assert hub.revision == 2 * threads * puts
        assert len(_backend(hub)._spare) <= 1


def test_a_dropped_spare_is_replaced_and_the_write_applied_once() -> None:
    with statehub.open(postgres_url(), busy_timeout=TIMEOUT) as hub:
        agent = hub.agent("writer")
        agent.put("global/a", 1)
        dropped = _spare(hub)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (dropped.info.backend_pid,))
        agent.put("global/a", 2)
        assert _spare(hub) is not dropped
        assert [(c.version, c.op) for c in hub.history(key="global/a")] == [(1, "put"), (2, "put")]
        assert agent.get("global/a") == 2


def test_closing_the_hub_closes_the_spare() -> None:
    hub = statehub.open(postgres_url())
    hub.agent("writer").put("global/a", 1)
    spare = _spare(hub)
    hub.close()
    assert spare.closed


def test_a_spare_kept_for_the_pools_max_lifetime_goes_back_to_the_pool() -> None:
    with statehub.open(postgres_url()) as hub:
        backend, agent = _backend(hub), hub.agent("writer")
        agent.put("global/a", 1)
        _spare(hub)
        lifetime = backend._pool.max_lifetime
        backend._pool.max_lifetime = 0.0  # every spare is now past it
        agent.put("global/a", 2)
        assert backend._spare == []
        backend._pool.max_lifetime = lifetime
        agent.put("global/a", 3)
        _spare(hub)
        assert agent.get("global/a") == 3
