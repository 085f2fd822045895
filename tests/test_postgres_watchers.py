"""PostgreSQL commits notify only while someone watches (decision 69): the count must be right.

A commit reads the hub's ``watchers`` count and skips ``pg_notify`` when it is zero, so
a watcher that was not counted would only wake at its 1 s poll. These tests check the
count and the notification itself, across connections and a watcher that dies.
"""

from __future__ import annotations

from typing import Any

import psycopg

import statehub
from statehub.backends.postgres import PostgresBackend
from tests.conftest import POSTGRES_URL, postgres_url


def _backend(hub: statehub.Hub) -> PostgresBackend:
    backend = hub.backend
    assert isinstance(backend, PostgresBackend)
    return backend


def _watchers(hub_id: int) -> int:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        row = conn.execute("SELECT watchers FROM statehub_hubs WHERE id = %s", (hub_id,)).fetchone()
    assert row is not None
    return int(row[0])


def _start_watching(hub: statehub.Hub) -> Any:
    """Make ``hub`` a watcher (as ``hub.watch`` does on its first wait); its connection."""
    backend = _backend(hub)
    backend.wait(backend.head(), timeout=0)
    return backend._listener.conn


def test_a_commit_on_another_connection_notifies_a_counted_watcher() -> None:
    url = postgres_url()
    with statehub.open(url) as watching, statehub.open(url) as writing:
        hub_id = int(_backend(watching)._hub)
        writing.agent("w").put("global/before", 0)
        assert _watchers(hub_id) == 0
        _start_watching(watching)
        assert _watchers(hub_id) == 1
        with psycopg.connect(POSTGRES_URL, autocommit=True) as listener:
            listener.execute(f"LISTEN statehub_{hub_id}")
            revision = writing.agent("w").put("global/after", 1).modified_rev
            heard = next(listener.notifies(timeout=30, stop_after=1), None)
        assert heard is not None
        assert _backend(watching).wait(revision - 1, timeout=30) == revision
    assert _watchers(hub_id) == 0  # closing the hub stopped counting it


def test_a_dead_watcher_is_recounted_by_the_next_one() -> None:
    url = postgres_url()
    with statehub.open(url) as first, statehub.open(url) as second:
        hub_id = int(_backend(first)._hub)
        connection = _start_watching(first)
        assert _watchers(hub_id) == 1
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            # The second argument waits (ms) until the session is gone, locks released.
            admin.execute("SELECT pg_terminate_backend(%s, 30000)", (connection.info.backend_pid,))
        assert _watchers(hub_id) == 1  # stale until someone recounts
        _start_watching(second)
        assert _watchers(hub_id) == 1  # the second, and not the dead first
