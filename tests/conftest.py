"""The ``hub`` fixture: one fresh, empty hub per test, on every backend in BACKENDS.

To run the whole suite against another backend, add one line to ``BACKENDS``: an id
and a function that opens a fresh, empty hub given a private temporary directory.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

# The suite's asserts live in an installed module, not a test file: have pytest
# rewrite them too, so failures show the values compared.
pytest.register_assert_rewrite("statehub.testing")

import statehub  # noqa: E402
from statehub.testing.blocking import blocking_hub  # noqa: E402
from statehub.testing.server import ServerProcess  # noqa: E402


class BackendFactory(NamedTuple):
    """How to open a fresh, empty hub on one backend."""

    id: str
    open: Callable[[Path], statehub.Hub]


POSTGRES_URL = os.environ.get("STATEHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
"""The PostgreSQL server the tests use; unreachable means the tests fail, never skip."""


def postgres_url() -> str:
    """A URL of a fresh hub of its own on the test PostgreSQL server."""
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}hub=test-{uuid.uuid4().hex}"


_SERVER: list[ServerProcess] = []


def shared_server() -> ServerProcess:
    """The session's statehub server (a real process over SQLite), started on first use."""
    if not _SERVER:
        storage = Path(tempfile.mkdtemp(prefix="statehub-server-")) / "server.db"
        server = ServerProcess(f"sqlite:///{storage}")
        server.start()
        atexit.register(server.stop)
        _SERVER.append(server)
    return _SERVER[0]


def remote_url() -> str:
    """A URL of a fresh hub of its own on the session's statehub server."""
    return f"{shared_server().base_url}?hub=test-{uuid.uuid4().hex}"


def _remote(tmp_path: Path) -> statehub.Hub:
    return statehub.open(remote_url(), token=shared_server().admin_token)


def _remote_async(tmp_path: Path) -> statehub.Hub:
    return blocking_hub(remote_url(), token=shared_server().admin_token)  # type: ignore[no-any-return]


BACKENDS: list[BackendFactory] = [
    BackendFactory("memory", lambda tmp_path: statehub.open("memory://")),
    BackendFactory("sqlite", lambda tmp_path: statehub.open(f"sqlite:///{tmp_path}/hub.db")),
    BackendFactory("postgres", lambda tmp_path: statehub.open(postgres_url())),
    # The same suite through the asyncio API (see statehub.testing.blocking).
    BackendFactory("memory-async", lambda tmp_path: blocking_hub("memory://")),
    BackendFactory("sqlite-async", lambda tmp_path: blocking_hub(f"sqlite:///{tmp_path}/hub.db")),
    BackendFactory("postgres-async", lambda tmp_path: blocking_hub(postgres_url())),
    # A hub on a statehub server process, through the remote backend (admin token).
    BackendFactory("remote", _remote),
    BackendFactory("remote-async", _remote_async),
]


@pytest.fixture(params=BACKENDS, ids=[backend.id for backend in BACKENDS])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[statehub.Hub]:
    """An open hub, fresh and empty, closed after the test (closing twice is harmless)."""
    factory: BackendFactory = request.param
    opened = factory.open(tmp_path)
    try:
        yield opened
    finally:
        opened.close()
