"""One commit at a time per hub and process (decision 71), the wait bounded.

Threads of one process queue in the backend's ``CommitSlot`` instead of racing in the
database. These tests hold the slot with a reducer that blocks inside its commit, and
check that a second commit waits at most ``busy_timeout`` and then fails with
``BackendBusy`` having written nothing, and that it goes through once the slot is free.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import statehub
from tests.conftest import postgres_url

TIMEOUT = 60.0


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'slot.db'}"


URLS: list[Callable[[Path], str]] = [_sqlite, lambda _: postgres_url()]


@contextmanager
def _slot_held(hub: statehub.Hub) -> Iterator[threading.Event]:
    """A thread's dispatch blocked inside its commit until the yielded event is set."""
    entered, release = threading.Event(), threading.Event()

    def blocking(state: Any, action: Any) -> Any:
        entered.set()
        assert release.wait(TIMEOUT)
        return action

    hub.register_reducer("global/slow", blocking)
    holder = threading.Thread(target=hub.agent("holder").dispatch, args=("global/slow", 1))
    holder.start()
    assert entered.wait(TIMEOUT)
    try:
        yield release
    finally:
        release.set()
        holder.join(TIMEOUT)
        assert not holder.is_alive()


@pytest.mark.parametrize("url", URLS, ids=["sqlite", "postgres"])
def test_a_commit_waits_at_most_busy_timeout_for_the_slot(
    url: Callable[[Path], str], tmp_path: Path
) -> None:
    with statehub.open(url(tmp_path), busy_timeout=0.3) as hub:
        other = hub.agent("other")
        with _slot_held(hub):
            head = hub.revision
            with pytest.raises(statehub.BackendBusy, match="another commit of this process"):
                other.put("global/a", 1)
            assert hub.revision == head
            assert other.get("global/a") is None
        assert other.get("global/slow") == 1
        assert other.put("global/a", 2).version == 1


def test_a_commit_queued_behind_the_slot_goes_through_when_it_frees(tmp_path: Path) -> None:
    with statehub.open(_sqlite(tmp_path), busy_timeout=TIMEOUT) as hub:
        done = threading.Event()

        def put() -> None:
            hub.agent("other").put("global/a", 1)
            done.set()

        with _slot_held(hub) as release:
            waiter = threading.Thread(target=put)
            waiter.start()
            assert not done.is_set()
            release.set()
            assert done.wait(TIMEOUT)
            waiter.join(TIMEOUT)
        revisions = [(c.key, c.revision) for c in hub.history()]
        assert revisions == [("global/slow", 1), ("global/a", 2)]
