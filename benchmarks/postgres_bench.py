"""PostgreSQL and asyncio measurements for ``run.py``.

- put/s through statehub beside raw psycopg doing the same storage work as ONE
  statement (a CTE: upsert into an entries table + insert into a history table),
  autocommit, same server, same durability (``synchronous_commit`` as configured);
- 4 processes writing 4 hubs (one each) against 4 processes writing one hub:
  hubs commit in parallel, one hub's commits are serialized;
- async put/s (``open_async``) on SQLite and PostgreSQL, one task and 8 tasks.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import orjson
import psycopg

import statehub
from statehub.backends.postgres_prepared import PreparedStatement

POSTGRES = os.environ.get("STATEHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_CTX = multiprocessing.get_context("spawn")
TIMEOUT = 300.0


def hub_url(name: str | None = None) -> str:
    """A URL of a fresh hub on the benchmark server."""
    return f"{POSTGRES}?hub={name or 'bench-' + uuid.uuid4().hex}"


def value(i: int) -> dict[str, object]:
    """The small JSON value every put writes."""
    return {"n": i, "by": "bench", "ok": True}


def statehub_puts(count: int) -> float:
    """statehub PostgreSQL put/s, one commit per put, 100 keys."""
    with statehub.open(hub_url()) as hub:
        agent = hub.agent("bench")
        for i in range(100):
            agent.put(f"global/k{i}", value(i))
        started = time.perf_counter()
        for i in range(count):
            agent.put(f"global/k{i % 100}", value(i))
        return count / (time.perf_counter() - started)


_RAW = """
WITH upserted AS (
    INSERT INTO bench_entries (hub, key, value, version) VALUES (1, %(key)s, %(value)s::json, 1)
    ON CONFLICT (hub, key) DO UPDATE SET value = excluded.value,
        version = bench_entries.version + 1
    RETURNING key, version
)
INSERT INTO bench_changes (hub, key, version, value)
SELECT 1, key, version, %(value)s::json FROM upserted
"""


def _raw_tables(conn: psycopg.Connection[Any]) -> None:
    conn.execute("DROP TABLE IF EXISTS bench_entries, bench_changes")
    conn.execute(
        'CREATE TABLE bench_entries (hub bigint, key text COLLATE "C", value json, '
        "version int, PRIMARY KEY (hub, key))"
    )
    conn.execute(
        'CREATE TABLE bench_changes (hub bigint, revision bigserial, key text COLLATE "C",'
        " version int, value json, PRIMARY KEY (hub, revision))"
    )


def _raw_loop(
    count: int, send: Callable[[psycopg.Connection[Any], dict[str, str]], object]
) -> float:
    """put/s of ``send``ing ``_RAW``'s parameters ``count`` times, on fresh raw tables."""
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        _raw_tables(conn)
        started = time.perf_counter()
        for i in range(count):
            data = orjson.dumps(value(i)).decode()
            send(conn, {"key": f"global/k{i % 100}", "value": data})
        return count / (time.perf_counter() - started)


def raw_puts(count: int) -> float:
    """Raw psycopg: the same work as one statement per commit, autocommit."""
    return _raw_loop(count, lambda conn, params: conn.execute(_RAW, params))


def raw_prepared_puts(count: int) -> float:
    """``raw_puts``, the statement run the way statehub runs its own: prepared, via libpq."""
    statement = PreparedStatement("bench_raw", _RAW, {"key": "text", "value": "text"})
    return _raw_loop(count, statement.rows)


_RAW_SAME_SCHEMA = """
WITH head AS (
    UPDATE statehub_hubs SET head = head + 1 WHERE id = %(hub)s RETURNING head AS revision
),
upserted AS (
    INSERT INTO statehub_entries AS e (hub, key, value, version, created_rev, modified_rev,
                                       updated_by, updated_ts, expires_ts, owner, patch_bytes)
    SELECT %(hub)s, %(key)s, %(value)s::json, 1, revision, revision, 'bench', 0, NULL, NULL, 0
    FROM head
    ON CONFLICT (hub, key) DO UPDATE SET value = excluded.value, version = e.version + 1,
        modified_rev = excluded.modified_rev
    RETURNING key, version, modified_rev
)
INSERT INTO statehub_changes (hub, revision, key, op, agent, ts, prev_version, version, value)
SELECT %(hub)s, modified_rev, key, 'put', 'bench', 0, version - 1, version, %(value)s::json
FROM upserted
"""
"""statehub's storage work as one statement: the hub's row counts the revision (and
serializes the hub's commits), the entry is upserted and the change logged."""


def raw_same_schema_puts(count: int) -> float:
    """Raw psycopg, one statement per commit, on statehub's own tables and hub counter."""
    with statehub.open(hub_url()) as hub:
        hub_id = hub.backend._hub  # type: ignore[attr-defined]  # a benchmark may peek
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        started = time.perf_counter()
        for i in range(count):
            data = orjson.dumps(value(i)).decode()
            conn.execute(
                _RAW_SAME_SCHEMA, {"hub": hub_id, "key": f"global/k{i % 100}", "value": data}
            )
        return count / (time.perf_counter() - started)


def _writer(url: str, count: int, barrier: Barrier, results: Queue[float]) -> None:
    with statehub.open(url) as hub:
        agent = hub.agent(f"w{os.getpid()}")
        agent.put("global/warm", 0)
        barrier.wait(TIMEOUT)
        started = time.perf_counter()
        for i in range(count):
            agent.put(f"global/k{i % 100}", value(i))
        results.put(time.perf_counter() - started)


def parallel_puts(urls: list[str], count: int) -> float:
    """Total put/s of one process per URL, ``count`` puts each, started together."""
    barrier = _CTX.Barrier(len(urls))
    results: Queue[float] = _CTX.Queue()
    processes = [_CTX.Process(target=_writer, args=(url, count, barrier, results)) for url in urls]
    for process in processes:
        process.start()
    seconds = [results.get(timeout=TIMEOUT) for _ in processes]
    for process in processes:
        process.join(TIMEOUT)
    return len(urls) * count / max(seconds)


def hubs_in_parallel(count: int) -> tuple[float, float]:
    """(4 processes on 1 hub, 4 processes on 4 hubs): total put/s of each."""
    shared = hub_url()
    one = parallel_puts([shared] * 4, count)
    four = parallel_puts([hub_url() for _ in range(4)], count)
    return one, four


def async_puts(url: str, count: int, tasks: int) -> float:
    """put/s through ``open_async`` with ``tasks`` concurrent tasks."""

    async def main() -> float:
        async with statehub.open_async(url) as hub:
            agents = [hub.agent(f"t{t}") for t in range(tasks)]

            async def run(task: int) -> None:
                for i in range(count // tasks):
                    await agents[task].put(f"global/t{task}/k{i % 100}", value(i))

            started = time.perf_counter()
            await asyncio.gather(*(run(t) for t in range(tasks)))
            return count / (time.perf_counter() - started)

    return asyncio.run(main())
