"""The one-key commit runs as a statement prepared through libpq (decision 70).

``PreparedStatement`` bypasses psycopg's adaptation, so these tests check what psycopg
would otherwise guarantee: values arrive exactly, errors are psycopg's own classes, a
lost connection is an ``OperationalError``, and a connection that lost its prepared
statements (``DISCARD ALL``, a pooler) gets it prepared again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import statehub
from statehub.backends.postgres import PostgresBackend
from statehub.backends.postgres_prepared import PreparedStatement
from tests.conftest import POSTGRES_URL, postgres_url

_ECHO = PreparedStatement(
    "statehub_test_echo",
    "SELECT %(n)s, %(x)s, %(s)s, %(s)s || '!' WHERE %(n)s > 0",
    {"n": "int8", "x": "float8", "s": "text"},
)


@pytest.fixture
def conn() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        yield connection


def test_values_arrive_exactly_and_rows_are_counted(conn: psycopg.Connection[Any]) -> None:
    exact = PreparedStatement(
        "statehub_test_exact",
        "SELECT 1 WHERE %(n)s = 1099511627776 AND %(x)s = 0.1::float8 AND %(s)s = 'é ✓'",
        {"n": "int8", "x": "float8", "s": "text"},
    )
    assert exact.rows(conn, {"n": 2**40, "x": 0.1, "s": "é ✓"}) == 1
    # The next float after 0.1 is another value on the server too: no digits lost.
    assert exact.rows(conn, {"n": 2**40, "x": math.nextafter(0.1, 1), "s": "é ✓"}) == 0
    assert exact.rows(conn, {"n": 2**40 + 1, "x": 0.1, "s": "é ✓"}) == 0
    assert _ECHO.rows(conn, {"n": 0, "x": 0.1, "s": "x"}) == 0


def test_a_value_round_trips_through_a_table(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TEMP TABLE prepared_echo (n int8, x float8, s text)")
    insert = PreparedStatement(
        "statehub_test_insert",
        "INSERT INTO prepared_echo VALUES (%(n)s, %(x)s, %(s)s) RETURNING n",
        {"n": "int8", "x": "float8", "s": "text"},
    )
    quiet_insert = PreparedStatement(
        "statehub_test_quiet_insert",
        "INSERT INTO prepared_echo VALUES (%(n)s, %(x)s, %(s)s)",
        {"n": "int8", "x": "float8", "s": "text"},
    )
    assert insert.rows(conn, {"n": -(2**62), "x": 1732771234.123456, "s": "a'b\\c"}) == 1
    assert quiet_insert.rows(conn, {"n": 7, "x": None, "s": None}) == 0  # no RETURNING
    assert conn.execute("SELECT n, x, s FROM prepared_echo ORDER BY n").fetchall() == [
        (-(2**62), 1732771234.123456, "a'b\\c"),
        (7, None, None),
    ]


def test_a_server_error_is_psycopgs_own_class(conn: psycopg.Connection[Any]) -> None:
    divide = PreparedStatement("statehub_test_divide", "SELECT 1 / %(n)s", {"n": "int8"})
    with pytest.raises(psycopg.errors.DivisionByZero):
        divide.rows(conn, {"n": 0})
    assert divide.rows(conn, {"n": 1}) == 1  # the connection is usable after it


def test_a_discarded_statement_is_prepared_again(conn: psycopg.Connection[Any]) -> None:
    assert _ECHO.rows(conn, {"n": 1, "x": 1.5, "s": "a"}) == 1
    conn.execute("DEALLOCATE ALL")
    assert _ECHO.rows(conn, {"n": 1, "x": 1.5, "s": "a"}) == 1
    prepared = conn.execute("SELECT name FROM pg_prepared_statements").fetchall()
    assert prepared == [("statehub_test_echo",)]


def test_a_lost_connection_is_an_operational_error(conn: psycopg.Connection[Any]) -> None:
    assert _ECHO.rows(conn, {"n": 1, "x": 1.5, "s": "a"}) == 1
    pid = conn.info.backend_pid
    with psycopg.connect(POSTGRES_URL, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError, match="connection"):
        _ECHO.rows(conn, {"n": 1, "x": 1.5, "s": "a"})


def test_bad_parameters_are_refused_before_anything_is_sent(
    conn: psycopg.Connection[Any],
) -> None:
    with pytest.raises(ValueError, match=r"parameters \['a'\] but types for \['b'\]"):
        PreparedStatement("statehub_test_bad", "SELECT %(a)s", {"b": "int8"})
    with pytest.raises(TypeError, match="not <class 'bool'>"):
        _ECHO.rows(conn, {"n": True, "x": 1.5, "s": "a"})
    with pytest.raises(KeyError, match="'x'"):
        _ECHO.rows(conn, {"n": 1, "s": "a"})


def test_a_put_commits_through_the_prepared_statement() -> None:
    with statehub.open(postgres_url()) as hub:
        backend = hub.backend
        assert isinstance(backend, PostgresBackend)
        agent = hub.agent("writer")
        agent.put("global/a", {"n": 1})
        agent.put("global/a", {"n": 2}, ttl=60)
        # One thread, so the pool's one connection ran both commits.
        names = backend._run(
            lambda c: c.execute("SELECT name FROM pg_prepared_statements").fetchall()
        )
        assert ("statehub_fast_apply_one",) in names
        entry = agent.entry("global/a")
        assert entry is not None
        assert (entry.value, entry.version, entry.updated_by) == ({"n": 2}, 2, "writer")
        assert entry.expires_at is not None
        assert [c.op for c in hub.history(key="global/a")] == ["put", "put"]
