"""One statement run through libpq directly: prepared once per connection, text parameters.

psycopg's ``execute`` adapts each parameter in its Python layer and builds a cursor and
a result transformer per call. For the statement that commits a one-key put (19
parameters, see ``FAST_APPLY_ONE``) that was about a third of the client's work per
commit, measured in instructions. A :class:`PreparedStatement` skips it: it prepares
its SQL once on each connection (``PQprepare``, parameter types declared) and runs it
with ``PQexecPrepared`` (psycopg's public :mod:`psycopg.pq` wrapper, which releases the
GIL while it waits), every parameter sent as text. Errors come back as psycopg's own
exceptions, so callers handle them as for ``execute``.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Mapping
from typing import Any, cast

import psycopg
from psycopg import pq

__all__ = ["PreparedStatement"]

_OIDS = {"int8": 20, "float8": 701, "text": 25}
"""The parameter types a statement may declare, by name, and their type OIDs."""
_DONE = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
"""Statuses of a statement that ran: it returned rows, or none (no ``RETURNING``)."""
_PARAMETER = re.compile(r"%\((\w+)\)s")
_MISSING_STATEMENT = "26000"
"""SQLSTATE invalid_sql_statement_name: the connection lost its prepared statements
(``DISCARD ALL``, a pooler between us and the server); prepare again."""


def _text(value: object) -> bytes | None:
    """``value`` in PostgreSQL's text input format (``None`` is SQL NULL)."""
    if isinstance(value, str):
        return value.encode()
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return b"%d" % value
    if isinstance(value, float):
        return float.__repr__(value).encode()
    raise TypeError(f"a prepared statement takes str, int, float or None, not {type(value)}")


class PreparedStatement:
    """``sql`` with ``%(name)s`` parameters, run by name through libpq on any connection.

    ``types`` gives each parameter's PostgreSQL type (``int8``, ``float8`` or
    ``text``); a parameter used in several places has that one type in all of them.
    """

    def __init__(self, name: str, sql: str, types: Mapping[str, str]) -> None:
        order: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in order:
                order.append(match[1])
            return f"${order.index(match[1]) + 1}"

        numbered = _PARAMETER.sub(number, sql)
        if set(order) != set(types):
            raise ValueError(f"{name}: parameters {sorted(order)} but types for {sorted(types)}")
        self.name = name.encode()
        self._sql = numbered.encode()
        self._order = tuple(order)
        self._oids = [_OIDS[types[parameter]] for parameter in order]
        self._prepared: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()
        self._lock = threading.Lock()

    def rows(self, conn: psycopg.Connection[Any], params: Mapping[str, object]) -> int:
        """Run the statement on ``conn`` (idle, autocommit); how many rows it returned.

        Raises what psycopg's ``execute`` would: ``OperationalError`` if the
        connection is lost, the matching ``DatabaseError`` for an error of the server.
        """
        # NULL is a None value: libpq takes it (psycopg's own calls pass it); only the
        # stub of exec_prepared leaves None out of its parameter type.
        values = cast(list[bytes], [_text(params[parameter]) for parameter in self._order])
        pgconn = conn.pgconn
        if conn not in self._prepared:
            self._prepare(conn)
        result = pgconn.exec_prepared(self.name, values)
        if result.status in _DONE:
            return result.ntuples
        error = self._error(conn, result)
        if error.sqlstate != _MISSING_STATEMENT:
            raise error
        self._prepare(conn)
        result = pgconn.exec_prepared(self.name, values)
        if result.status not in _DONE:
            raise self._error(conn, result)
        return result.ntuples

    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        result = conn.pgconn.prepare(self.name, self._sql, self._oids)
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise self._error(conn, result)
        with self._lock:
            self._prepared.add(conn)

    @staticmethod
    def _error(conn: psycopg.Connection[Any], result: pq.abc.PGresult) -> psycopg.Error:
        if conn.pgconn.status != pq.ConnStatus.OK:
            message = conn.pgconn.error_message.decode("utf-8", "replace").strip()
            return psycopg.OperationalError(f"the connection was lost: {message}")
        return psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
