"""Message passing across real processes: nothing lost, order kept, restarts survived.

Every sender and receiver is a real OS process (``multiprocessing``, ``spawn``) with
its own hub on one SQLite file or one PostgreSQL hub. Processes start together at a
barrier, report through queues, and every wait has a timeout, so a hang fails
instead of hanging.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import pytest

import statehub
from tests.conftest import postgres_url

TIMEOUT = 120.0
SENDERS = ("sender-0", "sender-1", "sender-2")
PER_SENDER = 50
RECEIVERS = 2
INBOX = "worker"

_CTX = multiprocessing.get_context("spawn")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh hub on a SQLite file, or on the test PostgreSQL server."""
    return f"sqlite:///{tmp_path / 'messages.db'}" if request.param == "sqlite" else postgres_url()


def _sender(url: str, name: str, start: Barrier) -> None:
    with statehub.open(url) as hub:
        agent = hub.agent(name)
        start.wait(TIMEOUT)
        for seq in range(PER_SENDER):
            agent.send(INBOX, {"sender": name, "seq": seq})


def _receiver(url: str, index: int, start: Barrier, stop: Event, reports: Queue[Any]) -> None:
    """Drain the inbox until told to stop; report each message processed, then all of them."""
    with statehub.open(url) as hub:
        agent = hub.agent(INBOX)
        start.wait(TIMEOUT)
        seen: list[tuple[str, int, int]] = []
        while True:
            batch = agent.receive(limit=10, wait=0.2, visibility_timeout=TIMEOUT)
            for message in batch:
                seen.append((message.body["sender"], message.body["seq"], message.deliveries))
                assert agent.ack(message)
                reports.put(("processed", index, message.body["sender"], message.body["seq"]))
            if not batch and stop.is_set():
                break
        reports.put(("done", index, seen))


def _join(processes: Sequence[BaseProcess]) -> None:
    for process in processes:
        process.join(TIMEOUT)
    assert [process.exitcode for process in processes] == [0] * len(processes)


def test_three_senders_two_receivers_lose_nothing_and_keep_each_senders_order(url: str) -> None:
    with statehub.open(url):
        pass  # create the schema / file once, before the processes race to
    start = _CTX.Barrier(len(SENDERS) + RECEIVERS)
    stop = _CTX.Event()
    reports: Queue[Any] = _CTX.Queue()
    senders = [
        _CTX.Process(target=_sender, args=(url, name, start), daemon=True) for name in SENDERS
    ]
    receivers = [
        _CTX.Process(target=_receiver, args=(url, index, start, stop, reports), daemon=True)
        for index in range(RECEIVERS)
    ]
    for process in senders + receivers:
        process.start()
    expected = {(name, seq) for name in SENDERS for seq in range(PER_SENDER)}
    processed: set[tuple[str, int]] = set()
    try:
        while processed != expected:
            kind, _, sender, seq = reports.get(timeout=TIMEOUT)
            assert kind == "processed"
            processed.add((sender, seq))
    finally:
        stop.set()
    views: dict[int, list[tuple[str, int, int]]] = {}
    while len(views) < RECEIVERS:  # past any late report of a message processed again
        report = reports.get(timeout=TIMEOUT)
        if report[0] == "done":
            views[report[1]] = report[2]
    _join([*senders, *receivers])

    everything = [(sender, seq) for seen in views.values() for sender, seq, _ in seen]
    assert set(everything) == expected  # every message processed, none lost
    assert len(everything) == len(expected)  # and, with no deadline missed, once
    for seen in views.values():
        assert {deliveries for _, _, deliveries in seen} <= {1}
        for name in SENDERS:
            mine = [seq for sender, seq, _ in seen if sender == name]
            assert mine == sorted(mine), f"{name}'s order broken within one receiver"

    with statehub.open(url) as hub:
        assert hub.agent(INBOX).receive() == []
        sends = [c for c in hub.history(prefix=f"_inbox/{INBOX}/") if c.label == "send"]
        assert sorted(c.agent for c in sends) == sorted(SENDERS * PER_SENDER)


def _send_and_close(url: str) -> None:
    with statehub.open(url) as hub:
        coordinator = hub.agent("coordinator")
        for number in range(3):
            coordinator.send("researcher", {"step": number})
        coordinator.send_update("writer", "task", "Write report")


def _receive_and_hang(url: str, reports: Queue[Any], visibility: float) -> None:
    """Receive two messages and never acknowledge them: the parent kills this process."""
    hub = statehub.open(url)
    taken = hub.agent("researcher").receive(limit=2, visibility_timeout=visibility)
    reports.put([(message.id, message.body) for message in taken])
    threading.Event().wait(TIMEOUT)  # until killed


def _run(target: Any, *args: Any) -> None:
    process = _CTX.Process(target=target, args=args, daemon=True)
    process.start()
    _join([process])


def test_messages_survive_closing_the_hub_and_are_received_by_a_new_process(url: str) -> None:
    _run(_send_and_close, url)
    with statehub.open(url) as hub:
        researcher, writer = hub.agent("researcher"), hub.agent("writer")
        received = researcher.receive(limit=10)
        assert [(m.sender, m.body, m.deliveries) for m in received] == [
            ("coordinator", {"step": number}, 1) for number in range(3)
        ]
        assert all(researcher.ack(message) for message in received)
        assert writer.view() == {"task": "Write report"}
    with statehub.open(url) as hub:
        assert hub.agent("researcher").receive() == []
        assert hub.agent("writer").view() == {"task": "Write report"}


def test_messages_of_a_killed_receiver_are_delivered_again_after_the_visibility_timeout(
    url: str,
) -> None:
    _run(_send_and_close, url)
    reports: Queue[Any] = _CTX.Queue()
    process = _CTX.Process(target=_receive_and_hang, args=(url, reports, 1.0), daemon=True)
    process.start()
    taken = reports.get(timeout=TIMEOUT)
    os.kill(process.pid or 0, signal.SIGKILL)
    process.join(TIMEOUT)
    assert [body for _, body in taken] == [{"step": 0}, {"step": 1}]

    with statehub.open(url) as hub:
        researcher = hub.agent("researcher")
        received: list[statehub.Message] = []
        while len(received) < 3:
            batch = researcher.receive(limit=10, wait=TIMEOUT, visibility_timeout=TIMEOUT)
            assert batch, "nothing delivered within the wait"
            received += batch
        by_id = {message.id: message for message in received}
        assert len(by_id) == 3
        for message_id, body in taken:
            assert (by_id[message_id].body, by_id[message_id].deliveries) == (body, 2)
        assert sorted(m.body["step"] for m in received) == [0, 1, 2]
        assert all(researcher.ack(message) for message in received)
        assert researcher.receive() == []
