"""PostgreSQL under faults: a server restart loses no acknowledged write; errors are clear."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

import statehub
from tests.conftest import postgres_url

TIMEOUT = 120.0


def _restart_postgres() -> None:
    versions = sorted(path.name for path in Path("/etc/postgresql").iterdir())
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]
    subprocess.run(command, check=True, timeout=TIMEOUT, capture_output=True)


def test_every_acknowledged_write_survives_a_server_restart() -> None:
    url = postgres_url()
    acknowledged: list[int] = []
    errors: list[BaseException] = []
    progress = threading.Condition()
    stop = threading.Event()

    def writer() -> None:
        with statehub.open(url, busy_timeout=TIMEOUT) as hub:
            agent = hub.agent("writer")
            number = 0
            while not stop.is_set():
                try:
                    agent.put(f"global/w/{number:06d}", number)
                except statehub.StatehubError as exc:
                    errors.append(exc)
                else:
                    with progress:
                        acknowledged.append(number)
                        progress.notify_all()
                number += 1

    def wait_for_acks(count: int) -> None:
        with progress:
            assert progress.wait_for(lambda: len(acknowledged) >= count, TIMEOUT)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for_acks(50)
        before_restart = len(acknowledged)
        _restart_postgres()
        wait_for_acks(before_restart + 50)
    finally:
        stop.set()
        thread.join(TIMEOUT)

    assert errors == []
    with statehub.open(url) as hub:
        stored = hub.agent("checker").scan("global/w/")
    assert all(stored.get(f"global/w/{number:06d}") == number for number in acknowledged)
    assert len(acknowledged) >= before_restart + 50


def test_connection_refused_at_open_names_the_url_with_the_password_masked() -> None:
    with pytest.raises(statehub.BackendError) as refused:
        statehub.open("postgresql://postgres:s3cret@127.0.0.1:1/test?hub=x")
    message = str(refused.value)
    assert "postgresql://postgres:***@127.0.0.1:1/test" in message
    assert "s3cret" not in message
